//! Per-process security settings that take effect at execve: the AppArmor profile
//! (`process.apparmorProfile`) and the execution domain (`linux.personality`).

use std::io::Write;

use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

use crate::error::{Cause, StepContext, SysError};

/// Asks AppArmor to confine the process from its next execve on with `profile`, as runc does:
/// `exec <profile>` written to the task's AppArmor exec attribute (the stacking-aware
/// `/proc/self/attr/apparmor/exec` since Linux 5.8, else `/proc/self/attr/exec`). Where
/// AppArmor is not enabled the kernel refuses the write, and so does this (runc fails the same
/// way); an engine asks for a profile only on a host that has AppArmor.
pub fn apparmor_on_exec(profile: &str) -> Result<(), SysError> {
    let value = format!("exec {profile}");
    let mut last = None;
    for path in ["/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"] {
        match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(mut f) => {
                return f.write_all(value.as_bytes()).map_err(|e| {
                    SysError::new(
                        format!("apply AppArmor profile {profile:?}: write {path}"),
                        Cause::from(e),
                    )
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some((path, e)),
            Err(e) => {
                return Err(SysError::new(
                    format!("apply AppArmor profile {profile:?}: open {path}"),
                    Cause::from(e),
                ));
            }
        }
    }
    let (path, e) = last.expect("two paths were tried");
    Err(SysError::new(
        format!("apply AppArmor profile {profile:?}: open {path}"),
        Cause::from(e),
    ))
}

/// `PER_LINUX32` from <linux/personality.h>.
const PER_LINUX32: libc::c_ulong = 0x0008;

/// The personality(2) value for `linux.personality`. The runtime spec defines no flags yet,
/// so any flag is refused by validation before this runs.
pub fn personality_value(p: &LinuxPersonality) -> libc::c_ulong {
    match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    }
}

/// Sets the execution domain, which the program inherits across execve (`LINUX32`: `uname -m`
/// reports a 32-bit machine).
pub fn set_personality(p: &LinuxPersonality) -> Result<(), SysError> {
    let value = personality_value(p);
    // SAFETY: personality(2) takes a plain integer.
    let r = unsafe { libc::personality(value) };
    nix::errno::Errno::result(r)
        .map(drop)
        .step(|| format!("set personality {}", p.domain()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux32_is_per_linux32() {
        let mut p = LinuxPersonality::default();
        assert_eq!(personality_value(&p), 0);
        p.set_domain(LinuxPersonalityDomain::PerLinux32);
        assert_eq!(personality_value(&p), 8);
    }
}
