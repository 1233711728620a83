//! Keeping the rind binary out of the container's reach (CVE-2019-5736).
//!
//! Until `execve`, the container's init is a fork of rind, so `/proc/self/exe` in it is the
//! host's rind binary. A container whose program is a script starting `#!/proc/self/exe` makes
//! the kernel run that binary inside the container, where a second process can hold it open
//! and, once rind exits, write to it: the next `rind` on the host runs the attacker's code.
//!
//! The defence is runc's: before starting container processes, rind re-executes itself from a
//! read-only view of its own binary, so `/proc/self/exe` names a file no one can write. The
//! view is an overlayfs whose lower layers are the binary's directory and an empty tmpfs, made
//! with the new mount API and never attached anywhere: it lives exactly as long as the
//! processes running from it, and leaves nothing in any mount table. Where overlayfs cannot be
//! used, the binary is copied into a sealed memfd instead (slower: a full copy per start).
//!
//! A binary already on a read-only filesystem (or already sealed) needs none of this.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;
use nix::sys::statfs::fstatfs;

use crate::error::{Cause, StepContext, SysError};
use crate::linux::fsmount;
use crate::linux::mount_options::MOUNT_ATTR_RDONLY;
use crate::logging;

/// Re-executes the current process from a sealed copy of its binary when its binary could be
/// written through `/proc/self/exe`; returns only when no re-execution is needed.
pub fn ensure() -> Result<(), SysError> {
    let exe = open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "open /proc/self/exe".to_string())?;
    if is_safe(&exe) {
        return Ok(());
    }
    let path = std::fs::read_link("/proc/self/exe").step(|| "read /proc/self/exe".to_string())?;
    let sealed = match overlay_view(&path) {
        Ok(fd) => fd,
        Err(e) => {
            logging::debug(|| {
                format!(
                    "overlayfs seal of {} failed ({e}); copying to a memfd",
                    path.display()
                )
            });
            memfd_copy(&exe)?
        }
    };
    reexec(&sealed)
}

/// True when writes through `exe` are impossible: a read-only mount (which includes rind's
/// own overlay view), or a memfd sealed against writing.
fn is_safe(exe: &OwnedFd) -> bool {
    // Rootless: container processes run as the caller or as ids of its subordinate ranges,
    // privileged only in their own user namespace. A binary the caller cannot write (root's
    // /usr/bin/rind), they cannot write either, and the re-execution would only cost time
    // (a memfd copy: an ordinary user cannot mount the overlayfs view). The same holds for
    // root in rootless podman's user namespace, whose ids are the user's and its ranges.
    if crate::rootless::active()
        && nix::unistd::access("/proc/self/exe", nix::unistd::AccessFlags::W_OK).is_err()
        && crate::rootless::without_host_privilege()
    {
        return true;
    }
    if let Ok(st) = fstatfs(exe)
        && st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
    {
        return true;
    }
    // SAFETY: F_GET_SEALS on an open descriptor; fails harmlessly on files that are not memfds.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_WRITE != 0
}

fn cstring(b: &[u8]) -> Result<CString, Errno> {
    CString::new(b).map_err(|_| Errno::EINVAL)
}

fn new_fd(r: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = Errno::result(r)?;
    // SAFETY: the kernel just returned this new descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn fs_create(fstype: &str, options: &[(&str, String)]) -> Result<OwnedFd, Errno> {
    let fs = fsmount::fsopen(fstype)?;
    for (key, value) in options {
        fsmount::fsconfig(&fs, key, Some(value))?;
    }
    fsmount::fsconfig_create(&fs)?;
    fsmount::fsmount(&fs, MOUNT_ATTR_RDONLY)
}

/// The binary opened through a detached, read-only overlayfs of its directory.
fn overlay_view(path: &Path) -> Result<OwnedFd, Errno> {
    let dir = path.parent().ok_or(Errno::EINVAL)?;
    let name = path.file_name().ok_or(Errno::EINVAL)?;
    // overlayfs without an upper layer needs two lower layers, and they may not overlap: the
    // second is an empty tmpfs, named through /proc/self/fd because it is attached nowhere.
    let empty = fs_create("tmpfs", &[("size", "4k".into())])?;
    let lower = format!(
        "{}:/proc/self/fd/{}",
        escape_overlay_path(dir),
        empty.as_raw_fd()
    );
    let view = fs_create("overlay", &[("lowerdir", lower)])?;
    openat(
        &view,
        name,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// overlayfs splits `lowerdir` on `:` and treats `\` as an escape.
fn escape_overlay_path(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        if c == ':' || c == '\\' || c == ',' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A copy of the binary in a memfd sealed against any change.
fn memfd_copy(exe: &OwnedFd) -> Result<OwnedFd, SysError> {
    // SAFETY: valid C string; returns a new fd or -1.
    let fd = new_fd(unsafe {
        libc::memfd_create(
            c"rind".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        ) as libc::c_long
    })
    .step(|| "memfd_create".to_string())?;
    let mut src = std::fs::File::from(exe.try_clone().step(|| "dup /proc/self/exe".to_string())?);
    let mut dst = std::fs::File::from(fd.try_clone().step(|| "dup memfd".to_string())?);
    std::io::copy(&mut src, &mut dst)
        .map_err(|e| SysError::new("copy rind into a memfd", Cause::from(e)))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS with a constant on our own memfd.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })
        .step(|| "seal the memfd".to_string())?;
    Ok(fd)
}

/// execveat(fd, "", argv, environ, AT_EMPTY_PATH) with this process's own arguments.
fn reexec(fd: &OwnedFd) -> Result<(), SysError> {
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()
        .step(|| "re-exec: argument contains NUL".to_string())?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect::<Result<_, _>>()
        .step(|| "re-exec: environment contains NUL".to_string())?;
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of valid C strings that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            env_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(SysError::new(
        "re-exec rind from its sealed binary",
        Errno::result(r).unwrap_err(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_paths_escape_separators() {
        assert_eq!(escape_overlay_path(Path::new("/a:b,c")), "/a\\:b\\,c");
        assert_eq!(escape_overlay_path(Path::new("/usr/bin")), "/usr/bin");
    }
}
