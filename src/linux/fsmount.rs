//! The new mount API's system calls (`fsopen`, `fsconfig`, `fsmount`), which libc and nix do
//! not wrap: a filesystem made this way is a detached mount, attached nowhere until a caller
//! moves it (tmpcopyup) or only opens files through it (the sealed rind binary).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

fn cstring(s: &[u8]) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

/// `fsopen(2)`: a new filesystem context of type `fstype`, close-on-exec.
pub fn fsopen(fstype: &str) -> Result<OwnedFd, Errno> {
    let name = cstring(fstype.as_bytes())?;
    // SAFETY: a valid C string; returns a new fd or -1.
    let fd =
        Errno::result(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: the kernel just created this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `fsconfig(2)`: sets `key` to `value`, or sets the flag `key` when `value` is None.
pub fn fsconfig(fs: &OwnedFd, key: &str, value: Option<&str>) -> Result<(), Errno> {
    let k = cstring(key.as_bytes())?;
    let v = value.map(|v| cstring(v.as_bytes())).transpose()?;
    let (cmd, vptr) = match &v {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: valid C strings (or null for a flag) that outlive the call.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, k.as_ptr(), vptr, 0)
    })
    .map(drop)
}

/// `fsconfig(FSCONFIG_CMD_CREATE)`: creates the superblock from the options set so far.
pub fn fsconfig_create(fs: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: a command without key or value.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

/// `fsmount(2)`: a detached, close-on-exec mount of the created filesystem, with the
/// `MOUNT_ATTR_*` bits in `attrs`.
pub fn fsmount(fs: &OwnedFd, attrs: u64) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments; returns a new fd or -1.
    let fd = Errno::result(unsafe {
        libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs)
    })?;
    // SAFETY: the kernel just created this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
