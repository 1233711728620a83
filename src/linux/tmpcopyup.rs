//! The `tmpcopyup` mount extension (podman and CRI-O send it): a tmpfs mounted over a
//! directory of the image, starting with a copy of that directory's content.
//!
//! The tmpfs is made detached with the new mount API (`fsopen`, `fsconfig`, `fsmount`), filled
//! through its directory fd, and only then moved onto the target (`move_mount`). Nothing is
//! mounted anywhere else on the way, and the copy reads the image's files before the tmpfs
//! hides them.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::mount::MsFlags;
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, fchmodat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchownat};

use super::fsmount::{
    MountAttr, fsconfig, fsconfig_create, fsmount, fsopen, mount_setattr, move_mount_to_fd,
};
use super::mount_options::{
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MountOptions,
};
use crate::error::{StepContext, SysError};

/// How deep the copied tree may be (a guard against symlink-free but absurd nesting).
const MAX_DEPTH: usize = 256;

/// Mounts a tmpfs on `target` (the directory `dest`, resolved in the rootfs) holding a copy of
/// what was there. `fs_source` is the mount's source, as `/proc/mounts` shows it (the spec's
/// `source`, podman's "tmpfs"; a mount made with `fsopen` is "none" unless it is set).
pub fn mount(
    target: &OwnedFd,
    fs_source: &str,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), SysError> {
    let show = dest.display();
    let source = openat(
        target,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open {show} to copy up"))?;
    let fs = fsopen("tmpfs").step(|| "fsopen tmpfs".to_string())?;
    fsconfig(&fs, "source", Some(fs_source))
        .step(|| format!("tmpfs source {fs_source:?} for {show}"))?;
    for opt in &opts.data {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        fsconfig(&fs, key, value).step(|| format!("tmpfs option {opt:?} for {show}"))?;
    }
    fsconfig_create(&fs).step(|| format!("create tmpfs for {show}"))?;
    let mut attrs = 0;
    for (flag, attr) in [
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
    ] {
        if opts.flags.contains(flag) {
            attrs |= attr;
        }
    }
    let mnt = fsmount(&fs, attrs).step(|| format!("fsmount tmpfs for {show}"))?;

    // The tmpfs root takes the directory's mode and owner, then its content; a mode=, uid= or
    // gid= in the options wins (runc puts the directory's mode before the options, so podman's
    // --tmpfs /dir:mode=1777 gets 1777). (The mount fd is a path-only handle: a real directory
    // fd is opened through it.)
    let top = openat(
        &mnt,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open tmpfs for {show}"))?;
    let st = nix::sys::stat::fstat(&source).step(|| format!("stat {show}"))?;
    let given = |key: &str| opts.data.iter().any(|o| o.starts_with(key));
    if !given("mode=") {
        nix::sys::stat::fchmod(&top, Mode::from_bits_truncate(st.st_mode & 0o7777))
            .step(|| format!("chmod tmpfs for {show}"))?;
    }
    let uid = (!given("uid=")).then_some(Uid::from_raw(st.st_uid));
    let gid = (!given("gid=")).then_some(Gid::from_raw(st.st_gid));
    nix::unistd::fchown(&top, uid, gid).step(|| format!("chown tmpfs for {show}"))?;
    copy_dir(&source, &top, 0).step(|| format!("copy {show} into its tmpfs"))?;
    drop(top);
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let ro = MountAttr {
            set: MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        mount_setattr(&mnt, false, ro).step(|| format!("make tmpfs on {show} read-only"))?;
    }
    move_mount_to_fd(&mnt, target).step(|| format!("move tmpfs onto {show}"))
}

/// Copies the entries of directory `src` into directory `dst`: directories (recursively),
/// regular files, symlinks, with modes and owners. Sockets, fifos and devices are skipped:
/// an image directory meant for a tmpfs does not hold them.
fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: usize) -> Result<(), Errno> {
    if depth > MAX_DEPTH {
        return Err(Errno::ELOOP);
    }
    let dup = nix::unistd::dup(src)?;
    let mut dir = nix::dir::Dir::from_fd(dup)?;
    for entry in dir.iter() {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFDIR => {
                mkdirat(dst, name, Mode::from_bits_truncate(0o700))?;
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                copy_dir(&s, &d, depth + 1)?;
            }
            SFlag::S_IFREG => {
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let (mut s, mut d) = (std::fs::File::from(s), std::fs::File::from(d));
                std::io::copy(&mut s, &mut d)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name)?;
                nix::unistd::symlinkat(target.as_os_str(), dst, name)?;
            }
            _ => continue,
        }
        fchownat(
            dst,
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFLNK {
            fchmodat(dst, name, mode, FchmodatFlags::FollowSymlink)?;
        }
    }
    Ok(())
}
