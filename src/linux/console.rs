//! `/dev/console`: the container's terminal, bound over it by the container's init.
//!
//! The bind is made after pivot_root, inside a root the image laid out. An image can make
//! `/dev/console` a symlink to `/proc/sys/kernel/core_pattern`, or to a procfs or sysfs file
//! the runtime writes later, so that the terminal lands on it (CVE-2025-52565). So:
//!
//! - the target is created in `/dev` without following anything: a symlink there is removed
//!   and replaced by an empty file (`paths::create_in`);
//! - `/dev` and the target must not be on procfs or sysfs;
//! - the terminal is bound by descriptor (`open_tree` + `move_mount`), from the pty's own fd,
//!   never through a `/proc/self/fd/N` path, which the container's `/proc` would resolve;
//! - afterwards `/dev/console` is opened again and must be the pty itself (the same device
//!   number).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::fsmount;
use super::paths::{Kind, RootDir, create_in};
use super::procfs::{PROC_SUPER_MAGIC, SYSFS_MAGIC, fs_magic};
use crate::error::{Cause, StepContext, SysError};

/// Binds the pty whose peer is `pty` (pty number `number`, for messages) over `/dev/console`
/// of the current root.
pub fn mount_console(pty: &OwnedFd, number: u32) -> Result<(), SysError> {
    let step = || format!("bind /dev/pts/{number} on /dev/console");
    let root = RootDir::open(Path::new("/"))?;
    let dev = root
        .open_with(Path::new("/dev"), OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| SysError::new(format!("{}: open /dev", step()), e))?;
    refuse_pseudo_fs(&dev, "/dev", &step)?;
    let console = create_in(dev.as_fd(), OsStr::new("console"), Kind::File).map_err(|e| {
        let cause = match e {
            Errno::ELOOP => Cause::Other("/dev/console is a symlink again (refused)".into()),
            e => Cause::Errno(e),
        };
        SysError::new(format!("{}: create /dev/console", step()), cause)
    })?;
    refuse_pseudo_fs(&console, "/dev/console", &step)?;
    fsmount::bind_fd(pty, &console, false).step(step)?;
    // What is at /dev/console now must be the terminal.
    let now = nix::fcntl::openat(
        &dev,
        "console",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .step(|| format!("{}: reopen /dev/console", step()))?;
    let want = nix::sys::stat::fstat(pty).step(step)?;
    let got = nix::sys::stat::fstat(&now).step(step)?;
    if got.st_mode & libc::S_IFMT != libc::S_IFCHR || got.st_rdev != want.st_rdev {
        return Err(SysError::new(
            step(),
            Cause::Other("/dev/console is not the terminal after the bind".into()),
        ));
    }
    Ok(())
}

/// Refuses a runtime-made mount target (`shown` in messages) on procfs or sysfs.
pub fn refuse_pseudo_fs(
    fd: &impl AsFd,
    shown: &str,
    step: &dyn Fn() -> String,
) -> Result<(), SysError> {
    let magic = fs_magic(fd).step(step)?;
    let name = match magic {
        PROC_SUPER_MAGIC => "procfs",
        SYSFS_MAGIC => "sysfs",
        _ => return Ok(()),
    };
    Err(SysError::new(
        step(),
        Cause::Other(format!("{shown} is on {name} (refused)")),
    ))
}
