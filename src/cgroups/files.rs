//! Reading and writing cgroup files with errors that name the setting, the file and the value.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::{CgroupError, Result};
use crate::error::Cause;

/// Writes `value` to the existing file `dir/file` in one `write(2)`, as cgroup files expect.
/// `what` names the setting for the error ("memory limit", "add process to cgroup").
///
/// The file is never created: a missing interface file means the controller or the kernel
/// feature is absent, and the error says so instead of leaving a stray regular file behind.
pub fn write(dir: &Path, file: &str, value: &str, what: &str) -> Result<()> {
    let path = dir.join(file);
    let result = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write(value.as_bytes()).map(|_| ()));
    result.map_err(|e| write_error(what, path, value, Cause::from(e)))
}

/// The error for a failed write, with a hint for the errnos whose meaning depends on the file.
pub fn write_error(what: &str, path: PathBuf, value: &str, cause: Cause) -> CgroupError {
    let mut what = what.to_string();
    if cause.errno() == Some(Errno::ENOENT) && path.parent().is_some_and(Path::is_dir) {
        what.push_str(" (the kernel does not provide this file: controller or feature missing)");
    }
    CgroupError::Write {
        what,
        path,
        value: value.to_string(),
        cause,
    }
}

/// Reads `dir/file` as text, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    crate::sys::read_pseudo_file(&path, 4096)
        .map(|s| s.trim().to_string())
        .map_err(|e| CgroupError::Io {
            op: "read",
            path,
            cause: Cause::from(e),
        })
}

/// Reads `dir/file`, or `None` when it does not exist (an optional kernel feature).
pub fn read_optional(dir: &Path, file: &str) -> Result<Option<String>> {
    match read(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(CgroupError::Io { cause, .. })
            if matches!(cause.errno(), Some(Errno::ENOENT) | Some(Errno::ENODEV)) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads a file holding one unsigned number (`max` reads as `u64::MAX`), or 0 when the file
/// does not exist.
pub fn read_u64_or_zero(dir: &Path, file: &str) -> Result<u64> {
    match read_optional(dir, file)? {
        None => Ok(0),
        Some(text) => parse_u64(&text).ok_or_else(|| CgroupError::Parse {
            path: dir.join(file),
            detail: format!("expected a number, found {text:?}"),
        }),
    }
}

/// Parses a cgroup number: decimal, or `max` for unlimited.
pub fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return Some(u64::MAX);
    }
    t.parse().ok()
}

/// Creates `dir` and its parents; true if `dir` itself was made now (not already there).
pub fn mkdir_all(dir: &Path) -> Result<bool> {
    let error = |e: std::io::Error| CgroupError::Io {
        op: "create cgroup",
        path: dir.to_path_buf(),
        cause: Cause::from(e),
    };
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(error)?;
            Ok(true)
        }
        Err(e) => Err(error(e)),
    }
}

/// Removes a cgroup directory and every cgroup below it (a container may create its own),
/// deepest first. Retries while the kernel still counts exiting tasks (EBUSY), until
/// `deadline`. A directory that is already gone is not an error, so removal can be repeated.
pub fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    // Usually there is nothing below: one rmdir, no listing of the dozens of control files.
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path(), deadline)?;
            }
        }
    }
    rmdir_retry(dir, deadline)
}

/// How long a removal waits in all for the kernel to finish exiting killed tasks: one
/// deadline for every directory of a destroy, not one per directory. A cgroup another
/// container's processes share stays busy for good, and a v1 container has a dozen
/// directories: waiting two seconds on each made `delete` take 20 s or more there.
pub const REMOVE_PATIENCE: Duration = Duration::from_secs(2);

/// Removes one empty cgroup directory, retrying on EBUSY until `deadline`.
fn rmdir_retry(dir: &Path, deadline: Instant) -> Result<()> {
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(Errno::EBUSY as i32) && Instant::now() < deadline =>
            {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            Err(e) => {
                let cause = Cause::from(e);
                let op = if cause.errno() == Some(Errno::EBUSY) {
                    "remove cgroup (processes are still in it)"
                } else {
                    "remove cgroup"
                };
                return Err(CgroupError::Io {
                    op,
                    path: dir.to_path_buf(),
                    cause,
                });
            }
        }
    }
}

/// Every pid in `dir/cgroup.procs` and in the same file of every cgroup below `dir`. A missing
/// directory has no processes.
pub fn read_pids_recursive(dir: &Path) -> Result<Vec<Pid>> {
    let mut out = Vec::new();
    collect_pids(dir, &mut out)?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn collect_pids(dir: &Path, out: &mut Vec<Pid>) -> Result<()> {
    let Some(text) = read_optional(dir, "cgroup.procs")? else {
        return Ok(());
    };
    out.extend(
        text.lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .map(Pid::from_raw),
    );
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), out)?;
            }
        }
    }
    Ok(())
}

/// Writes `pid` to `dir/cgroup.procs`. The kernel answers EINVAL for a task that is still being
/// created (TASK_NEW); runc retries then, and so does this, up to five times 30 ms apart.
pub fn add_pid(dir: &Path, pid: Pid) -> Result<()> {
    let value = pid.to_string();
    let mut tries = 0;
    loop {
        match write(dir, "cgroup.procs", &value, "add process to cgroup") {
            Err(CgroupError::Write { cause, .. })
                if cause.errno() == Some(Errno::EINVAL) && tries < 4 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_parses_as_unlimited() {
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64(" 42 "), Some(42));
        assert_eq!(parse_u64("-1"), None);
    }

    #[test]
    fn write_error_names_setting_value_and_file() {
        let e = write_error(
            "memory limit too low",
            PathBuf::from("/sys/fs/cgroup/x/memory.max"),
            "4096",
            Cause::Errno(Errno::EBUSY),
        );
        assert_eq!(
            e.to_string(),
            "memory limit too low: write \"4096\" to /sys/fs/cgroup/x/memory.max: \
             device or resource busy"
        );
    }

    #[test]
    fn writing_a_missing_file_does_not_create_it() {
        let dir = std::env::temp_dir().join(format!("rind-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = write(&dir, "cpu.idle", "1", "cpu idle").unwrap_err();
        assert!(!dir.join("cpu.idle").exists());
        std::fs::remove_dir(&dir).unwrap();
        let msg = err.to_string();
        assert!(msg.contains("controller or feature missing"), "{msg}");
        assert!(msg.ends_with("no such file or directory"), "{msg}");
    }
}
