//! Lowers the spec's `linux.seccomp` to what the code generator needs: for each ABI of the
//! filter, a map from syscall number to what happens on that syscall, plus the default
//! action, the kernel flags, and the range that gets ENOSYS.
//!
//! The semantics, where the runtime spec leaves them open, follow runc with libseccomp:
//! - a rule whose action equals the default action is dropped (runc does, so that a later
//!   rule for the same syscall still applies);
//! - a syscall with an unconditional rule takes that rule's action and ignores its
//!   conditional rules, whatever their order (libseccomp keeps the unconditional one);
//! - otherwise the syscall's conditional rules are tried in spec order and the first whose
//!   conditions all hold wins; if none holds, the default action applies;
//! - several conditions in one rule are ANDed, unless two of them name the same argument:
//!   then, as runc does, each condition of the rule becomes a rule of its own, and they are
//!   ORed (profiles are written for runc: `arg0 == 100, arg0 == 9001` means either);
//! - a name that an ABI lacks is skipped for that ABI; a name no ABI of the filter knows is
//!   logged at debug level and skipped;
//! - when the default action is not ALLOW, LOG or TRACE, syscall numbers above the highest
//!   one the profile names get ERRNO(ENOSYS) instead of the default, as runc's patched
//!   filters do, so that programs fall back from syscalls newer than the profile.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::SeccompError;
use super::syscalls::Abi;

/// `SECCOMP_RET_*` action values.
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `SECCOMP_FILTER_FLAG_*`.
pub const FLAG_TSYNC: u32 = 1 << 0;
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// What a syscall of an architecture the filter does not cover gets: libseccomp's default
/// bad-architecture action, SCMP_ACT_KILL (kill the thread), which runc keeps.
pub const BAD_ARCH_ACTION: u32 = RET_KILL_THREAD;

/// The ABI a process of this build runs natively; libseccomp always adds it to a filter.
const NATIVE: Option<Abi> = if cfg!(target_arch = "x86_64") {
    Some(Abi::X86_64)
} else if cfg!(target_arch = "x86") {
    Some(Abi::X86)
} else {
    None
};

/// One argument comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: LinuxSeccompOperator,
    pub value: u64,
    pub value_two: u64,
}

/// A rule with conditions: its action applies when all conditions hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondRule {
    pub conds: Vec<Cond>,
    pub action: u32,
}

/// What happens on one syscall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Always this action.
    Ret(u32),
    /// The first rule whose conditions hold, else the default action.
    Chain(Vec<CondRule>),
}

/// The rules of one ABI.
#[derive(Clone, Debug)]
pub struct AbiRules {
    pub abi: Abi,
    /// Syscall number (as `seccomp_data.nr` carries it) to outcome.
    pub syscalls: BTreeMap<u32, Outcome>,
    /// Numbers above this one get ERRNO(ENOSYS); see the module comment.
    pub enosys_above: Option<u32>,
}

/// A profile ready for code generation.
#[derive(Clone, Debug)]
pub struct Ruleset {
    pub default_action: u32,
    /// The ABIs of the filter, the native one first.
    pub abis: Vec<AbiRules>,
    /// `SECCOMP_FILTER_FLAG_*` bits to install with.
    pub flags: u32,
}

#[derive(Default)]
struct Entry {
    unconditional: Option<u32>,
    conditional: Vec<CondRule>,
}

