//! Classic BPF as seccomp uses it: the instruction type, the few opcodes the compiler emits,
//! an emitter that lays code out back to front, and the checks the kernel makes on load.
//!
//! The emitter builds the program from its last instruction to its first. A forward jump's
//! target then always exists when the jump is written, so its distance is known at once. A
//! conditional jump reaches at most 255 instructions ahead; a farther target gets a
//! trampoline right after the jump: a copy of the target when it is a `ret` (one instruction,
//! as cheap as a jump), else a `ja` with a 32-bit offset.

use std::collections::HashMap;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// `seccomp_data` offsets: the syscall number, the audit arch, and argument `i`'s halves
/// (little-endian: the low 32 bits come first).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub fn off_arg_lo(index: u8) -> u32 {
    16 + 8 * u32::from(index)
}
pub fn off_arg_hi(index: u8) -> u32 {
    off_arg_lo(index) + 4
}
/// `sizeof(struct seccomp_data)`.
pub const SECCOMP_DATA_LEN: u32 = 64;

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JMP_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JMP_JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub const JMP_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub const JMP_JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// A position in the program under construction, counted from its end. Stays valid while
/// more instructions are put in front.
pub type Label = usize;

/// Builds a program back to front. See the module comment.
#[derive(Default)]
pub struct Emitter {
    rev: Vec<Insn>,
    /// The nearest `ret` of each action value, to share instead of repeating.
    rets: HashMap<u32, Label>,
    /// The nearest trampoline to each far target.
    trampolines: HashMap<Label, Label>,
}

impl Emitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a straight-line instruction (load, ALU) in front; it falls through to the
    /// instruction emitted just before it.
    pub fn op(&mut self, code: u16, k: u32) -> Label {
        self.push(Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        })
    }

    /// A `ret` of `action`, shared with an earlier one when that one is in reach.
    pub fn ret(&mut self, action: u32) -> Label {
        match self.rets.get(&action) {
            Some(&label) if self.distance(label) <= 255 => label,
            _ => {
                let label = self.push(Insn {
                    code: RET_K,
                    jt: 0,
                    jf: 0,
                    k: action,
                });
                self.rets.insert(action, label);
                label
            }
        }
    }

    /// A conditional jump on the accumulator against `k`: to `jt` when true, `jf` when false.
    pub fn jump(&mut self, code: u16, k: u32, mut jt: Label, mut jf: Label) -> Label {
        loop {
            if self.distance(jt) > 255 {
                jt = self.trampoline(jt);
            } else if self.distance(jf) > 255 {
                jf = self.trampoline(jf);
            } else {
                let (dt, df) = (self.distance(jt), self.distance(jf));
                return self.push(Insn {
                    code,
                    jt: dt as u8,
                    jf: df as u8,
                    k,
                });
            }
        }
    }

    /// An unconditional jump to `target` (any distance).
    pub fn goto(&mut self, target: Label) -> Label {
        let k = self.distance(target) as u32;
        self.push(Insn {
            code: JMP_JA,
            jt: 0,
            jf: 0,
            k,
        })
    }

    /// Makes the next instruction put in front flow into `target`: adds a `ja` unless
    /// `target` is the instruction emitted last.
    pub fn fall_into(&mut self, target: Label) {
        if target + 1 != self.rev.len() {
            self.goto(target);
        }
    }

    /// The program in execution order.
    pub fn finish(self) -> Vec<Insn> {
        let mut insns = self.rev;
        insns.reverse();
        insns
    }

    /// How many instructions a jump put in front now would skip to reach `target`.
    fn distance(&self, target: Label) -> usize {
        self.rev.len() - target - 1
    }

    fn push(&mut self, insn: Insn) -> Label {
        self.rev.push(insn);
        self.rev.len() - 1
    }

    /// A stand-in for `target` within reach of the next instruction.
    fn trampoline(&mut self, target: Label) -> Label {
        let insn = self.rev[target];
        if insn.code == RET_K {
            return self.ret(insn.k);
        }
        if let Some(&label) = self.trampolines.get(&target)
            && self.distance(label) <= 255
        {
            return label;
        }
        let label = self.goto(target);
        self.trampolines.insert(target, label);
        label
    }
}

/// Why a program would not load: the checks of the kernel's `bpf_check_classic` and
/// `seccomp_check_filter`, narrowed to the instructions this compiler emits.
pub fn check(insns: &[Insn]) -> Result<(), String> {
    if insns.is_empty() || insns.len() > MAX_INSNS {
        return Err(format!(
            "{} instructions, want 1 to {MAX_INSNS}",
            insns.len()
        ));
    }
    for (pc, insn) in insns.iter().enumerate() {
        let rest = insns.len() - pc - 1;
        let bad = |what: &str| Err(format!("instruction {pc} ({insn:?}): {what}"));
        match insn.code {
            LD_W_ABS => {
                if insn.k % 4 != 0 || insn.k >= SECCOMP_DATA_LEN {
                    return bad("load outside seccomp_data");
                }
            }
            ALU_AND_K | RET_K => {}
            JMP_JA => {
                if insn.k as usize >= rest {
                    return bad("jump past the end");
                }
            }
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K | JMP_JSET_K => {
                if usize::from(insn.jt) >= rest || usize::from(insn.jf) >= rest {
                    return bad("jump past the end");
                }
            }
            _ => return bad("opcode not used by seccomp filters"),
        }
    }
    match insns.last() {
        Some(last) if last.code == RET_K => Ok(()),
        _ => Err("the last instruction is not a return".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_targets_get_trampolines_and_the_program_checks() {
        let mut e = Emitter::new();
        let far_ret = e.ret(0x7fff_0000);
        let far_ld = e.op(LD_W_ABS, OFF_NR);
        for i in 0..300 {
            e.op(ALU_AND_K, i);
        }
        // Both targets are over 255 instructions away.
        e.jump(JMP_JEQ_K, 1, far_ret, far_ld);
        let insns = e.finish();
        check(&insns).unwrap();
        // The jump is followed by a trampoline for each side: a copied ret and a ja that
        // lands on the load.
        assert_eq!(insns[0].code, JMP_JEQ_K);
        let land = |pc: usize, skip: usize| pc + 1 + skip;
        let t = land(0, usize::from(insns[0].jt));
        let f = land(0, usize::from(insns[0].jf));
        assert!(t <= 2 && f <= 2, "trampolines sit right after the jump");
        assert_eq!((insns[t].code, insns[t].k), (RET_K, 0x7fff_0000));
        assert_eq!(insns[f].code, JMP_JA);
        assert_eq!(insns[land(f, insns[f].k as usize)].code, LD_W_ABS);
    }

    #[test]
    fn check_rejects_what_the_kernel_rejects() {
        let ret = Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: 0,
        };
        assert!(check(&[]).is_err());
        assert!(check(&vec![ret; MAX_INSNS + 1]).is_err());
        let jump = Insn {
            code: JMP_JEQ_K,
            jt: 1,
            jf: 0,
            k: 0,
        };
        assert!(check(&[jump, ret]).is_err());
        let load = Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 64,
        };
        assert!(check(&[load, ret]).is_err());
        assert!(check(&[ret, load]).is_err());
        assert!(check(&[Insn { code: 0x07, ..ret }, ret]).is_err());
        check(&[Insn { k: 60, ..load }, ret]).unwrap();
    }
}
