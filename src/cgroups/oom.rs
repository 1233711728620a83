//! A file descriptor that becomes readable when the memory controller of a cgroup reports an
//! event, so that `events` can block in `poll` instead of re-reading counters on a timer.
//!
//! - cgroup v1: an eventfd registered for `memory.oom_control` through `cgroup.event_control`.
//!   The kernel signals it whenever the cgroup is under OOM, and once more when the cgroup is
//!   removed.
//! - cgroup v2: an inotify watch on `memory.events`, which the kernel marks modified whenever
//!   one of its counters (`low`, `high`, `max`, `oom`, `oom_kill`) changes.
//!
//! Readiness only says "look now": the caller compares [`Cgroup::oom_kill_count`] with the
//! value it saw before to tell an OOM kill from other memory events.
//!
//! [`Cgroup::oom_kill_count`]: super::Cgroup::oom_kill_count

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::files::write;
use super::{CgroupError, Result};
use crate::error::Cause;

/// Readable when the cgroup has a memory event to look at.
pub struct OomNotifier {
    fd: OwnedFd,
    /// v1: `memory.oom_control`, kept open for as long as the registration lives.
    _control: Option<OwnedFd>,
}

fn last_os_error(op: &'static str, path: &Path) -> CgroupError {
    CgroupError::Io {
        op,
        path: path.to_path_buf(),
        cause: Cause::Errno(Errno::last()),
    }
}

impl OomNotifier {
    /// Registers an eventfd for OOM notifications of the v1 memory cgroup `dir`.
    pub fn v1(dir: &Path) -> Result<OomNotifier> {
        // SAFETY: plain system call; the result is checked before use.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(last_os_error("create eventfd for", dir));
        }
        // SAFETY: efd was just created and is owned here only.
        let fd = unsafe { OwnedFd::from_raw_fd(efd) };
        let control_path = dir.join("memory.oom_control");
        let control: OwnedFd = std::fs::File::open(&control_path)
            .map_err(|e| CgroupError::Io {
                op: "open",
                path: control_path.clone(),
                cause: Cause::from(e),
            })?
            .into();
        let line = format!("{} {}", fd.as_raw_fd(), control.as_raw_fd());
        write(
            dir,
            "cgroup.event_control",
            &line,
            "register OOM notification",
        )?;
        Ok(OomNotifier {
            fd,
            _control: Some(control),
        })
    }

    /// Watches `memory.events` of the v2 cgroup `dir`.
    pub fn v2(dir: &Path) -> Result<OomNotifier> {
        let events = dir.join("memory.events");
        if !events.exists() {
            return Err(CgroupError::Unsupported(format!(
                "OOM notification ({} is missing: the memory controller is not enabled)",
                events.display()
            )));
        }
        // SAFETY: plain system call; the result is checked before use.
        let ifd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if ifd < 0 {
            return Err(last_os_error("create inotify instance for", dir));
        }
        // SAFETY: ifd was just created and is owned here only.
        let fd = unsafe { OwnedFd::from_raw_fd(ifd) };
        let c_path =
            std::ffi::CString::new(events.as_os_str().as_encoded_bytes()).map_err(|_| {
                CgroupError::Invalid(format!("path {} has a NUL byte", events.display()))
            })?;
        // SAFETY: fd is a live inotify descriptor and c_path a NUL-terminated path.
        let wd =
            unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c_path.as_ptr(), libc::IN_MODIFY) };
        if wd < 0 {
            return Err(last_os_error("watch", &events));
        }
        Ok(OomNotifier { fd, _control: None })
    }

    /// Waits up to `timeout` (forever when `None`) for an event; returns whether one came. The
    /// pending notifications are consumed.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let n = loop {
            match poll(&mut fds, t) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        };
        let ready = n.map_err(|e| CgroupError::Io {
            op: "wait for OOM notification",
            path: "/proc/self/fd".into(),
            cause: e.into(),
        })? > 0;
        if ready {
            self.drain();
        }
        Ok(ready)
    }

    /// Reads and discards whatever is pending, so that the next wait blocks again.
    fn drain(&self) {
        let mut buf = [0u8; 4096];
        // SAFETY: reading into a local buffer from a non-blocking descriptor we own.
        while unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}

impl AsFd for OomNotifier {
    /// The descriptor to poll for readability.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
