//! `exec.fifo`: how init waits between `create` and `start`.
//!
//! The runtime creates the FIFO and opens it read-write before the clone; init inherits that
//! descriptor and blocks reading one byte. Because init holds the only read end, `start` can
//! open the FIFO for writing without blocking: the open succeeds while init is alive and fails
//! with ENXIO once it is gone, so a dead init is a clear error at `start`, never a hang. The
//! file's existence is what marks a container `created` (as in runc).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use nix::unistd::{read, write};

use crate::error::{StepContext, SysError};

/// Creates the FIFO (mode 0600) and returns init's read-write end.
pub fn create(path: &Path) -> Result<OwnedFd, SysError> {
    mkfifo(path, Mode::from_bits_truncate(0o600)).step(|| format!("mkfifo {}", path.display()))?;
    open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open {}", path.display()))
}

/// Why `start` could not release init.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("container init is not running (it exited before start)")]
    InitGone,
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// Lets init run: writes one byte, then removes the FIFO.
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_without_a_reader_is_init_gone() {
        let dir = std::env::temp_dir().join(format!("rind-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("exec.fifo");
        let fd = create(&path).unwrap();
        drop(fd);
        assert!(matches!(release(&path), Err(ReleaseError::InitGone)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn release_wakes_the_waiter_and_removes_the_fifo() {
        let dir = std::env::temp_dir().join(format!("rind-fifo2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("exec.fifo");
        let fd = create(&path).unwrap();
        release(&path).unwrap();
        wait(&fd).unwrap();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
