//! Generates the BPF program from a lowered [`Ruleset`].
//!
//! Layout, in execution order:
//!
//! ```text
//! ld  arch
//! jeq AUDIT_ARCH_X86_64 -> x86_64 block     (the native ABI first)
//! jeq AUDIT_ARCH_I386   -> x86 block
//! ret BAD_ARCH_ACTION                         (an architecture the filter does not cover)
//! x86_64 block:   ld nr
//!                 jge 0x40000000 -> x32 tree, else x86_64 tree
//!                 (without x32 in the filter, x32 numbers get BAD_ARCH_ACTION, except
//!                  nr == -1, which tracers use to skip a syscall: that gets the default)
//! each tree:      a binary search over the syscall numbers, cut into ranges with one
//!                 outcome each (a return, or a chain of argument checks); gaps get the
//!                 default action, numbers above the profile's highest get ENOSYS
//! ```
//!
//! A binary search costs one `jge` per range boundary and about log2(ranges) of them per
//! syscall, where a linear chain costs one `jeq` per syscall and up to hundreds per call.
//! Measured on Docker's default profile (the test `docker_default_profile_decides_a_syscall_
//! in_a_few_instructions`): an x86_64 syscall runs 11 instructions on average and 15 at most,
//! and the filter for all three ABIs is 357 instructions (see docs/seccomp.md).

use super::bpf::{
    ALU_AND_K, Emitter, Insn, JMP_JEQ_K, JMP_JGE_K, JMP_JGT_K, LD_W_ABS, Label, OFF_ARCH, OFF_NR,
    off_arg_hi, off_arg_lo,
};
use super::rules::{AbiRules, BAD_ARCH_ACTION, Cond, CondRule, Outcome, RET_ERRNO, Ruleset};
use super::syscalls::{Abi, X32_SYSCALL_BIT};
use oci_spec::runtime::LinuxSeccompOperator as Op;

/// Generates the program. Its length may exceed the kernel's limit; the caller checks.
pub fn generate(rules: &Ruleset) -> Vec<Insn> {
    let mut e = Emitter::new();
    let default = rules.default_action;

    // Group the ABIs by the audit arch the kernel reports, keeping the native one first.
    let mut groups: Vec<(u32, Vec<&AbiRules>)> = Vec::new();
    for abi in &rules.abis {
        let arch = abi.abi.audit_arch();
        match groups.iter_mut().find(|(a, _)| *a == arch) {
            Some((_, members)) => members.push(abi),
            None => groups.push((arch, vec![abi])),
        }
    }

    // Blocks are emitted last first, so that each dispatch jump finds its target.
    let mut blocks = Vec::with_capacity(groups.len());
    for (_, members) in groups.iter().rev() {
        blocks.push(arch_block(&mut e, members, default));
    }
    blocks.reverse();

    let mut next = e.ret(BAD_ARCH_ACTION);
    for ((arch, _), block) in groups.iter().zip(blocks).rev() {
        next = e.jump(JMP_JEQ_K, *arch, block, next);
    }
    e.fall_into(next);
    e.op(LD_W_ABS, OFF_ARCH);
    e.finish()
}

/// The code for one audit arch: x86 alone, or x86_64 and/or x32 told apart by the x32 bit.
fn arch_block(e: &mut Emitter, members: &[&AbiRules], default: u32) -> Label {
    let find = |abi: Abi| members.iter().find(|m| m.abi == abi).copied();
    let entry = match (find(Abi::X86_64), find(Abi::X32)) {
        (None, None) => tree(e, members[0], 0, u32::MAX, default),
        (Some(x64), Some(x32)) => {
            let high = tree(e, x32, X32_SYSCALL_BIT, u32::MAX, default);
            let low = tree(e, x64, 0, X32_SYSCALL_BIT - 1, default);
            e.jump(JMP_JGE_K, X32_SYSCALL_BIT, high, low)
        }
        (Some(x64), None) => {
            let (dflt, bad) = (e.ret(default), e.ret(BAD_ARCH_ACTION));
            let high = e.jump(JMP_JEQ_K, u32::MAX, dflt, bad);
            let low = tree(e, x64, 0, X32_SYSCALL_BIT - 1, default);
            e.jump(JMP_JGE_K, X32_SYSCALL_BIT, high, low)
        }
        (None, Some(x32)) => {
            let high = tree(e, x32, X32_SYSCALL_BIT, u32::MAX, default);
            let bad = e.ret(BAD_ARCH_ACTION);
            e.jump(JMP_JGE_K, X32_SYSCALL_BIT, high, bad)
        }
    };
    e.fall_into(entry);
    e.op(LD_W_ABS, OFF_NR)
}

/// What one range of syscall numbers does.
#[derive(Clone, PartialEq)]
enum Leaf<'a> {
    Ret(u32),
    Chain(&'a [CondRule]),
}

