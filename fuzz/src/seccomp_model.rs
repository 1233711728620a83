//! What a seccomp profile means, computed from the profile itself: the reference the compiled
//! filter is checked against. It shares nothing with rind's compiler but the syscall tables
//! and the interpreter that runs the filter; it follows the semantics `docs/seccomp.md` and
//! `src/linux/seccomp/rules.rs` state (runc's with libseccomp):
//!
//! - the architectures are the native one plus those listed of the x86 family (others cannot
//!   occur on this host and are left out); a syscall of another gets KILL_THREAD; on x86_64 without x32, an x32 number does too, except -1 (default action);
//! - rules whose action is the default action do not count; among the others that name the
//!   syscall, the first unconditional one wins; else the first whose conditions all hold
//!   (any of them, when two name the same argument, as runc ORs them; compared on the low 32
//!   bits on x86 and x32); else the default action;
//! - with a default action other than ALLOW, LOG or TRACE, a syscall number above the highest
//!   the profile names for that ABI (any rule) gets ERRNO(ENOSYS), except -1.

use std::collections::HashMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op, LinuxSyscall,
};
use rind::linux::seccomp::fuzzing::{
    Abi, Data, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRACE,
    RET_TRAP, RET_USER_NOTIF, X32_SYSCALL_BIT,
};

pub const AUDIT_X86_64: u32 = 0xc000_003e;
pub const AUDIT_I386: u32 = 0x4000_0003;

/// The value of an action, or `None` when its errnoRet makes the profile invalid.
fn action(a: Act, errno: Option<u32>) -> Option<u32> {
    let data = match (a, errno) {
        (Act::ScmpActErrno | Act::ScmpActTrace, None) => 1,
        (Act::ScmpActErrno | Act::ScmpActTrace, Some(n)) if n <= 0xffff => n,
        (_, Some(_)) => return None,
        (_, None) => 0,
    };
    Some(match a {
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => RET_ERRNO | data,
        Act::ScmpActTrace => RET_TRACE | data,
        Act::ScmpActNotify => RET_USER_NOTIF,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActAllow => RET_ALLOW,
    })
}

/// A profile the model has judged valid.
pub struct Model<'a> {
    default: u32,
    abis: Vec<Abi>,
    rules: Vec<(&'a LinuxSyscall, u32)>,
    /// Per ABI of the filter: the rules naming each syscall number, in profile order, and the
    /// highest number named.
    named: Vec<(Abi, HashMap<u32, Vec<usize>>, Option<u32>)>,
    /// Whether a NOTIFY rule names a syscall (the filter then needs a listener).
    pub notifies: bool,
}

