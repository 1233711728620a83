//! The copy fallback: applies a layer kept in overlayfs form onto a plain directory, as
//! overlayfs would show it. Whiteout devices delete, opaque directories are emptied first,
//! everything else is copied with its owner (where the store keeps owners: [`Owners`]), mode,
//! times and xattrs; hardlinks within the layer stay hardlinks.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{
    FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, futimens, mkdirat,
    mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat, symlinkat};

use crate::image::ImageError;
use crate::image::layer::Owners;
use crate::image::layer::rooted::{
    RootDir, fget_xattr, flist_xattr, fset_xattr, is_dir, is_whiteout, list_dir, remove_all_at,
    stat_at,
};
use crate::image::layer::whiteout::is_opaque;

struct Copier {
    /// The store's layers carry their owners (root on the host, or a mapped user namespace).
    chown: bool,
    devices: bool,
    /// Attributes the filesystem refuses are dropped, not an error (`trusted.` ones need
    /// host privilege, `security.` ones CAP_SETFCAP).
    tolerant: bool,
    /// (dev, ino) of a source file with several links -> (dst dir fd dup, name) of its copy.
    links: HashMap<(u64, u64), (OwnedFd, std::ffi::OsString)>,
    deferred: Vec<(OwnedFd, TimeSpec)>,
}

/// Applies the layer at `layer` onto `target`, as a store whose files belong to `owners`.
pub fn apply(layer: &Path, target: &Path, owners: &Owners) -> Result<(), ImageError> {
    let err = |what: &str, p: &Path, e: Errno| {
        ImageError::sys(format!("copy layer: {what} {}", p.display()), e)
    };
    let src = RootDir::open(layer).map_err(|e| err("open", layer, e))?;
    let dst = RootDir::open(target).map_err(|e| err("open", target, e))?;
    let mut c = Copier {
        chown: owners.keeps(0, 0) == Ok(true),
        devices: owners.makes_devices(),
        tolerant: !owners.sets_trusted(),
        links: HashMap::new(),
        deferred: Vec::new(),
    };
    let src_fd = reopen(src.fd()).map_err(|e| err("open", layer, e))?;
    let dst_fd = reopen(dst.fd()).map_err(|e| err("open", target, e))?;
    c.copy_dir(&src_fd, &dst_fd, layer)
        .map_err(|e| err("copy", layer, e))?;
    for (fd, t) in c.deferred.into_iter().rev() {
        futimens(fd.as_fd(), &t, &t).map_err(|e| err("set times in", target, e))?;
    }
    Ok(())
}

fn reopen(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    openat(
        fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn open_dir(parent: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn mtime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_mtime, st.st_mtime_nsec)
}

/// Gives entry `name` of `dir` the modification time (and access time) `st` records, without
/// following a symbolic link.
fn keep_mtime(dir: BorrowedFd, name: &OsStr, st: &FileStat) -> Result<(), Errno> {
    let t = mtime(st);
    utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink)
}

impl Copier {
    fn copy_dir(&mut self, src: &OwnedFd, dst: &OwnedFd, shown: &Path) -> Result<(), Errno> {
        for name in list_dir(src.as_fd())? {
            let st = stat_at(src.as_fd(), &name)?.ok_or(Errno::ENOENT)?;
            if is_whiteout(&st) {
                remove_all_at(dst.as_fd(), &name)?;
                continue;
            }
            if is_dir(&st) {
                let s = open_dir(src.as_fd(), &name)?;
                let existing = stat_at(dst.as_fd(), &name)?;
                let keep = matches!(&existing, Some(e) if is_dir(e)) && !is_opaque(&s)?;
                if !keep {
                    remove_all_at(dst.as_fd(), &name)?;
                    mkdirat(
                        dst.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o700),
                    )?;
                }
                let d = open_dir(dst.as_fd(), &name)?;
                self.meta(s.as_fd(), d.as_fd(), &st)?;
                self.copy_dir(&s, &d, &shown.join(&name))?;
                fchmod(d.as_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))?;
                self.deferred.push((d, mtime(&st)));
                continue;
            }
            remove_all_at(dst.as_fd(), &name)?;
            let kind = st.st_mode & libc::S_IFMT;
            if kind == libc::S_IFREG
                && st.st_nlink > 1
                && let Some((dir, first)) = self.links.get(&(st.st_dev, st.st_ino))
            {
                linkat(
                    dir.as_fd(),
                    first.as_os_str(),
                    dst.as_fd(),
                    name.as_os_str(),
                    AtFlags::empty(),
                )?;
                continue;
            }
            match kind {
                libc::S_IFREG => {
                    let s = File::from(openat(
                        src.as_fd(),
                        name.as_os_str(),
                        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )?);
                    let d = File::from(openat(
                        dst.as_fd(),
                        name.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o600),
                    )?);
                    // copy_file_range (reflinks where the filesystem can).
                    std::io::copy(&mut &s, &mut &d)
                        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
                    self.meta(s.as_fd(), d.as_fd(), &st)?;
                    fchmod(d.as_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))?;
                    futimens(d.as_fd(), &mtime(&st), &mtime(&st))?;
                    if st.st_nlink > 1 {
                        self.links
                            .insert((st.st_dev, st.st_ino), (reopen(dst.as_fd())?, name.clone()));
                    }
                }
                libc::S_IFLNK => {
                    let target = readlinkat(src.as_fd(), name.as_os_str())?;
                    symlinkat(target.as_os_str(), dst.as_fd(), name.as_os_str())?;
                    self.owner_at(dst.as_fd(), &name, &st)?;
                    keep_mtime(dst.as_fd(), &name, &st)?;
                }
                _ => {
                    let sflag = SFlag::from_bits_truncate(kind);
                    if sflag != SFlag::S_IFIFO && !self.devices {
                        continue;
                    }
                    mknodat(
                        dst.as_fd(),
                        name.as_os_str(),
                        sflag,
                        Mode::from_bits_truncate(0o600),
                        st.st_rdev,
                    )?;
                    self.owner_at(dst.as_fd(), &name, &st)?;
                    fchmodat(
                        dst.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(st.st_mode & 0o7777),
                        FchmodatFlags::FollowSymlink,
                    )?;
                    keep_mtime(dst.as_fd(), &name, &st)?;
                }
            }
        }
        Ok(())
    }

    /// Owner, then xattrs (after chown, which clears security.capability), skipping the
    /// overlayfs control xattrs that the layer form uses.
    fn meta(&self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, st: &FileStat) -> Result<(), Errno> {
        if self.chown {
            fchown(
                dst,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
            )?;
        }
        for key in flist_xattr(src)? {
            if key.starts_with(b"trusted.overlay.") || key.starts_with(b"user.overlay.") {
                continue;
            }
            let Ok(k) = std::str::from_utf8(&key) else {
                continue;
            };
            if let Some(v) = fget_xattr(src, k)? {
                match fset_xattr(dst, &key, &v) {
                    Ok(()) | Err(Errno::EOPNOTSUPP) => {}
                    Err(Errno::EPERM) if self.tolerant => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    fn owner_at(&self, dir: BorrowedFd<'_>, name: &OsStr, st: &FileStat) -> Result<(), Errno> {
        if self.chown {
            fchownat(
                dir,
                name,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
        }
        Ok(())
    }
}