/// Checks `spec` and lowers it. Errors name the offending field.
pub fn lower(spec: &LinuxSeccomp) -> Result<Ruleset, SeccompError> {
    let default_action = action_value(
        spec.default_action(),
        spec.default_errno_ret(),
        "defaultAction",
    )?;
    if default_action == RET_USER_NOTIF {
        return Err(invalid(
            "defaultAction SCMP_ACT_NOTIFY is not allowed: the runtime itself would block",
        ));
    }
    let abis = abis(spec.architectures().as_deref().unwrap_or(&[]))?;

    let mut entries: Vec<BTreeMap<u32, Entry>> = abis.iter().map(|_| BTreeMap::new()).collect();
    let mut highest: Vec<Option<u32>> = vec![None; abis.len()];
    let mut notifies = false;
    for (i, rule) in spec.syscalls().as_deref().unwrap_or(&[]).iter().enumerate() {
        let at = format!("syscalls[{i}]");
        let action = action_value(rule.action(), rule.errno_ret(), &at)?;
        let conds = conditions(rule.args().as_deref().unwrap_or(&[]), &at)?;
        let groups = condition_groups(conds);
        for name in rule.names() {
            if name.is_empty() {
                return Err(invalid(format!("{at}: empty syscall name")));
            }
            // The runtime writes to the container's stdio and sync pipe after the filter is in
            // place; a write that waits for an agent could block it for good. runc's words.
            if action == RET_USER_NOTIF && name == "write" {
                return Err(invalid(format!(
                    "{at}: SCMP_ACT_NOTIFY cannot be used for the write syscall"
                )));
            }
            let mut known = false;
            for (a, abi) in abis.iter().enumerate() {
                let Some(nr) = abi.resolve(name) else {
                    continue;
                };
                known = true;
                highest[a] = highest[a].max(Some(nr));
                if action == default_action {
                    continue;
                }
                let entry = entries[a].entry(nr).or_default();
                if groups.is_empty() {
                    entry.unconditional.get_or_insert(action);
                }
                for conds in &groups {
                    let rule = CondRule {
                        conds: conds.clone(),
                        action,
                    };
                    if !entry.conditional.contains(&rule) {
                        entry.conditional.push(rule);
                    }
                }
            }
            if !known {
                crate::logging::debug(|| {
                    format!(
                        "seccomp: {at}: syscall {name:?} is unknown to every architecture of the filter; skipped"
                    )
                });
            }
        }
        notifies |= action == RET_USER_NOTIF && !rule.names().is_empty();
    }

    let flags = flags(spec, notifies)?;
    let enosys = !matches!(
        default_action & 0xffff_0000,
        RET_ALLOW | RET_LOG | RET_TRACE
    );
    let abis = abis
        .into_iter()
        .zip(entries)
        .zip(highest)
        .map(|((abi, entries), highest)| AbiRules {
            abi,
            syscalls: entries
                .into_iter()
                .map(|(nr, e)| match e.unconditional {
                    Some(action) => (nr, Outcome::Ret(action)),
                    None => (nr, Outcome::Chain(e.conditional)),
                })
                .collect(),
            enosys_above: if enosys { highest } else { None },
        })
        .collect();
    Ok(Ruleset {
        default_action,
        abis,
        flags,
    })
}

fn invalid(msg: impl Into<String>) -> SeccompError {
    SeccompError::Invalid(msg.into())
}

/// The `SECCOMP_RET_*` value of an action. ERRNO and TRACE default to EPERM, as runc does.
fn action_value(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    at: &str,
) -> Result<u32, SeccompError> {
    use LinuxSeccompAction::*;
    let data = match (action, errno_ret) {
        (ScmpActErrno | ScmpActTrace, None) => libc::EPERM as u32,
        (ScmpActErrno | ScmpActTrace, Some(n)) if n <= 0xffff => n,
        (ScmpActErrno | ScmpActTrace, Some(n)) => {
            return Err(invalid(format!(
                "{at}: errnoRet {n} does not fit the filter's 16-bit return data"
            )));
        }
        (_, Some(n)) => {
            return Err(invalid(format!(
                "{at}: errnoRet {n} is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}"
            )));
        }
        (_, None) => 0,
    };
    Ok(match action {
        ScmpActKill | ScmpActKillThread => RET_KILL_THREAD,
        ScmpActKillProcess => RET_KILL_PROCESS,
        ScmpActTrap => RET_TRAP,
        ScmpActErrno => RET_ERRNO | data,
        ScmpActTrace => RET_TRACE | data,
        ScmpActNotify => RET_USER_NOTIF,
        ScmpActLog => RET_LOG,
        ScmpActAllow => RET_ALLOW,
    })
}