/// The model of `p`, or why rind must refuse to compile it.
pub fn model(p: &LinuxSeccomp) -> Result<Model<'_>, String> {
    let default =
        action(p.default_action(), p.default_errno_ret()).ok_or("bad default errnoRet")?;
    if default == RET_USER_NOTIF {
        return Err("NOTIFY as the default action".into());
    }
    let mut abis = vec![Abi::X86_64];
    for a in p.architectures().as_deref().unwrap_or(&[]) {
        let abi = match a {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX86 => Abi::X86,
            Arch::ScmpArchX32 => Abi::X32,
            // An architecture outside the x86 family cannot occur on this host: left out,
            // as rind (and libseccomp) leave it, so a syscall of it meets the bad-arch check.
            _ => continue,
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    let mut rules = Vec::new();
    let mut notifies = false;
    for r in p.syscalls().as_deref().unwrap_or(&[]) {
        let a = action(r.action(), r.errno_ret()).ok_or("bad rule errnoRet")?;
        if r.args()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|c| c.index() > 5)
        {
            return Err("argument index over 5".into());
        }
        if r.names().iter().any(String::is_empty) {
            return Err("empty syscall name".into());
        }
        // The runtime writes after the filter is in place (runc refuses this too).
        if a == RET_USER_NOTIF && r.names().iter().any(|n| n == "write") {
            return Err("NOTIFY for write".into());
        }
        notifies |= a == RET_USER_NOTIF && !r.names().is_empty();
        rules.push((r, a));
    }
    if notifies && p.listener_path().is_none() {
        return Err("NOTIFY without a listenerPath".into());
    }
    let named = abis
        .iter()
        .map(|&abi| {
            let mut by_nr: HashMap<u32, Vec<usize>> = HashMap::new();
            for (i, (r, _)) in rules.iter().enumerate() {
                for nr in r.names().iter().filter_map(|n| abi.resolve(n)) {
                    let list = by_nr.entry(nr).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
            let highest = by_nr.keys().max().copied();
            (abi, by_nr, highest)
        })
        .collect();
    Ok(Model {
        default,
        abis,
        rules,
        named,
        notifies,
    })
}

fn holds(op: Op, arg: u64, value: u64, two: u64, is_32bit: bool) -> bool {
    let cut = |v: u64| if is_32bit { v & 0xffff_ffff } else { v };
    let (arg, value, two) = (cut(arg), cut(value), cut(two));
    match op {
        Op::ScmpCmpNe => arg != value,
        Op::ScmpCmpLt => arg < value,
        Op::ScmpCmpLe => arg <= value,
        Op::ScmpCmpEq => arg == value,
        Op::ScmpCmpGe => arg >= value,
        Op::ScmpCmpGt => arg > value,
        Op::ScmpCmpMaskedEq => arg & value == two,
    }
}

impl Model<'_> {
    /// What the filter must return for `d`.
    pub fn expected(&self, d: &Data) -> u32 {
        let abi = match (d.arch, d.nr & X32_SYSCALL_BIT != 0) {
            (AUDIT_X86_64, false) => Abi::X86_64,
            (AUDIT_X86_64, true) => Abi::X32,
            (AUDIT_I386, _) => Abi::X86,
            _ => return RET_KILL_THREAD,
        };
        if !self.abis.contains(&abi) {
            // x32 shares x86_64's audit arch, which is always covered: there, -1 (a tracer's
            // skipped syscall) gets the default action.
            return if abi == Abi::X32 && d.nr == u32::MAX {
                self.default
            } else {
                RET_KILL_THREAD
            };
        }
        let (_, by_nr, highest) = self
            .named
            .iter()
            .find(|(a, _, _)| *a == abi)
            .expect("an ABI of the filter");
        let counted = || {
            by_nr
                .get(&d.nr)
                .into_iter()
                .flatten()
                .map(|&i| &self.rules[i])
                .filter(|(_, a)| *a != self.default)
        };
        let unconditional = |r: &LinuxSyscall| r.args().as_deref().unwrap_or(&[]).is_empty();
        if let Some((_, a)) = counted().find(|(r, _)| unconditional(r)) {
            return *a;
        }
        for (r, a) in counted() {
            let conds = r.args().as_deref().unwrap_or(&[]);
            let one = |c: &oci_spec::runtime::LinuxSeccompArg| {
                holds(
                    c.op(),
                    d.args[c.index()],
                    c.value(),
                    c.value_two().unwrap_or(0),
                    matches!(abi, Abi::X86 | Abi::X32),
                )
            };
            // Conditions are ANDed, unless two name the same argument: then each is a rule of
            // its own and they are ORed, as runc makes them (and profiles are written for it).
            let repeated = conds
                .iter()
                .enumerate()
                .any(|(i, c)| conds[..i].iter().any(|e| e.index() == c.index()));
            let matched = if repeated {
                conds.iter().any(one)
            } else {
                conds.iter().all(one)
            };
            if matched {
                return *a;
            }
        }
        let enosys = !matches!(self.default & 0xffff_0000, RET_ALLOW | RET_LOG | RET_TRACE);
        match highest {
            Some(h) if enosys && d.nr > *h && d.nr != u32::MAX => RET_ERRNO | libc::ENOSYS as u32,
            _ => self.default,
        }
    }

    /// Inputs worth asking about: each named syscall and its neighbours on every ABI, the ABI
    /// boundaries, an unknown architecture, and argument values at and next to each
    /// condition's, with `noise` for the other arguments.
    pub fn probes(&self, noise: &mut impl FnMut() -> u64, max: usize) -> Vec<Data> {
        let mut nrs = vec![
            0,
            1,
            X32_SYSCALL_BIT - 1,
            X32_SYSCALL_BIT,
            u32::MAX - 1,
            u32::MAX,
        ];
        let mut out = Vec::new();
        for (r, _) in &self.rules {
            for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
                for nr in r.names().iter().filter_map(|n| abi.resolve(n)) {
                    nrs.extend([nr.wrapping_sub(1), nr, nr.wrapping_add(1)]);
                    for c in r.args().as_deref().unwrap_or(&[]) {
                        for v in [c.value(), c.value_two().unwrap_or(0)] {
                            for arg in [
                                v,
                                v.wrapping_sub(1),
                                v.wrapping_add(1),
                                v ^ (1 << 32),
                                noise(),
                            ] {
                                if out.len() >= max / 2 {
                                    break;
                                }
                                let mut d = Data::new(abi.audit_arch(), nr);
                                d.args = [noise(), noise(), noise(), noise(), noise(), noise()];
                                d.args[c.index().min(5)] = arg;
                                out.push(d);
                            }
                        }
                    }
                }
            }
        }
        nrs.sort_unstable();
        nrs.dedup();
        // Keep the boundaries and a spread of the named numbers within the budget.
        let keep = (max.saturating_sub(out.len()) / 3).max(6);
        if nrs.len() > keep {
            let step = nrs.len().div_ceil(keep);
            nrs = nrs
                .iter()
                .copied()
                .step_by(step)
                .chain([0, u32::MAX])
                .collect();
        }
        for nr in nrs {
            for arch in [AUDIT_X86_64, AUDIT_I386, 0xc000_00b7] {
                let mut d = Data::new(arch, nr);
                d.args = [noise(), 0, noise(), 0, noise(), 0];
                out.push(d);
            }
        }
        out
    }
}
