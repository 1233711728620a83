//! Handing the process's stdio to its user, so that a non-root program can reopen it
//! (`echo x > /dev/stdout`, `cat /dev/stdin`, writing to `$(tty)`): reopening
//! `/proc/self/fd/N` checks the permissions of the pipe or terminal itself, which the runtime
//! created as root.
//!
//! runc changes the owner of fds 0-2 to the user before switching to it. rind does the same
//! for what it can tell was made for this process: an anonymous pipe (pipefs), or the pty the
//! runtime allocated for it. Never a regular file, a directory, a named FIFO, `/dev/null` or a
//! terminal the caller passed in (the admin's own terminal must not end up owned by a
//! container's uid). Only the uid changes: the gid stays the devpts mount's (`gid=5`, the
//! `tty` group, in the default spec), as with runc.

use std::os::fd::{BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::stat::{fstat, major};
use nix::sys::statfs::{FsType, fstatfs};
use nix::unistd::{Uid, fchown};

use crate::error::SysError;

/// `PIPEFS_MAGIC` from <linux/magic.h>: anonymous pipes.
const PIPEFS_MAGIC: FsType = FsType(0x5049_5045);

/// Unix98 pty peers (`/dev/pts/N`): majors 136 to 143.
fn is_pty_peer(rdev: u64) -> bool {
    (136..=143).contains(&major(rdev))
}

/// Gives each of fds 0-2 that is an anonymous pipe, or (with `own_terminal`) the pty the
/// runtime opened for the process, to `uid`. A descriptor whose owner cannot be changed from
/// here (its owner is not mapped in the container's user namespace: EPERM, EINVAL) is left as
/// it is, as runc does.
pub fn hand_to_user(uid: u32, own_terminal: bool) -> Result<(), SysError> {
    for raw in 0..3 as RawFd {
        // SAFETY: a descriptor number, used only for the calls below; one that is not open
        // fails them with EBADF.
        let fd = unsafe { BorrowedFd::borrow_raw(raw) };
        let st = match fstat(fd) {
            Ok(st) => st,
            Err(Errno::EBADF) => continue,
            Err(e) => return Err(SysError::new(format!("fstat stdio fd {raw}"), e)),
        };
        if st.st_uid == uid {
            continue;
        }
        let ours = match st.st_mode & libc::S_IFMT {
            libc::S_IFIFO => fstatfs(fd).is_ok_and(|s| s.filesystem_type() == PIPEFS_MAGIC),
            libc::S_IFCHR => own_terminal && is_pty_peer(st.st_rdev),
            _ => false,
        };
        if !ours {
            continue;
        }
        match fchown(fd, Some(Uid::from_raw(uid)), None) {
            Ok(()) | Err(Errno::EPERM | Errno::EINVAL) => {}
            Err(e) => return Err(SysError::new(format!("chown stdio fd {raw} to {uid}"), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pty_peers_are_recognised_by_major() {
        assert!(is_pty_peer(nix::sys::stat::makedev(136, 3)));
        assert!(!is_pty_peer(nix::sys::stat::makedev(1, 3)));
        assert!(!is_pty_peer(nix::sys::stat::makedev(5, 2)));
    }
}
