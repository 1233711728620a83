//! `exec.fifo`: how init waits between `create` and `start`, and how `start` learns whether
//! the program then ran.
//!
//! The runtime creates the FIFO and opens it read-write before the clone; init inherits that
//! descriptor (close-on-exec) and blocks reading one byte. Because init holds the only read
//! end, `start` can open the FIFO for writing without blocking: the open succeeds while init is
//! alive and fails with ENXIO once it is gone, so a dead init is a clear error at `start`,
//! never a hang. The file's existence is what marks a container `created` (as in runc).
//!
//! `start` then waits until no read end is left: init's descriptor goes at its `execve` of the
//! program (it is close-on-exec), or when init exits. A step after the release that fails (a
//! startContainer hook, the `execve` itself) writes its reason into the FIFO before init exits
//! ([`report`]); `start` holds its write end, so the FIFO's buffer outlives init, and reads the
//! reason back through `/proc/self/fd`. So `start` fails with the reason, where runc 1.1.5
//! returns 0 and the reason reaches only the container's stderr. The exec stub writes its
//! report as a NUL byte, the errno, and the program's path.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use nix::unistd::{read, write};

use crate::error::{Cause, StepContext, SysError};

/// Creates the FIFO (mode 0600) and returns init's read-write end.
pub fn create(path: &Path) -> Result<OwnedFd, SysError> {
    mkfifo(path, Mode::from_bits_truncate(0o600)).step(|| format!("mkfifo {}", path.display()))?;
    open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open {}", path.display()))
}

/// Why `start` could not release init, or why the program did not run once it had.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("container init is not running (it exited before start)")]
    InitGone,
    #[error("container init exited before its program ran")]
    DiedAfterRelease,
    /// Init's own report of the step that failed after the release.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// Lets init run: writes one byte and removes the FIFO; then waits until init has executed its
/// program, and fails with init's reason if it could not.
pub fn release(path: &Path) -> Result<(), ReleaseError> {
    let fd = match open(
        path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => return Err(ReleaseError::InitGone),
        Err(e) => return Err(SysError::new(format!("open {}", path.display()), e).into()),
    };
    loop {
        match write(&fd, b"0") {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(Errno::EPIPE) => return Err(ReleaseError::InitGone),
            Err(e) => return Err(SysError::new(format!("write {}", path.display()), e).into()),
        }
    }
    std::fs::remove_file(path).step(|| format!("remove {}", path.display()))?;
    wait_for_exec(&fd)
}

/// Blocks until the FIFO has no reader left, then reads what init left in it.
fn wait_for_exec(fd: &OwnedFd) -> Result<(), ReleaseError> {
    // No events asked for: poll reports only POLLERR, which a FIFO's write end gets once no
    // read end is open.
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::empty())];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(n) if n > 0 => break,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(SysError::new("wait for init to execute its program", e).into()),
        }
    }
    let reader = open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "reopen exec.fifo to read init's report".to_string())?;
    let mut report = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match read(&reader, &mut buf) {
            Ok(0) | Err(Errno::EAGAIN) => break,
            Ok(n) => report.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SysError::new("read init's report from exec.fifo", e).into()),
        }
        if report.len() > MAX_REPORT {
            break;
        }
    }
    outcome(&report)
}

/// Longest report kept (one line; what is longer is cut).
const MAX_REPORT: usize = 4096;

/// What a report read back from the FIFO means.
fn outcome(report: &[u8]) -> Result<(), ReleaseError> {
    let text = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(MAX_REPORT)]).into_owned();
    match report {
        [] => Ok(()),
        // start's own byte, never read: init died before it read it.
        b"0" => Err(ReleaseError::DiedAfterRelease),
        // From the exec stub: NUL, errno, path.
        [0, errno, path @ ..] => Err(ReleaseError::Failed(format!(
            "exec {:?}: {}",
            text(path),
            Cause::Errno(Errno::from_raw(i32::from(*errno)))
        ))),
        other => Err(ReleaseError::Failed(text(other).trim_end().to_string())),
    }
}

/// Init's side: blocks until `start` writes.
pub fn wait(fd: &OwnedFd) -> Result<(), SysError> {
    let mut buf = [0u8; 1];
    loop {
        match read(fd, &mut buf) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(SysError::new("wait on exec.fifo", Errno::EPIPE)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SysError::new("wait on exec.fifo", e)),
        }
    }
}

/// Init's side, after `start` released it: leaves `message` (why the program will not run)
/// in the FIFO for `start` to read, in one write. Best effort: init exits next either way.
pub fn report(fd: &impl AsFd, message: &str) {
    let mut bytes = message.as_bytes();
    bytes = &bytes[..bytes.len().min(MAX_REPORT)];
    let _ = write(fd, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory with an `exec.fifo` made in it: (directory, fifo, its descriptor).
    fn scratch(label: &str) -> (std::path::PathBuf, std::path::PathBuf, OwnedFd) {
        let dir = std::env::temp_dir().join(format!("rind-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("exec.fifo");
        let fd = create(&path).unwrap();
        (dir, path, fd)
    }

    #[test]
    fn release_without_a_reader_is_init_gone() {
        let (dir, path, fd) = scratch("fifo");
        drop(fd);
        assert!(matches!(release(&path), Err(ReleaseError::InitGone)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn release_wakes_the_waiter_and_removes_the_fifo() {
        let (dir, path, fd) = scratch("fifo2");
        let waiter = std::thread::spawn(move || {
            wait(&fd).unwrap();
            // The program "runs": the read end goes.
            drop(fd);
        });
        release(&path).unwrap();
        waiter.join().unwrap();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_report_left_after_the_release_fails_it() {
        let (dir, path, fd) = scratch("fifo3");
        let waiter = std::thread::spawn(move || {
            wait(&fd).unwrap();
            report(&fd, "startContainer hook failed: exit status 3");
            drop(fd);
        });
        let e = release(&path).unwrap_err().to_string();
        waiter.join().unwrap();
        assert_eq!(e, "startContainer hook failed: exit status 3");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reports_read_as_their_reasons() {
        assert!(outcome(b"").is_ok());
        assert!(matches!(outcome(b"0"), Err(ReleaseError::DiedAfterRelease)));
        let stub = [&[0u8, libc::ENOEXEC as u8][..], b"/garbage"].concat();
        assert_eq!(
            outcome(&stub).unwrap_err().to_string(),
            "exec \"/garbage\": exec format error"
        );
    }
}
