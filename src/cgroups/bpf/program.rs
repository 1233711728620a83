//! The eBPF device filter for cgroup v2, written as raw instructions.
//!
//! The kernel runs the program (type `BPF_PROG_TYPE_CGROUP_DEVICE`) on every open, mknod and
//! device access by a task of the cgroup, with `r1` pointing at
//!
//! ```text
//! struct bpf_cgroup_dev_ctx { u32 access_type; /* (access << 16) | type */ u32 major; u32 minor; };
//! ```
//!
//! and allows the access when the program returns 1. The program is one block per exception of
//! the [`DeviceTable`], then the default:
//!
//! ```text
//!   r2 = type   r3 = access   r4 = major   r5 = minor
//! block k:
//!   if r2 != kind                       goto block k+1
//!   allow block: if r3 & ~access != 0   goto block k+1   (every requested access granted)
//!   deny block:  if r3 & access == 0    goto block k+1   (any requested access shared)
//!   if r4 != major                      goto block k+1   (omitted for *)
//!   if r5 != minor                      goto block k+1   (omitted for *)
//!   return 1 (allow) or 0 (deny)
//! end:
//!   return default
//! ```
//!
//! Every exception has the action opposite to the default, so their order does not matter.

use crate::cgroups::devices::{ACC_ALL, DeviceTable};
use crate::cgroups::{CgroupError, Result};

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

// Instruction classes, sizes, modes and operations from include/uapi/linux/bpf_common.h.
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_W: u8 = 0x00;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;
pub const BPF_AND: u8 = 0x50;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_EXIT: u8 = 0x90;

impl Insn {
    /// The 8 bytes the kernel reads: code, dst (low nibble) and src (high nibble), offset,
    /// immediate, little-endian fields in host order.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }

