//! The one way rind replaces a file's content: write a temporary file in the same directory,
//! then rename it over the file, so that a reader sees the old content or the new, never a
//! part, and two writers never share a temporary file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::SysError;

/// What a crash (of the machine, not of rind) may leave of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// No sync: after a crash the file may hold the old content, the new, or nothing. For files
    /// on tmpfs (the state under `/run`), files that do not outlive a reboot in any useful way,
    /// and files checked when read (the seccomp cache's checksum): a sync costs milliseconds on
    /// a disk and buys nothing there.
    Volatile,
    /// The data reaches the disk (`fdatasync`) before the rename: after a crash the file holds
    /// the old content or the new, whole. For the image store, which outlives reboots.
    Synced,
}

/// Replaces `path`'s content with `data`. The temporary file is created with `O_EXCL` and
/// `mode` (less the umask), and removed again on every error.
pub fn write_atomic(
    path: &Path,
    data: &[u8],
    mode: u32,
    durability: Durability,
) -> Result<(), SysError> {
    let tmp = temp_path(path);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| SysError::new(format!("create {}", tmp.display()), e))
        .and_then(|mut f| {
            f.write_all(data)
                .and_then(|()| match durability {
                    Durability::Volatile => Ok(()),
                    Durability::Synced => f.sync_data(),
                })
                .map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    SysError::new(format!("write {}", tmp.display()), e)
                })
        })?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        SysError::new(format!("rename {} to {}", tmp.display(), path.display()), e)
    })
}

/// A name in `path`'s directory that no other writer uses at the same time: the file's name,
/// the process id and a count within the process.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rind-atomic-{label}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
    static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_new_content_replaces_the_old_and_no_temporary_file_stays() {
        let dir = scratch("replace");
        let file = dir.join("state.json");
        write_atomic(&file, b"old", 0o600, Durability::Volatile).unwrap();
        write_atomic(&file, b"new", 0o600, Durability::Synced).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        assert_eq!(names(&dir), ["state.json"]);
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = scratch("fail");
        // A directory in the way: rename(2) of a file onto it fails with EISDIR.
        let target = dir.join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"").unwrap();
        let err = write_atomic(&target, b"data", 0o644, Durability::Volatile).unwrap_err();
        assert!(err.to_string().contains("rename"), "{err}");
        assert_eq!(names(&dir), ["taken"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = scratch("missing");
        let file = dir.join("no/such/dir/f");
        let err = write_atomic(&file, b"x", 0o600, Durability::Volatile).unwrap_err();
        assert!(
            err.to_string().contains("no such file or directory"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
