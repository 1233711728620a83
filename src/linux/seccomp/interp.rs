//! A tiny classic-BPF interpreter for the unit tests: it runs a compiled filter on a
//! `seccomp_data` and returns the action, so tests check what a filter does, not how its
//! instructions happen to be laid out.

use super::bpf::{self, Insn};

/// The kernel's `struct seccomp_data`, minus the instruction pointer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Data {
    pub fn new(arch: u32, nr: u32) -> Self {
        Data {
            nr,
            arch,
            args: [0; 6],
        }
    }

    fn word(&self, offset: u32) -> u32 {
        match offset {
            bpf::OFF_NR => self.nr,
            bpf::OFF_ARCH => self.arch,
            8 | 12 => 0, // instruction pointer
            _ => {
                let index = ((offset - 16) / 8) as usize;
                let value = self.args[index];
                if offset.is_multiple_of(8) {
                    value as u32
                } else {
                    (value >> 32) as u32
                }
            }
        }
    }
}

/// Runs `prog` on `data`. Panics on an opcode outside `bpf::check`'s set or on a program
/// that runs off its end; the tests check programs with `bpf::check` once, up front.
pub fn run(prog: &[Insn], data: &Data) -> u32 {
    run_counted(prog, data).0
}

/// Like [`run`], and also returns how many instructions were executed.
pub fn run_counted(prog: &[Insn], data: &Data) -> (u32, usize) {
    let mut acc: u32 = 0;
    let mut executed = 0;
    let mut pc = 0usize;
    loop {
        let insn = prog[pc];
        pc += 1;
        executed += 1;
        let taken = |cond: bool| usize::from(if cond { insn.jt } else { insn.jf });
        match insn.code {
            bpf::LD_W_ABS => acc = data.word(insn.k),
            bpf::ALU_AND_K => acc &= insn.k,
            bpf::JMP_JA => pc += insn.k as usize,
            bpf::JMP_JEQ_K => pc += taken(acc == insn.k),
            bpf::JMP_JGT_K => pc += taken(acc > insn.k),
            bpf::JMP_JGE_K => pc += taken(acc >= insn.k),
            bpf::JMP_JSET_K => pc += taken(acc & insn.k != 0),
            bpf::RET_K => return (insn.k, executed),
            other => panic!("opcode {other:#x} at {}", pc - 1),
        }
    }
}