/// The filter's ABIs: the native one first, then the listed ones in order, without repeats.
///
/// A listed architecture outside the x86 family is left out: an x86 kernel never runs a
/// syscall of it (its `seccomp_data.arch` cannot occur), so its rules could never match, as
/// with libseccomp, which adds such an architecture to the filter where it never matches.
/// Profiles written for several architectures (Docker's, runc's tests) are the norm.
fn abis(listed: &[Arch]) -> Result<Vec<Abi>, SeccompError> {
    let native = NATIVE.ok_or_else(|| {
        SeccompError::UnsupportedArch(format!("SCMP_ARCH_NATIVE ({})", std::env::consts::ARCH))
    })?;
    let mut abis = vec![native];
    for arch in listed {
        let abi = match arch {
            Arch::ScmpArchNative => native,
            Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX86 => Abi::X86,
            Arch::ScmpArchX32 => Abi::X32,
            other => {
                crate::logging::debug(|| {
                    format!("seccomp: architecture {other} cannot occur on this host; left out")
                });
                continue;
            }
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    Ok(abis)
}

/// The condition sets a rule's conditions make, each one rule: all of them together, or, when
/// two name the same argument, each alone (runc's `matchCall`, which profiles are written
/// for). No conditions, no sets: the rule is unconditional.
fn condition_groups(conds: Vec<Cond>) -> Vec<Vec<Cond>> {
    if conds.is_empty() {
        return Vec::new();
    }
    let repeated = conds
        .iter()
        .enumerate()
        .any(|(i, c)| conds[..i].iter().any(|d| d.index == c.index));
    if repeated {
        conds.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conds]
    }
}

fn conditions(
    args: &[oci_spec::runtime::LinuxSeccompArg],
    at: &str,
) -> Result<Vec<Cond>, SeccompError> {
    args.iter()
        .enumerate()
        .map(|(j, arg)| {
            let index = u8::try_from(arg.index())
                .ok()
                .filter(|&i| i < 6)
                .ok_or_else(|| {
                    invalid(format!(
                        "{at}.args[{j}]: index {} is out of range: syscalls have arguments 0 to 5",
                        arg.index()
                    ))
                })?;
            Ok(Cond {
                index,
                op: arg.op(),
                value: arg.value(),
                value_two: arg.value_two().unwrap_or(0),
            })
        })
        .collect()
}

/// The kernel flags for the spec's flags. A filter with NOTIFY rules gets NEW_LISTENER, and
/// TSYNC_ESRCH if it also asks for TSYNC (the kernel refuses TSYNC with NEW_LISTENER alone).
/// WAIT_KILLABLE_RECV only means something with a listener and is dropped without one.
fn flags(spec: &LinuxSeccomp, notifies: bool) -> Result<u32, SeccompError> {
    let mut bits = 0;
    for flag in spec.flags().as_deref().unwrap_or(&[]) {
        bits |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    if notifies {
        if spec.listener_path().is_none() {
            return Err(invalid(
                "SCMP_ACT_NOTIFY is used but listenerPath is not set: no agent would receive the notifications",
            ));
        }
        bits |= FLAG_NEW_LISTENER;
        if bits & FLAG_TSYNC != 0 {
            bits |= FLAG_TSYNC_ESRCH;
        }
    } else if bits & FLAG_WAIT_KILLABLE_RECV != 0 {
        crate::logging::debug(|| {
            "seccomp: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without SCMP_ACT_NOTIFY rules; dropped"
                .into()
        });
        bits &= !FLAG_WAIT_KILLABLE_RECV;
    }
    Ok(bits)
}
