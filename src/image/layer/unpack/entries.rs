//! The handlers for files, hardlinks and special files, and the metadata they share: owner,
//! xattrs, mode and times, applied in the order that keeps setuid bits and file capabilities
//! (chown clears both, so it goes first).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, futimens, mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat};

use super::{Meta, Unpacker};
use crate::image::ImageError;
use crate::image::layer::rooted::{
    OpenDirError, RelPath, clean_path, fset_xattr, is_dir, is_whiteout, stat_at,
};
use crate::image::layer::whiteout::{LowerEntry, lookup_lower};

impl Unpacker<'_> {
    pub(super) fn regular<R: Read>(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        name: &OsStr,
        meta: Meta,
        entry: &mut tar::Entry<'_, R>,
        compressed_so_far: &dyn Fn() -> u64,
    ) -> Result<(), ImageError> {
        self.replace(parent, rel, name)?;
        let fd = openat(
            parent,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| self.sys("create", rel, e))?;
        let mut file = File::from(fd);
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ImageError::malformed(
                        format!("layer {}: read {rel}", self.layer),
                        e,
                    ));
                }
            };
            self.stats.written += n as u64;
            let budget = self.limits.budget(compressed_so_far());
            if self.stats.written > budget {
                return Err(ImageError::Limit {
                    layer: self.layer.clone(),
                    reason: format!(
                        "files expand past {budget} bytes (ratio limit {}:1)",
                        self.limits.max_ratio
                    ),
                    knob: "--max-layer-ratio/--max-layer-bytes or RIND_MAX_LAYER_RATIO/RIND_MAX_LAYER_BYTES",
                });
            }
            file.write_all(&self.buf[..n]).map_err(|e| {
                self.sys(
                    "write",
                    rel,
                    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                )
            })?;
        }
        let fd = file.as_fd();
        self.set_owner(fd, rel, &meta)?;
        self.set_xattrs(fd, rel, &meta)?;
        fchmod(fd, Mode::from_bits_truncate(meta.mode)).map_err(|e| self.sys("chmod", rel, e))?;
        futimens(fd, &meta.mtime, &meta.mtime).map_err(|e| self.sys("set times of", rel, e))?;
        Ok(())
    }

    pub(super) fn hardlink(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        name: &OsStr,
        target: &[u8],
        raw: &[u8],
    ) -> Result<(), ImageError> {
        let trel =
            clean_path(target).map_err(|r| self.refused(raw, format!("hardlink target: {r}")))?;
        let Some(tname) = trel.file_name().map(OsStr::to_os_string) else {
            return Err(self.refused(raw, "hardlink to the root"));
        };
        let tparent = match self.root.open_dir(&trel.parent()) {
            Ok(fd) => Some(fd),
            Err(OpenDirError::Symlink) => {
                return Err(self.refused(raw, "hardlink target goes through a symlink"));
            }
            Err(_) => None,
        };
        let tstat = match &tparent {
            Some(fd) => stat_at(fd.as_fd(), &tname).map_err(|e| self.sys("stat", &trel, e))?,
            None => None,
        };
        let tparent = match tstat {
            Some(st) if is_dir(&st) => return Err(self.refused(raw, "hardlink to a directory")),
            Some(st) if is_whiteout(&st) => {
                return Err(self.refused(raw, "hardlink to a deleted file"));
            }
            Some(st) => {
                if let Some(cur) = stat_at(parent, name).map_err(|e| self.sys("stat", rel, e))?
                    && cur.st_ino == st.st_ino
                    && cur.st_dev == st.st_dev
                {
                    return Ok(());
                }
                tparent.expect("stat succeeded in it")
            }
            None => {
                // Not in this layer: a regular file of a lower layer is copied up first, as
                // overlayfs would on write, so that the link stays inside this layer.
                match lookup_lower(self.lowers, &trel)
                    .map_err(|e| self.sys("look up lower layers for", &trel, e))?
                {
                    LowerEntry::Found { layer, stat }
                        if stat.st_mode & libc::S_IFMT == libc::S_IFREG =>
                    {
                        let tp = self.ensure_dir(&trel.parent(), raw)?;
                        self.copy_up(layer, &trel, tp.as_fd(), &tname, &stat)?;
                        tp
                    }
                    _ => {
                        return Err(
                            self.refused(raw, "hardlink target is not a file in this image")
                        );
                    }
                }
            }
        };
        self.replace(parent, rel, name)?;
        linkat(
            tparent.as_fd(),
            tname.as_os_str(),
            parent,
            name,
            AtFlags::empty(),
        )
        .map_err(|e| self.sys("hardlink", rel, e))
    }

    fn copy_up(
        &mut self,
        layer: usize,
        rel: &RelPath,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        st: &nix::sys::stat::FileStat,
    ) -> Result<(), ImageError> {
        let src_parent = self.lowers[layer]
            .open_dir(&rel.parent())
            .map_err(|_| self.sys("open lower", rel, Errno::ENOENT))?;
        let src = openat(
            src_parent.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.sys("open lower", rel, e))?;
        let dst = openat(
            parent,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| self.sys("copy up", rel, e))?;
        let (mut src, mut dst) = (File::from(src), File::from(dst));
        std::io::copy(&mut src, &mut dst).map_err(|e| {
            self.sys(
                "copy up",
                rel,
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })?;
        let meta = Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
            xattrs: Vec::new(),
        };
        self.set_owner(dst.as_fd(), rel, &meta)?;
        fchmod(dst.as_fd(), Mode::from_bits_truncate(meta.mode))
            .map_err(|e| self.sys("chmod", rel, e))?;
        futimens(dst.as_fd(), &meta.mtime, &meta.mtime)
            .map_err(|e| self.sys("set times of", rel, e))
    }

    pub(super) fn special<R: Read>(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        name: &OsStr,
        kind: tar::EntryType,
        entry: &tar::Entry<'_, R>,
        meta: Meta,
    ) -> Result<(), ImageError> {
        let sflag = match kind {
            tar::EntryType::Char => SFlag::S_IFCHR,
            tar::EntryType::Block => SFlag::S_IFBLK,
            _ => SFlag::S_IFIFO,
        };
        if sflag != SFlag::S_IFIFO && !self.owners.makes_devices() {
            self.stats.skipped_devices += 1;
            return Ok(());
        }
        let h = entry.header();
        let major = h.device_major().ok().flatten().unwrap_or(0);
        let minor = h.device_minor().ok().flatten().unwrap_or(0);
        self.replace(parent, rel, name)?;
        mknodat(
            parent,
            name,
            sflag,
            Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(major.into(), minor.into()),
        )
        .map_err(|e| self.sys("create device", rel, e))?;
        self.finish_at(parent, rel, name, &meta, true)
    }

    /// Owner, mode and times of a symlink or device, which cannot be opened to use the f* calls.
    pub(super) fn finish_at(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        name: &OsStr,
        meta: &Meta,
        chmod: bool,
    ) -> Result<(), ImageError> {
        if self.keeps_owner(rel, meta.uid, meta.gid)? {
            fchownat(
                parent,
                name,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| self.sys("chown", rel, e))?;
        }
        if chmod {
            // The entry was just created as a device or fifo, not a symlink, so this cannot
            // be sent elsewhere.
            fchmodat(
                parent,
                name,
                Mode::from_bits_truncate(meta.mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| self.sys("chmod", rel, e))?;
        }
        if !meta.xattrs.is_empty() {
            self.stats.dropped_xattrs += meta.xattrs.len() as u64;
        }
        utimensat(
            parent,
            name,
            &meta.mtime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.sys("set times of", rel, e))
    }

    pub(super) fn set_owner(
        &self,
        fd: BorrowedFd<'_>,
        rel: &RelPath,
        meta: &Meta,
    ) -> Result<(), ImageError> {
        if self.keeps_owner(rel, meta.uid, meta.gid)? {
            fchown(
                fd,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .map_err(|e| self.sys("chown", rel, e))?;
        }
        Ok(())
    }

    pub(super) fn set_xattrs(
        &mut self,
        fd: BorrowedFd<'_>,
        rel: &RelPath,
        meta: &Meta,
    ) -> Result<(), ImageError> {
        for (k, v) in &meta.xattrs {
            if k.starts_with(b"trusted.overlay.") || k.starts_with(b"user.overlay.") {
                self.stats.dropped_xattrs += 1;
                continue;
            }
            match fset_xattr(fd, k, v) {
                Ok(()) => {}
                Err(Errno::EOPNOTSUPP | Errno::EPERM)
                    if k.starts_with(b"trusted.") || !self.owners.sets_trusted() =>
                {
                    self.stats.dropped_xattrs += 1
                }
                Err(Errno::EOPNOTSUPP) => self.stats.dropped_xattrs += 1,
                Err(e) => {
                    return Err(self.sys(
                        &format!("set xattr {}", String::from_utf8_lossy(k)),
                        rel,
                        e,
                    ));
                }
            }
        }
        Ok(())
    }
}
