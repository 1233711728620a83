//! `linux.readonlyPaths` and `linux.maskedPaths`, applied inside the new root (after
//! pivot_root, before the program).
//!
//! Everything here happens in a root the image laid out, with the container's `/proc` at
//! `/proc`, so nothing is named by a path the kernel resolves later:
//!
//! - each target is opened once, inside the root, without following a symlink (a symlink on
//!   the way is refused: a mask or a read-only bind must land where the spec says);
//! - binds go from descriptor to descriptor (`open_tree` + `move_mount`), never through a
//!   `/proc/self/fd/N` path, which the container's `/proc` would resolve;
//! - a masked file gets `/dev/null`, opened once and checked to be the character device 1:3
//!   before anything is bound from it. Bound by path, a `/dev/null` swapped for a symlink to
//!   `/proc/sys/kernel/core_pattern` at the right moment made the masks binds of
//!   `core_pattern` (CVE-2025-31133).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::unistd::chdir;
use oci_spec::runtime::Spec;

use super::fsmount::{self, MountAttr};
use super::mount_options::MOUNT_ATTR_RDONLY;
use super::paths::RootDir;
use crate::error::{Cause, StepContext, SysError};

/// Readonly paths become read-only bind mounts of themselves; masked paths are covered (a
/// read-only empty tmpfs for a directory, /dev/null for a file). Missing paths are skipped.
pub fn mask_and_protect(spec: &Spec) -> Result<(), SysError> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let root = RootDir::open(Path::new("/"))?;
    for p in linux.readonly_paths().iter().flatten() {
        let Some(fd) = open_target(&root, p, "readonly path")? else {
            continue;
        };
        fsmount::bind_fd(&fd, &fd, true).step(|| format!("bind readonly path {p}"))?;
        // The top of the path is now the new bind. Only read-only is added: the nosuid,
        // nodev and noexec it had from its mount (procfs has all three) stay, as with runc.
        let top = open_target(&root, p, "readonly path")?
            .ok_or_else(|| SysError::new(format!("readonly path {p}"), Errno::ENOENT))?;
        let ro = MountAttr {
            set: MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        fsmount::mount_setattr(&top, false, ro)
            .step(|| format!("make readonly path {p} read-only"))?;
    }
    // A masked directory gets an empty read-only tmpfs. The first one is mounted, and the
    // others are bind mounts of it: the same empty directory, without a filesystem instance
    // each to set up now and to tear down when the container exits.
    let mut empty_dir: Option<OwnedFd> = None;
    let mut null: Option<OwnedFd> = None;
    for p in linux.masked_paths().iter().flatten() {
        let Some(fd) = open_target(&root, p, "masked path")? else {
            continue;
        };
        let is_dir = nix::sys::stat::fstat(&fd)
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        match (is_dir, &empty_dir) {
            (false, _) => {
                if null.is_none() {
                    null = Some(dev_null(&root, p)?);
                }
                let null = null.as_ref().expect("opened above");
                fsmount::bind_fd(null, &fd, false).step(|| format!("mask {p}"))?;
            }
            (true, Some(empty)) => {
                fsmount::bind_fd(empty, &fd, false).step(|| format!("mask {p}"))?;
            }
            (true, None) => {
                mount_empty_tmpfs(&fd).step(|| format!("mask {p}"))?;
                // Opened again: the path now leads to the new mount's root.
                empty_dir = open_target(&root, p, "masked path")?;
            }
        }
    }
    // The tmpfs mount above entered its target.
    chdir("/").step(|| "chdir /".to_string())
}

/// The target of a readonly or masked path, opened inside the root with no symlink on the
/// way; None when it does not exist.
fn open_target(root: &RootDir, p: &str, what: &str) -> Result<Option<OwnedFd>, SysError> {
    match root.open_path_without_symlinks(Path::new(p)) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(Errno::ELOOP) => Err(SysError::new(
            format!("{what} {p}"),
            Cause::Other("a symlink on the way (refused: it must be covered where it is)".into()),
        )),
        Err(e) => Err(SysError::new(format!("{what} {p}"), e)),
    }
}

/// `/dev/null` of the container, opened once and checked to be the null device (a character
/// device 1:3) before a masked file (`masked`, for messages) is bound from it.
fn dev_null(root: &RootDir, masked: &str) -> Result<OwnedFd, SysError> {
    let step = || format!("mask {masked}: open /dev/null");
    let fd = root
        .open_with(Path::new("/dev/null"), OFlag::O_PATH)
        .step(step)?;
    let st = nix::sys::stat::fstat(&fd).step(step)?;
    let null = nix::sys::stat::makedev(1, 3);
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != null {
        return Err(SysError::new(
            format!("mask {masked}"),
            Cause::Other("/dev/null is not the null device (character device 1:3)".into()),
        ));
    }
    Ok(fd)
}

/// Mounts an empty read-only tmpfs on the directory `fd` is open on: entered and mounted on
/// as ".", or, where it cannot be entered, made detached and moved there.
fn mount_empty_tmpfs(fd: &OwnedFd) -> Result<(), Errno> {
    let none = None::<&str>;
    if nix::unistd::fchdir(fd).is_ok() {
        return mount(Some("tmpfs"), ".", Some("tmpfs"), MsFlags::MS_RDONLY, none);
    }
    let fs = fsmount::fsopen("tmpfs")?;
    fsmount::fsconfig_create(&fs)?;
    let mnt = fsmount::fsmount(&fs, MOUNT_ATTR_RDONLY)?;
    fsmount::move_mount_to_fd(&mnt, &fd.as_fd())
}
