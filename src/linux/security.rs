//! Per-process security settings that take effect at execve: the AppArmor profile
//! (`process.apparmorProfile`) and the execution domain (`linux.personality`).

use std::io::Write;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

use crate::error::{Cause, StepContext, SysError};

/// Asks AppArmor to confine the process from its next execve on with `profile`, as runc does:
/// `exec <profile>` written to the task's AppArmor exec attribute (the stacking-aware
/// `/proc/self/attr/apparmor/exec` since Linux 5.8, else `/proc/self/attr/exec`). Where
/// AppArmor is not enabled the kernel refuses the write, and so does this (runc fails the same
/// way); an engine asks for a profile only on a host that has AppArmor.
///
/// The attribute is reached through the verified procfs handle ([`procfs`](super::procfs)):
/// a fake `attr/exec` (a file in an image without procfs at `/proc`, a tmpfs mounted over
/// `/proc/self/attr`) would take the write and leave the process unconfined (CVE-2019-16884).
pub fn apparmor_on_exec(profile: &str) -> Result<(), SysError> {
    let value = format!("exec {profile}");
    let step = |e: SysError| SysError {
        step: format!("apply AppArmor profile {profile:?}: {}", e.step),
        cause: e.cause,
    };
    let mut last = None;
    for rel in ["attr/apparmor/exec", "attr/exec"] {
        match super::procfs::open_self(rel, OFlag::O_WRONLY) {
            Ok(fd) => {
                return std::fs::File::from(fd)
                    .write_all(value.as_bytes())
                    .map_err(|e| {
                        SysError::new(
                            format!("apply AppArmor profile {profile:?}: write /proc/self/{rel}"),
                            Cause::from(e),
                        )
                    });
            }
            Err(e) if e.cause.errno() == Some(Errno::ENOENT) => last = Some(e),
            Err(e) => return Err(step(e)),
        }
    }
    Err(step(last.expect("two paths were tried")))
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
    Errno::result(r)
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
