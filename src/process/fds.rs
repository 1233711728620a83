//! The descriptors a process in the container may hold (CVE-2024-21626).
//!
//! A child of the runtime starts with every descriptor the runtime held at the clone: the lock
//! on the state directory, the cgroup directory the clone went into, the caller's leaked
//! descriptors, the log file. Any of them that names a directory on the host gives a host path
//! to whoever can name `/proc/self/fd/N`: a `chdir` or an `execve` through it, a magic link
//! followed inside the container, lands on the host. Marking them close-on-exec is not enough,
//! because a path is resolved before `execve` closes anything. So the child closes them: right
//! after the clone (keeping only what it still needs, none of which is a directory), and once
//! more before it resolves the first path the container chose.
//!
//! `close_range(2)` does it in one call. Where it is missing (Linux < 5.9) or refused (an outer
//! seccomp profile), `/proc/self/fd` is walked instead, as runc does.

use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::SysError;

/// Closes every descriptor from `first` upward except those in `keep`.
pub fn close_from_except(first: RawFd, keep: &[RawFd]) -> Result<(), SysError> {
    // The procfs handle is one of them: let go of it first, or its number would stay in the
    // handle after the close and name whatever is opened next under it.
    crate::linux::procfs::forget();
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = first;
    for &k in keep.iter().chain(std::iter::once(&RawFd::MAX)) {
        if from < k {
            let last = if k == RawFd::MAX {
                u32::MAX
            } else {
                (k - 1) as u32
            };
            if let Err(e) = close_range(from as u32, last) {
                return match e {
                    Errno::ENOSYS | Errno::EPERM | Errno::EINVAL => close_by_walking(first, &keep),
                    e => Err(SysError::new(
                        format!("close the runtime's descriptors from {from}"),
                        e,
                    )),
                };
            }
        }
        if k == RawFd::MAX {
            break;
        }
        from = k + 1;
    }
    Ok(())
}

fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: close_range only closes descriptor numbers; the caller owns none of those it
    // closes (they are the runtime's, inherited, and never used again in this process).
    Errno::result(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }).map(drop)
}

/// The fallback: list `/proc/self/fd`, then close each listed descriptor not kept.
fn close_by_walking(first: RawFd, keep: &[RawFd]) -> Result<(), SysError> {
    let open = open_descriptors()
        .map_err(|e| SysError::new("list /proc/self/fd to close the runtime's descriptors", e))?;
    for fd in open
        .into_iter()
        .filter(|fd| *fd >= first && !keep.contains(fd))
    {
        // SAFETY: as in close_range; EBADF (the listing's own descriptor) is harmless.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// The descriptors open in this process, from `/proc/self/fd` (the listing's own descriptor
/// included; it is closed by the time this returns).
pub fn open_descriptors() -> Result<Vec<RawFd>, Errno> {
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let mut fds = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        if let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            fds.push(fd);
        }
    }
    Ok(fds)
}

/// Sets or clears close-on-exec on one descriptor.
pub fn set_cloexec(fd: RawFd, on: bool) -> Result<(), SysError> {
    let flag = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD on a descriptor number changes only its flags.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, flag) })
        .map(drop)
        .map_err(|e| SysError::new(format!("set close-on-exec on fd {fd}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    /// Runs `f` in a forked child and returns its exit code (the test process's own
    /// descriptors must not be closed).
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child only makes syscalls and leaves through _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = f();
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                match nix::sys::wait::waitpid(child, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, code) => code,
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only asks.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn everything_from_first_is_closed_but_what_is_kept() {
        let files: Vec<RawFd> = (0..6)
            .map(|_| std::fs::File::open("/").unwrap().into_raw_fd())
            .collect();
        let keep = [files[1], files[4]];
        let first = files[0];
        let code = in_child(|| {
            if close_from_except(first, &keep).is_err() {
                return 2;
            }
            let ok = files.iter().all(|fd| is_open(*fd) == keep.contains(fd)) && is_open(0);
            if ok { 0 } else { 1 }
        });
        for fd in files {
            // SAFETY: closing what this test opened.
            unsafe { libc::close(fd) };
        }
        assert_eq!(code, 0);
    }

    #[test]
    fn the_walk_closes_the_same_set() {
        let a = std::fs::File::open("/").unwrap();
        let b = std::fs::File::open("/").unwrap();
        let (a, b) = (a.as_raw_fd(), b.as_raw_fd());
        let code = in_child(|| {
            if close_by_walking(a, &[b]).is_err() {
                return 2;
            }
            if !is_open(a) && is_open(b) { 0 } else { 1 }
        });
        assert_eq!(code, 0);
    }
}