/// Cuts `[lo, hi]` into ranges of equal outcome, in order.
fn ranges(rules: &AbiRules, lo: u32, hi: u32, default: u32) -> Vec<(u32, Leaf<'_>)> {
    fn add<'a>(out: &mut Vec<(u32, Leaf<'a>)>, start: u64, leaf: Leaf<'a>) {
        if out.last().map(|(_, l)| l) != Some(&leaf) {
            out.push((start as u32, leaf));
        }
    }
    let mut out = Vec::new();
    let mut cursor = u64::from(lo);
    for (&nr, outcome) in rules.syscalls.range(lo..=hi) {
        if u64::from(nr) > cursor {
            add(&mut out, cursor, Leaf::Ret(default));
        }
        let leaf = match outcome {
            Outcome::Ret(action) => Leaf::Ret(*action),
            Outcome::Chain(chain) => Leaf::Chain(chain),
        };
        add(&mut out, u64::from(nr), leaf);
        cursor = u64::from(nr) + 1;
    }
    let hi = u64::from(hi);
    if let Some(max) = rules.enosys_above.map(u64::from).filter(|&m| m < hi) {
        if cursor <= max {
            add(&mut out, cursor, Leaf::Ret(default));
        }
        add(
            &mut out,
            max + 1,
            Leaf::Ret(RET_ERRNO | libc::ENOSYS as u32),
        );
        cursor = hi.min(u64::from(u32::MAX - 1)) + 1;
    }
    // What is left is the default: gaps, and -1, which tracers use to skip a syscall.
    if cursor <= hi {
        add(&mut out, cursor, Leaf::Ret(default));
    }
    out
}

/// A binary search over the ranges of `[lo, hi]`; returns its entry.
fn tree(e: &mut Emitter, rules: &AbiRules, lo: u32, hi: u32, default: u32) -> Label {
    let ranges = ranges(rules, lo, hi, default);
    search(e, &ranges, rules.abi, default)
}

fn search(e: &mut Emitter, ranges: &[(u32, Leaf)], abi: Abi, default: u32) -> Label {
    if let [(_, leaf)] = ranges {
        return match leaf {
            Leaf::Ret(action) => e.ret(*action),
            Leaf::Chain(chain) => emit_chain(e, chain, abi, default),
        };
    }
    let mid = ranges.len() / 2;
    let upper = search(e, &ranges[mid..], abi, default);
    let lower = search(e, &ranges[..mid], abi, default);
    e.jump(JMP_JGE_K, ranges[mid].0, upper, lower)
}

/// Tries each rule in order; the first whose conditions all hold returns its action.
fn emit_chain(e: &mut Emitter, chain: &[CondRule], abi: Abi, default: u32) -> Label {
    let mut next = e.ret(default);
    for rule in chain.iter().rev() {
        let mut entry = e.ret(rule.action);
        for cond in rule.conds.iter().rev() {
            entry = emit_cond(e, cond, entry, next, abi.is_32bit());
        }
        next = entry;
    }
    next
}

/// One comparison: jumps to `pass` when it holds and to `fail` when not. On 64-bit ABIs the
/// high halves decide first and the low halves break a tie; on 32-bit ABIs only the low
/// halves count, as with libseccomp.
fn emit_cond(e: &mut Emitter, c: &Cond, pass: Label, fail: Label, is_32bit: bool) -> Label {
    let (v_hi, v_lo) = ((c.value >> 32) as u32, c.value as u32);
    let (lo, hi) = (off_arg_lo(c.index), off_arg_hi(c.index));
    // `ordered(jump, t, f)`: unsigned comparison of the whole argument with the value,
    // where `jump` (JGT or JGE) on the low half decides between `t` and `f` on a tie.
    let ordered = |e: &mut Emitter, low_jump: u16, t: Label, f: Label| {
        e.jump(low_jump, v_lo, t, f);
        let load_low = e.op(LD_W_ABS, lo);
        if is_32bit {
            return load_low;
        }
        let tie = e.jump(JMP_JEQ_K, v_hi, load_low, f);
        e.jump(JMP_JGT_K, v_hi, t, tie);
        e.op(LD_W_ABS, hi)
    };
    match c.op {
        Op::ScmpCmpGt => ordered(e, JMP_JGT_K, pass, fail),
        Op::ScmpCmpGe => ordered(e, JMP_JGE_K, pass, fail),
        Op::ScmpCmpLe => ordered(e, JMP_JGT_K, fail, pass),
        Op::ScmpCmpLt => ordered(e, JMP_JGE_K, fail, pass),
        Op::ScmpCmpEq => equal(e, lo, hi, (v_hi, v_lo), None, pass, fail, is_32bit),
        Op::ScmpCmpNe => equal(e, lo, hi, (v_hi, v_lo), None, fail, pass, is_32bit),
        Op::ScmpCmpMaskedEq => {
            let (d_hi, d_lo) = ((c.value_two >> 32) as u32, c.value_two as u32);
            equal(
                e,
                lo,
                hi,
                (d_hi, d_lo),
                Some((v_hi, v_lo)),
                pass,
                fail,
                is_32bit,
            )
        }
    }
}

/// `(arg & mask) == datum` (no mask: `arg == datum`), to `t` when equal and `f` when not.
#[allow(clippy::too_many_arguments)]
fn equal(
    e: &mut Emitter,
    lo: u32,
    hi: u32,
    (d_hi, d_lo): (u32, u32),
    mask: Option<(u32, u32)>,
    t: Label,
    f: Label,
    is_32bit: bool,
) -> Label {
    let half = |e: &mut Emitter, offset: u32, datum: u32, mask: Option<u32>, t: Label| {
        e.jump(JMP_JEQ_K, datum, t, f);
        if let Some(m) = mask {
            e.op(ALU_AND_K, m);
        }
        e.op(LD_W_ABS, offset)
    };
    let low = half(e, lo, d_lo, mask.map(|m| m.1), t);
    // A high half masked to nothing against a zero datum always matches (clone's flags).
    if is_32bit || (mask.is_some_and(|m| m.0 == 0) && d_hi == 0) {
        return low;
    }
    half(e, hi, d_hi, mask.map(|m| m.0), low)
}
