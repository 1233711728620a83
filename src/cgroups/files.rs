//! Reading and writing cgroup files with errors that name the file and the value.

use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

use super::{CgroupError, Result};
use crate::error::Cause;

/// Writes `value` to `dir/file`. Cgroup files take one value per write.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| CgroupError::Write {
        path,
        value: value.to_string(),
        cause: Cause::from(e),
    })
}

/// Reads `dir/file` as text, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| CgroupError::Io {
            op: "read",
            path,
            cause: Cause::from(e),
        })
}

/// Creates `dir` and its parents.
pub fn mkdir_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CgroupError::Io {
        op: "create cgroup",
        path: dir.to_path_buf(),
        cause: Cause::from(e),
    })
}

/// Removes a cgroup directory, retrying while the kernel still counts exiting tasks in it.
/// A directory that is already gone is not an error.
pub fn rmdir_retry(dir: &Path) -> Result<()> {
    let mut delay = Duration::from_millis(1);
    for _ in 0..14 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(CgroupError::Io {
                    op: "remove cgroup",
                    path: dir.to_path_buf(),
                    cause: Cause::from(e),
                });
            }
        }
    }
    Err(CgroupError::Io {
        op: "remove cgroup",
        path: dir.to_path_buf(),
        cause: Cause::Errno(Errno::EBUSY),
    })
}

/// Parses `cgroup.procs`: one pid per line.
pub fn read_pids(dir: &Path) -> Result<Vec<nix::unistd::Pid>> {
    let text = read(dir, "cgroup.procs")?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .map(nix::unistd::Pid::from_raw)
        .collect())
}
