//! Store-level file primitives: advisory locks, atomic writes, and temporary directories that
//! vanish unless they are renamed into place.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;

use crate::image::ImageError;
use crate::sys::{Durability, atomic_file};

/// An `flock` held until dropped.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` (created if missing) is held, shared or exclusive.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<FileLock, ImageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| ImageError::sys(format!("open lock {}", path.display()), e))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a valid, owned fd.
            let r = unsafe { libc::flock(file.as_raw_fd(), op) };
            match Errno::result(r) {
                Ok(_) => return Ok(FileLock { _file: file }),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(ImageError::sys(format!("lock {}", path.display()), e)),
            }
        }
    }
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename, so
/// readers see the old content or the new, never a part; synced, since the store outlives
/// reboots.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ImageError> {
    Ok(atomic_file::write_atomic(
        path,
        data,
        0o666,
        Durability::Synced,
    )?)
}

/// A counter that makes temporary names unique within the process.
pub fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (N.fetch_add(1, Ordering::Relaxed) << 32) ^ t
}

/// A directory under the store's `tmp/` that is removed on drop unless `keep` was called
/// (after it was renamed into place).
pub struct TempDir {
    path: PathBuf,
    armed: bool,
}

impl TempDir {
    pub fn new(tmp_root: &Path, label: &str) -> Result<TempDir, ImageError> {
        let path = tmp_root.join(format!("{label}-{}-{:x}", std::process::id(), unique()));
        fs::create_dir_all(&path)
            .map_err(|e| ImageError::sys(format!("create {}", path.display()), e))?;
        Ok(TempDir { path, armed: true })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the drop from removing the directory (it has been renamed away).
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = remove_tree(&self.path);
        }
    }
}

/// Removes a directory tree without following symlinks; missing is fine.
pub fn remove_tree(path: &Path) -> Result<(), ImageError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let Some(name) = path.file_name() else {
        return Ok(());
    };
    let dir = match crate::image::layer::rooted::RootDir::open(parent) {
        Ok(d) => d,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(ImageError::sys(format!("remove {}", path.display()), e)),
    };
    crate::image::layer::rooted::remove_all_at(dir.fd(), name)
        .map_err(|e| ImageError::sys(format!("remove {}", path.display()), e))
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