    /// `dst = *(u32 *)(src + off)`.
    fn load_word(dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: BPF_LDX | BPF_MEM | BPF_W,
            dst,
            src,
            off,
            imm: 0,
        }
    }
    /// 32-bit `dst op= imm`.
    fn alu_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: BPF_ALU | op | BPF_K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    /// 32-bit `dst = src`.
    fn mov_reg(dst: u8, src: u8) -> Insn {
        Insn {
            code: BPF_ALU | BPF_MOV | BPF_X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }
    /// `if dst op imm goto +off`; the offset is patched once the block length is known.
    fn jump_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: BPF_JMP | op | BPF_K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    fn exit() -> Insn {
        Insn {
            code: BPF_JMP | BPF_EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }
}

/// The kernel's device numbers fit 12 (major) and 20 (minor) bits; the program compares them as
/// sign-extended 32-bit immediates, so anything above `i32::MAX` could never match correctly.
fn imm(n: u32, what: &str) -> Result<i32> {
    i32::try_from(n)
        .map_err(|_| CgroupError::Invalid(format!("device {what} number {n} is out of range")))
}

/// Compiles a device table to the filter program.
pub fn device_program(table: &DeviceTable) -> Result<Vec<Insn>> {
    let mut p = vec![
        Insn::load_word(2, 1, 0),
        Insn::alu_imm(BPF_AND, 2, 0xffff),
        Insn::load_word(3, 1, 0),
        Insn::alu_imm(BPF_RSH, 3, 16),
        Insn::load_word(4, 1, 4),
        Insn::load_word(5, 1, 8),
    ];
    let action = i32::from(!table.default_allow);
    for (key, &access) in &table.exceptions {
        let mut block = vec![Insn::jump_imm(BPF_JNE, 2, key.kind as i32)];
        if access != ACC_ALL {
            if table.default_allow {
                block.push(Insn::mov_reg(1, 3));
                block.push(Insn::alu_imm(BPF_AND, 1, i32::from(access)));
                block.push(Insn::jump_imm(BPF_JEQ, 1, 0));
            } else {
                block.push(Insn::jump_imm(BPF_JSET, 3, i32::from(ACC_ALL & !access)));
            }
        }
        if let Some(m) = key.major {
            block.push(Insn::jump_imm(BPF_JNE, 4, imm(m, "major")?));
        }
        if let Some(m) = key.minor {
            block.push(Insn::jump_imm(BPF_JNE, 5, imm(m, "minor")?));
        }
        block.push(Insn::alu_imm(BPF_MOV, 0, action));
        block.push(Insn::exit());
        // Every jump leaves the block: its target is the instruction after the block's end.
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.code & 0x07 == BPF_JMP && insn.code != BPF_JMP | BPF_EXIT {
                insn.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(Insn::alu_imm(BPF_MOV, 0, i32::from(table.default_allow)));
    p.push(Insn::exit());
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::*;

    /// Runs a device program the way the kernel would, for the instructions it uses.
    fn run(prog: &[Insn], kind: DeviceKind, access: u8, major: u32, minor: u32) -> u64 {
        let ctx = [(u32::from(access) << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = prog[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                0x61 => {
                    assert_eq!(s, 1, "loads only from the context");
                    r[d] = u64::from(ctx[(i.off / 4) as usize]);
                }
                0x54 => r[d] = u64::from(r[d] as u32 & i.imm as u32),
                0x74 => r[d] = u64::from((r[d] as u32) >> i.imm),
                0xb4 => r[d] = u64::from(i.imm as u32),
                0xbc => r[d] = u64::from(r[s] as u32),
                0x15 | 0x45 | 0x55 => {
                    let k = i.imm as i64 as u64;
                    let jump = match i.code {
                        0x15 => r[d] == k,
                        0x45 => r[d] & k != 0,
                        _ => r[d] != k,
                    };
                    if jump {
                        pc += i.off as usize;
                    }
                }
                0x95 => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
        panic!("program did not exit");
    }

    fn table(rules: &[(bool, &str)]) -> DeviceTable {
        let mut t = DeviceTable::default();
        for (allow, line) in rules {
            t.apply(parse_v1_line(line, *allow).unwrap()).unwrap();
        }
        t
    }

    /// Checks the program against the table's own answer for every device and access mix.
    fn assert_program_agrees(t: &DeviceTable) {
        let prog = device_program(t).unwrap();
        for kind in [DeviceKind::Block, DeviceKind::Char] {
            for major in [1, 5, 7, 136] {
                for minor in [0, 3, 5, 9] {
                    for access in 1..=ACC_ALL {
                        assert_eq!(
                            run(&prog, kind, access, major, minor) == 1,
                            t.permits(kind, major, minor, access),
                            "{kind:?} {major}:{minor} {} in {t:?}",
                            access_string(access)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn runc_default_rules_compile_to_an_allow_list() {
        let t = table(&[
            (false, "a *:* rwm"),
            (true, "c 1:3 rwm"),
            (true, "c 1:5 rwm"),
            (true, "c 136:* rwm"),
            (true, "c 5:0 r"),
        ]);
        assert_program_agrees(&t);
        let prog = device_program(&t).unwrap();
        assert_eq!(run(&prog, DeviceKind::Char, ACC_READ | ACC_WRITE, 1, 3), 1);
        assert_eq!(run(&prog, DeviceKind::Char, ACC_READ, 1, 9), 0);
        assert_eq!(run(&prog, DeviceKind::Char, ACC_WRITE, 5, 0), 0);
    }

    #[test]
    fn deny_lists_and_partial_access_agree_with_the_table() {
        assert_program_agrees(&table(&[(false, "c 1:3 w"), (false, "b *:* m")]));
        assert_program_agrees(&table(&[(false, "a *:* rwm"), (true, "b 7:* rw")]));
        assert_program_agrees(&table(&[]));
        assert_program_agrees(&table(&[(false, "a *:* rwm")]));
        assert_program_agrees(&table(&[
            (false, "a *:* rwm"),
            (true, "c *:5 m"),
            (true, "c 1:* r"),
        ]));
    }

    #[test]
    fn one_rule_compiles_to_the_expected_instructions() {
        let prog = device_program(&table(&[(false, "a *:* rwm"), (true, "c 1:3 r")])).unwrap();
        let codes: Vec<(u8, u8, i16, i32)> =
            prog.iter().map(|i| (i.code, i.dst, i.off, i.imm)).collect();
        assert_eq!(
            codes,
            vec![
                (0x61, 2, 0, 0),
                (0x54, 2, 0, 0xffff),
                (0x61, 3, 0, 0),
                (0x74, 3, 0, 16),
                (0x61, 4, 4, 0),
                (0x61, 5, 8, 0),
                (0x55, 2, 5, 2), // not a char device: skip the 5 remaining block insns
                (0x45, 3, 4, 5), // asks for w or m
                (0x55, 4, 3, 1), // major
                (0x55, 5, 2, 3), // minor
                (0xb4, 0, 0, 1),
                (0x95, 0, 0, 0),
                (0xb4, 0, 0, 0),
                (0x95, 0, 0, 0),
            ]
        );
        assert_eq!(prog[7].encode(), [0x45, 0x03, 4, 0, 5, 0, 0, 0]);
    }

    #[test]
    fn numbers_beyond_32_bit_signed_are_refused() {
        let t = table(&[(false, "a *:* rwm"), (true, "c 4294967295:1 r")]);
        assert!(device_program(&t).is_err());
    }
}
