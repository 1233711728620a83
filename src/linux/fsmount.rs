//! The new mount API's system calls, which libc and nix do not wrap: `fsopen`, `fsconfig` and
//! `fsmount` make a filesystem as a detached mount, `open_tree` clones an existing one detached,
//! `mount_setattr` changes a mount's attributes (read-only, an id mapping), and `move_mount`
//! attaches a detached mount. Until it is moved, a detached mount is attached nowhere
//! (tmpcopyup, id-mapped mounts) or only opened through (the sealed rind binary); closing its
//! last fd dissolves it.

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

/// `open_tree(2)` with `OPEN_TREE_CLONE`: a detached, close-on-exec copy of the mount at
/// `path` (of the whole tree under it when `recursive`), attached nowhere until moved.
pub fn open_tree_clone(path: &std::path::Path, recursive: bool) -> Result<OwnedFd, Errno> {
    use std::os::unix::ffi::OsStrExt;
    let p = cstring(path.as_os_str().as_bytes())?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: a valid C string; returns a new fd or -1.
    let fd = Errno::result(unsafe {
        libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags)
    })?;
    // SAFETY: the kernel just created this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `open_tree(2)` with `OPEN_TREE_CLONE | AT_EMPTY_PATH`: a detached copy of the mount `fd`
/// is on, rooted at `fd`'s file (of the whole tree under it when `recursive`). The file is
/// named by the descriptor alone: no path is resolved, procfs is not involved.
pub fn open_tree_clone_fd(fd: &impl AsRawFd, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: an fd and an empty C string; returns a new fd or -1.
    let fd = Errno::result(unsafe {
        libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags)
    })?;
    // SAFETY: the kernel just created this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A bind mount of the file or directory `source` is open on onto the one `target` is open
/// on, both named by descriptor (`open_tree` then `move_mount`): what mount(2) would do with
/// two `/proc/self/fd/N` paths, without a walk through whatever procfs is at `/proc`. The
/// source's mount must be in this mount namespace. The clone is attached before this
/// returns, so closing it costs nothing (a detached mount's teardown waits for an RCU grace
/// period).
pub fn bind_fd(source: &impl AsRawFd, target: &impl AsRawFd, recursive: bool) -> Result<(), Errno> {
    let tree = open_tree_clone_fd(source, recursive)?;
    move_mount_to_fd(&tree, target)
}

/// What `mount_setattr(2)` changes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MountAttr {
    pub set: u64,
    pub clear: u64,
    /// A user namespace fd, for `MOUNT_ATTR_IDMAP`.
    pub userns: Option<RawFd>,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr)` on the mount `fd` names.
pub fn mount_setattr(fd: &impl AsRawFd, recursive: bool, attr: MountAttr) -> Result<(), Errno> {
    let raw = libc::mount_attr {
        attr_set: attr.set,
        attr_clr: attr.clear,
        propagation: 0,
        userns_fd: attr.userns.map_or(0, |f| f as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: the path is a valid C string, `raw` lives across the call, and the size matches.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
    .map(drop)
}

/// `move_mount(2)` from the detached mount `from` onto the file or directory `to` (an fd, as
/// an `O_PATH` one from a lookup inside the rootfs).
pub fn move_mount_to_fd(from: &impl AsRawFd, to: &impl AsRawFd) -> Result<(), Errno> {
    // SAFETY: two fds and empty C strings.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}
