//! Where a mount may land. The container's filesystem is laid out by the image, so a spec
//! mount's destination is resolved inside it and then checked on the descriptor the mount is
//! made on:
//!
//! - `/proc` takes only a procfs (a proc mount, or a bind of one), and nothing under it but
//!   the files lxcfs provides;
//! - a target that a symlink of the image led onto procfs or sysfs, away from a destination
//!   under `/proc` or `/sys`, is refused (CVE-2025-52565 class);
//! - proc and sysfs go on an ordinary directory reached without a symlink (runc's "must be
//!   mounted on ordinary directory": CVE-2019-19921, CVE-2023-27561, CVE-2023-28642);
//! - the procfs mounted on `/proc` becomes the process's procfs handle
//!   ([`procfs::adopt`](super::procfs::adopt)).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;

use super::paths::{Kind, RootDir, fd_path};
use super::procfs::{self, PROC_SUPER_MAGIC, SYSFS_MAGIC};
use crate::error::{Cause, StepContext, SysError};

/// Files under /proc that may be mount targets: the ones lxcfs provides, and criu's
/// ns_last_pid. Anything else under /proc could hide or replace a kernel interface.
const PROC_MOUNT_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Refuses a mount on /proc or inside it, but for a procfs on /proc (a proc mount, or a bind
/// of a procfs, as runc allows for a container in the host's PID namespace:
/// `source_is_procfs` is asked only then) and the allowed files.
pub(super) fn check_proc_destination(
    dest: &Path,
    typ: &str,
    source_is_procfs: impl FnOnce() -> bool,
) -> Result<(), SysError> {
    let fail = |why: &str| {
        Err(SysError::new(
            format!("mount {typ} on {}: {why}", dest.display()),
            Errno::EPERM,
        ))
    };
    if dest == Path::new("/proc") {
        return if typ == "proc" || source_is_procfs() {
            Ok(())
        } else {
            fail("only a proc filesystem may be mounted on /proc")
        };
    }
    if dest.starts_with("/proc") && !PROC_MOUNT_ALLOWED.iter().any(|p| dest == Path::new(p)) {
        return fail("mounts inside /proc are not allowed");
    }
    Ok(())
}

/// Refuses a mount target (`target`, resolved for `dest`) that landed on procfs or sysfs when
/// the destination does not say so: a symlink of the image leading `/dev/shm` into
/// `/proc/sys/kernel`, say. The check is on the descriptor the mount is then made on.
pub(super) fn check_landing(
    root: &RootDir,
    target: &OwnedFd,
    dest: &Path,
    typ: &str,
) -> Result<(), SysError> {
    let step = || format!("mount {typ} on {}", dest.display());
    let magic = procfs::fs_magic(target).step(step)?;
    let allowed = match magic {
        PROC_SUPER_MAGIC => {
            dest == Path::new("/proc") || PROC_MOUNT_ALLOWED.iter().any(|p| dest == Path::new(p))
        }
        SYSFS_MAGIC => dest.starts_with("/sys"),
        _ => true,
    };
    if allowed {
        return Ok(());
    }
    let fs = if magic == PROC_SUPER_MAGIC {
        "procfs"
    } else {
        "sysfs"
    };
    // Where it landed, for the message (before pivot_root, /proc is the host's).
    let at = std::fs::read_link(fd_path(target))
        .ok()
        .and_then(|p| {
            let base = std::fs::read_link(fd_path(&root.fd())).ok()?;
            p.strip_prefix(base).ok().map(|r| Path::new("/").join(r))
        })
        .map_or_else(|| "somewhere".to_string(), |p| p.display().to_string());
    Err(SysError::new(
        step(),
        Cause::Other(format!(
            "it resolves to {at}, on {fs}: mounts there are not allowed"
        )),
    ))
}

/// The directory `dest` for a proc or sysfs mount (`typ`): reached without a symlink on the
/// way, and a directory, as runc insists ("must be mounted on ordinary directory"): a
/// symlinked `/proc` would put the container's procfs, and its masks, elsewhere than the
/// `/proc` the container and the runtime use (CVE-2019-19921, CVE-2023-27561,
/// CVE-2023-28642).
pub(super) fn ordinary_directory(
    root: &RootDir,
    dest: &Path,
    typ: &str,
) -> Result<OwnedFd, SysError> {
    let refuse = || {
        SysError::new(
            format!("mount {typ} on {}", dest.display()),
            Cause::Other(format!(
                "filesystem {typ:?} must be mounted on ordinary directory"
            )),
        )
    };
    let fd = match root.open_path_without_symlinks(dest) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            root.create(dest, Kind::Directory)?;
            root.open_path_without_symlinks(dest).map_err(|e| match e {
                Errno::ELOOP => refuse(),
                e => SysError::new(format!("open {}", dest.display()), e),
            })?
        }
        Err(Errno::ELOOP) => return Err(refuse()),
        Err(e) => return Err(SysError::new(format!("open {}", dest.display()), e)),
    };
    let st = nix::sys::stat::fstat(&fd).step(|| format!("stat {}", dest.display()))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(refuse());
    }
    Ok(fd)
}

/// After a procfs went on `/proc` (`fresh`: a proc mount; else a bind that may be of one):
/// opens it again, without a symlink on the way, and makes it this process's procfs handle
/// ([`procfs::adopt`]). A fresh mount that is not there any more means the rootfs changed
/// under the runtime, and is refused.
pub(super) fn adopt_proc(root: &RootDir, dest: &Path, fresh: bool) -> Result<(), SysError> {
    if dest != Path::new("/proc") {
        return Ok(());
    }
    let step = || "mount proc on /proc".to_string();
    let fd = root.open_path_without_symlinks(dest).step(step);
    match fd {
        Ok(fd) if procfs::is_procfs_root(&fd) == Ok(true) => procfs::adopt(fd),
        _ if !fresh => Ok(()),
        Ok(_) => Err(SysError::new(
            step(),
            Cause::Other("/proc is not the new procfs after mounting it (refused)".into()),
        )),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_proc_may_be_mounted_on_proc() {
        let no = || false;
        assert!(check_proc_destination(Path::new("/proc"), "proc", no).is_ok());
        assert!(check_proc_destination(Path::new("/proc"), "tmpfs", no).is_err());
        assert!(check_proc_destination(Path::new("/proc/sys"), "bind", no).is_err());
        assert!(check_proc_destination(Path::new("/proc/meminfo"), "bind", no).is_ok());
        assert!(check_proc_destination(Path::new("/procfs"), "bind", no).is_ok());
        // A bind of a procfs (the host's /proc, for a container in the host's PID namespace).
        assert!(check_proc_destination(Path::new("/proc"), "none", || true).is_ok());
        assert!(check_proc_destination(Path::new("/proc/sys"), "none", || true).is_err());
    }
}
