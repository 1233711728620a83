//! Applies one layer's tar stream to an empty directory, in the overlayfs form the store keeps.
//!
//! Rules (image-spec layer.md), and the attacks each entry is checked against:
//! - paths are cleaned; an absolute name is read as rooted (`/etc/x` is `etc/x`, `/` the root,
//!   as GNU tar and umoci read it), and a `..` component refuses the layer;
//! - every parent directory is opened with `RESOLVE_NO_SYMLINKS` (see [`super::rooted`]), so a
//!   symlink planted by an earlier entry, or a directory later replaced by a symlink, cannot be
//!   written through. A parent missing in this layer is looked up in the lower layers: a
//!   directory there is recreated here with the same metadata, a symlink there refuses the
//!   entry, exactly as if the layers were already merged;
//! - hardlink targets are resolved the same way and must be inside this layer (or a regular
//!   file in a lower one, which is then copied up);
//! - `.wh.NAME` becomes a 0/0 character device, `.wh..wh..opq` the opaque xattr on its
//!   directory, which may come before the directory's own entry;
//! - xattrs that would steer overlayfs (`trusted.overlay.*`, `user.overlay.*`) are dropped;
//! - entries and expanded bytes are counted against [`UnpackLimits`].

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fchmod, futimens, mkdirat, mknodat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchownat, symlinkat};

mod entries;

use super::limits::UnpackLimits;
use super::owners::Owners;
use super::rooted::{
    OpenDirError, RelPath, RootDir, clean_path, fset_xattr, is_dir, is_whiteout, remove_all_at,
    stat_at,
};
use super::whiteout::{self, LowerEntry, Whiteout, lookup_lower};
use crate::image::ImageError;

/// What unpacking one layer did.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct UnpackStats {
    pub entries: u64,
    /// File content bytes written (sparse regions included).
    pub written: u64,
    /// Device nodes not made because the store has no privilege on the host.
    pub skipped_devices: u64,
    /// xattrs not set: overlayfs control names, or ones the filesystem refused.
    pub dropped_xattrs: u64,
}

/// One layer being unpacked into `root`, above `lowers` (topmost first).
pub struct Unpacker<'a> {
    root: RootDir,
    lowers: &'a [RootDir],
    layer: String,
    limits: UnpackLimits,
    /// Who the files belong to, which decides what can be kept ([`Owners`]).
    owners: Owners,
    stats: UnpackStats,
    /// Directories whose mode and mtime are set last, because creating their children
    /// changes the mtime and a read-only mode would stop a non-root unpacker.
    deferred: Vec<(RelPath, u32, TimeSpec)>,
    /// Paths this layer turned into whiteouts; a later entry at the same path replaces the
    /// whiteout (and a directory there becomes opaque, since the lower one was deleted).
    whited: HashSet<RelPath>,
    buf: Vec<u8>,
}

/// Entry metadata, from the header and its PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: TimeSpec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'a> Unpacker<'a> {
    /// Prepares to unpack into `target`, an empty directory, for a store whose files belong to
    /// `owners`. `layer` names the layer in errors.
    pub fn new(
        target: &Path,
        lowers: &'a [RootDir],
        layer: impl Into<String>,
        limits: UnpackLimits,
        owners: Owners,
    ) -> Result<Self, ImageError> {
        let root = RootDir::open(target)
            .map_err(|e| ImageError::sys(format!("open {}", target.display()), e))?;
        Ok(Unpacker {
            root,
            lowers,
            layer: layer.into(),
            limits,
            owners,
            stats: UnpackStats::default(),
            deferred: Vec::new(),
            whited: HashSet::new(),
            buf: vec![0u8; 256 * 1024],
        })
    }

    /// Reads the whole tar stream and applies it. `compressed_so_far` reports the raw bytes
    /// read by the decoder, for the expansion limit on written bytes. On error the target is
    /// left partly written: the caller unpacks into a temporary directory and removes it.
    pub fn unpack(
        mut self,
        stream: impl Read,
        compressed_so_far: &dyn Fn() -> u64,
    ) -> Result<UnpackStats, ImageError> {
        let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let ended = std::rc::Rc::new(std::cell::Cell::new(false));
        let mut archive = tar::Archive::new(Counted {
            inner: stream,
            read: read.clone(),
            ended: ended.clone(),
        });
        let entries = archive
            .entries()
            .map_err(|e| ImageError::malformed(format!("layer {}", self.layer), e))?;
        // Where the last entry's data ends in the stream (its padding follows).
        let mut data_end = None;
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                // The stream ended in the last entry's padding, without the end-of-archive
                // blocks: Go's archive/tar reads that as the end (umoci 0.4.7's `insert` writes
                // such layers, and umoci, containerd and Docker unpack them). A stream cut in
                // an entry's data or header is still an error.
                Err(_)
                    if ended.get()
                        && data_end.is_some_and(|end| {
                            read.get() >= end && read.get() - end < TAR_BLOCK
                        }) =>
                {
                    break;
                }
                Err(e) => {
                    return Err(ImageError::malformed(
                        format!("layer {}: read tar entry", self.layer),
                        e,
                    ));
                }
            };
            data_end = Some(entry.raw_file_position() + entry.header().entry_size().unwrap_or(0));
            self.stats.entries += 1;
            if self.stats.entries > self.limits.max_entries {
                return Err(ImageError::Limit {
                    layer: self.layer.clone(),
                    reason: format!("more than {} entries", self.limits.max_entries),
                    knob: "--max-layer-entries or RIND_MAX_LAYER_ENTRIES",
                });
            }
            self.entry(entry, compressed_so_far)?;
        }
        self.finish_dirs()?;
        Ok(self.stats)
    }

    fn refused(&self, entry: &[u8], reason: impl Into<String>) -> ImageError {
        ImageError::Refused {
            layer: self.layer.clone(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.into(),
        }
    }

    fn sys(&self, step: &str, rel: &RelPath, e: Errno) -> ImageError {
        ImageError::sys(format!("layer {}: {step} {rel}", self.layer), e)
    }

    fn entry<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        compressed_so_far: &dyn Fn() -> u64,
    ) -> Result<(), ImageError> {
        let raw = entry.path_bytes().into_owned();
        let rel = clean_path(&raw).map_err(|r| self.refused(&raw, r.to_string()))?;
        let kind = entry.header().entry_type();
        let meta = self.meta(&mut entry, &raw)?;
        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            // The root itself ("./"): only its metadata can change.
            if !kind.is_dir() {
                return Err(self.refused(&raw, "the root must be a directory"));
            }
            self.set_owner(self.root.fd(), &rel, &meta)?;
            self.deferred.push((rel, meta.mode, meta.mtime));
            return Ok(());
        };
        let parent_rel = rel.parent();
        match whiteout::classify(&name) {
            Whiteout::Meta => return Ok(()),
            Whiteout::Opaque => {
                let dir = self.ensure_dir(&parent_rel, &raw)?;
                return self.mark_opaque(dir.as_fd(), &parent_rel);
            }
            Whiteout::Remove(target) => {
                let target = target.to_os_string();
                if target.is_empty() || target == "." || target == ".." {
                    return Err(self.refused(&raw, "whiteout of an invalid name"));
                }
                return self.whiteout(&parent_rel.join(&target), &raw);
            }
            Whiteout::None => {}
        }
        let parent = self.ensure_dir(&parent_rel, &raw)?;
        let pfd = parent.as_fd();
        use tar::EntryType as T;
        match kind {
            T::Directory => self.directory(pfd, &rel, &name, meta),
            T::Regular | T::Continuous | T::GNUSparse => {
                self.regular(pfd, &rel, &name, meta, &mut entry, compressed_so_far)
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refused(&raw, "symlink without a target"))?
                    .into_owned();
                self.replace(pfd, &rel, &name)?;
                symlinkat(OsStr::from_bytes(&target), pfd, name.as_os_str())
                    .map_err(|e| self.sys("create symlink", &rel, e))?;
                self.finish_at(pfd, &rel, &name, &meta, false)
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refused(&raw, "hardlink without a target"))?
                    .into_owned();
                self.hardlink(pfd, &rel, &name, &target, &raw)
            }
            T::Char | T::Block | T::Fifo => self.special(pfd, &rel, &name, kind, &entry, meta),
            // PAX global headers and unknown types carry nothing to create.
            _ => Ok(()),
        }
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>, raw: &[u8]) -> Result<Meta, ImageError> {
        let h = entry.header();
        let bad = |e: std::io::Error| self.refused(raw, format!("bad header: {e}"));
        let mut m = Meta {
            mode: h.mode().map_err(bad)? & 0o7777,
            uid: h.uid().map_err(bad)? as u32,
            gid: h.gid().map_err(bad)? as u32,
            mtime: TimeSpec::new(h.mtime().map_err(bad)? as i64, 0),
            xattrs: Vec::new(),
        };
        if let Some(exts) = entry.pax_extensions().map_err(bad)? {
            for ext in exts {
                let ext = ext.map_err(bad)?;
                let (k, v) = (ext.key_bytes(), ext.value_bytes());
                let num = || std::str::from_utf8(v).ok().map(str::trim);
                match k {
                    b"uid" => m.uid = num().and_then(|s| s.parse().ok()).unwrap_or(m.uid),
                    b"gid" => m.gid = num().and_then(|s| s.parse().ok()).unwrap_or(m.gid),
                    b"mtime" => {
                        if let Some(t) = num().and_then(parse_pax_time) {
                            m.mtime = t;
                        }
                    }
                    // An empty PAX value leaves the header's own value in place, as Go's
                    // archive/tar reads it (umoci, containerd and Docker unpack with it): an
                    // xattr given as empty is not set at all.
                    _ if v.is_empty() => {}
                    _ => {
                        if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                            m.xattrs.push((name.to_vec(), v.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(m)
    }

    /// Opens the directory `rel`, creating any missing component the way the merged lower
    /// layers have it. Refuses when a component is a symlink or not a directory.
    fn ensure_dir(&mut self, rel: &RelPath, raw: &[u8]) -> Result<OwnedFd, ImageError> {
        match self.root.open_dir(rel) {
            Ok(fd) => return Ok(fd),
            Err(OpenDirError::Symlink) => {
                return Err(self.refused(
                    raw,
                    "a parent directory is a symlink; refusing to write through it",
                ));
            }
            Err(OpenDirError::Other(e)) => return Err(self.sys("open", rel, e)),
            Err(OpenDirError::Missing | OpenDirError::NotDir) => {}
        }
        let mut dir = self
            .root
            .open_dir(&RelPath::default())
            .map_err(|_| self.sys("open", &RelPath::default(), Errno::EIO))?;
        for (k, comp) in rel.components().iter().enumerate() {
            let prefix = rel.prefix(k + 1);
            let st = stat_at(dir.as_fd(), comp).map_err(|e| self.sys("stat", &prefix, e))?;
            match st {
                Some(st) if is_dir(&st) => {}
                Some(st) if is_whiteout(&st) && self.whited.contains(&prefix) => {
                    // Deleted from the lower layers earlier in this layer, now used again as
                    // a directory: an opaque directory hides the deleted contents.
                    remove_all_at(dir.as_fd(), comp).map_err(|e| self.sys("remove", &prefix, e))?;
                    self.whited.remove(&prefix);
                    self.mkdir(dir.as_fd(), &prefix, 0o755, 0, 0, None)?;
                    let fd = self.open_child_dir(dir.as_fd(), &prefix)?;
                    self.mark_opaque(fd.as_fd(), &prefix)?;
                }
                Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                    return Err(self.refused(
                        raw,
                        format!("parent {prefix} is a symlink; refusing to write through it"),
                    ));
                }
                Some(_) => {
                    return Err(self.refused(raw, format!("parent {prefix} is not a directory")));
                }
                None => match lookup_lower(self.lowers, &prefix)
                    .map_err(|e| self.sys("look up lower layers for", &prefix, e))?
                {
                    LowerEntry::Absent => self.mkdir(dir.as_fd(), &prefix, 0o755, 0, 0, None)?,
                    LowerEntry::Found { stat, .. } if is_dir(&stat) => {
                        let mtime = TimeSpec::new(stat.st_mtime, stat.st_mtime_nsec);
                        self.mkdir(
                            dir.as_fd(),
                            &prefix,
                            stat.st_mode & 0o7777,
                            stat.st_uid,
                            stat.st_gid,
                            Some(mtime),
                        )?
                    }
                    LowerEntry::Found { stat, .. }
                        if stat.st_mode & libc::S_IFMT == libc::S_IFLNK =>
                    {
                        return Err(self.refused(raw, format!("parent {prefix} is a symlink in a lower layer; refusing to write through it")));
                    }
                    LowerEntry::Found { .. } => {
                        return Err(self.refused(
                            raw,
                            format!("parent {prefix} is not a directory in a lower layer"),
                        ));
                    }
                },
            }
            dir = self.open_child_dir(dir.as_fd(), &prefix)?;
        }
        Ok(dir)
    }

    fn open_child_dir(&self, parent: BorrowedFd<'_>, rel: &RelPath) -> Result<OwnedFd, ImageError> {
        let name = rel.file_name().unwrap_or(OsStr::new("."));
        openat(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.sys("open", rel, e))
    }

    /// Creates a directory for which no entry has been seen (yet): owned and stamped like its
    /// lower counterpart, so that the merged view does not change.
    fn mkdir(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: Option<TimeSpec>,
    ) -> Result<(), ImageError> {
        let name = rel.file_name().unwrap_or_default();
        mkdirat(parent, name, Mode::from_bits_truncate(0o700))
            .map_err(|e| self.sys("create directory", rel, e))?;
        if self.keeps_owner(rel, uid, gid)? {
            fchownat(
                parent,
                name,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| self.sys("chown", rel, e))?;
        }
        let mtime = mtime.unwrap_or(TimeSpec::UTIME_OMIT);
        self.deferred.push((rel.clone(), mode, mtime));
        Ok(())
    }

    /// Removes whatever this layer has at `rel`, so that a new non-directory can take its place.
    fn replace(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        name: &OsStr,
    ) -> Result<(), ImageError> {
        remove_all_at(parent, name).map_err(|e| self.sys("replace", rel, e))?;
        self.whited.remove(rel);
        Ok(())
    }

    fn whiteout(&mut self, rel: &RelPath, raw: &[u8]) -> Result<(), ImageError> {
        let parent = self.ensure_dir(&rel.parent(), raw)?;
        let name = rel.file_name().unwrap_or_default();
        match stat_at(parent.as_fd(), name).map_err(|e| self.sys("stat", rel, e))? {
            // The layer has its own directory here: it replaces the lower one, so hide the
            // lower contents.
            Some(st) if is_dir(&st) => {
                let fd = self.open_child_dir(parent.as_fd(), rel)?;
                self.mark_opaque(fd.as_fd(), rel)
            }
            // A non-directory of this layer already hides whatever is below.
            Some(_) => Ok(()),
            None => {
                mknodat(parent.as_fd(), name, SFlag::S_IFCHR, Mode::empty(), 0)
                    .map_err(|e| self.sys("create whiteout", rel, e))?;
                self.whited.insert(rel.clone());
                Ok(())
            }
        }
    }

    fn directory(
        &mut self,
        parent: BorrowedFd<'_>,
        rel: &RelPath,
        name: &OsStr,
        meta: Meta,
    ) -> Result<(), ImageError> {
        let existing = stat_at(parent, name).map_err(|e| self.sys("stat", rel, e))?;
        let mut opaque = false;
        match existing {
            Some(st) if is_dir(&st) => {}
            Some(st) => {
                opaque = is_whiteout(&st) && self.whited.contains(rel);
                self.replace(parent, rel, name)?;
                mkdirat(parent, name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| self.sys("create directory", rel, e))?;
            }
            None => mkdirat(parent, name, Mode::from_bits_truncate(0o700))
                .map_err(|e| self.sys("create directory", rel, e))?,
        }
        let fd = self.open_child_dir(parent, rel)?;
        if opaque {
            self.mark_opaque(fd.as_fd(), rel)?;
        }
        self.set_owner(fd.as_fd(), rel, &meta)?;
        self.set_xattrs(fd.as_fd(), rel, &meta)?;
        self.deferred.push((rel.clone(), meta.mode, meta.mtime));
        Ok(())
    }

    /// Marks directory `fd` opaque, with the attribute the store's overlayfs reads.
    fn mark_opaque(&self, fd: BorrowedFd<'_>, rel: &RelPath) -> Result<(), ImageError> {
        let name = self.owners.opaque_xattr();
        match fset_xattr(fd, name.as_bytes(), b"y") {
            Ok(()) => Ok(()),
            Err(Errno::EOPNOTSUPP) => Err(ImageError::sys(
                format!(
                    "layer {}: mark {rel} opaque ({name}): the store's filesystem has no user extended attributes; put the store (--store, or XDG_DATA_HOME) on ext4, xfs, btrfs or tmpfs of Linux 6.6 and later",
                    self.layer
                ),
                Errno::EOPNOTSUPP,
            )),
            Err(e) => Err(self.sys("mark opaque", rel, e)),
        }
    }

    /// Whether `rel` gets owner `uid`:`gid` (false: it stays the store's user's); an owner the
    /// store's user namespace does not map refuses the layer.
    fn keeps_owner(&self, rel: &RelPath, uid: u32, gid: u32) -> Result<bool, ImageError> {
        self.owners
            .keeps(uid, gid)
            .map_err(|why| self.refused(rel.to_string().as_bytes(), why.to_string()))
    }

    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        for (rel, mode, mtime) in std::mem::take(&mut self.deferred).into_iter().rev() {
            let fd = match self.root.open_dir(&rel) {
                Ok(fd) => fd,
                // Replaced by a later entry.
                Err(_) => continue,
            };
            fchmod(fd.as_fd(), Mode::from_bits_truncate(mode))
                .map_err(|e| self.sys("chmod", &rel, e))?;
            futimens(fd.as_fd(), &mtime, &mtime).map_err(|e| self.sys("set times of", &rel, e))?;
        }
        Ok(())
    }
}

/// A PAX time: seconds with an optional fraction ("1700000000.123456789").
fn parse_pax_time(s: &str) -> Option<TimeSpec> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0i64;
    for (i, c) in frac.chars().take(9).enumerate() {
        nanos += c.to_digit(10)? as i64 * 10i64.pow(8 - i as u32);
    }
    Some(TimeSpec::new(secs, nanos))
}

/// The size of a tar block: an entry's data is padded to a multiple of it.
const TAR_BLOCK: u64 = 512;

/// A reader that counts the bytes read through it and notes a clean end of the stream (a
/// decoder's error is no end), for where a stream ended.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
    ended: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        if n == 0 && !buf.is_empty() {
            self.ended.set(true);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer: an opaque marker for `home` (with `opaque`), `home/` itself, and a file owned by
    /// `uid`.
    fn layer(uid: u64, opaque: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, kind: tar::EntryType, uid: u64| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_mode(0o755);
            h.set_uid(uid);
            h.set_gid(uid);
            h.set_size(0);
            b.append_data(&mut h, name, std::io::empty()).unwrap();
        };
        if opaque {
            add("home/.wh..wh..opq", tar::EntryType::Regular, 0);
        }
        add("home/", tar::EntryType::Directory, 0);
        add("home/f", tar::EntryType::Regular, uid);
        b.into_inner().unwrap()
    }

    fn unpack_as(
        owners: Owners,
        uid: u64,
        opaque: bool,
    ) -> (tempfile::TempDir, Result<UnpackStats, ImageError>) {
        let t = tempfile::tempdir().unwrap();
        let u = Unpacker::new(t.path(), &[], "test", UnpackLimits::default(), owners).unwrap();
        let data = layer(uid, opaque);
        let r = u.unpack(&data[..], &|| data.len() as u64);
        (t, r)
    }

    /// A store without host privilege marks opaque directories with the attribute overlayfs
    /// reads under `userxattr`, and never the `trusted.` one.
    #[test]
    fn a_store_without_host_privilege_marks_opaque_with_a_user_attribute() {
        let probe = tempfile::tempdir().unwrap();
        let dir = RootDir::open(probe.path()).unwrap();
        if super::super::rooted::fset_xattr(dir.fd(), b"user.rind-probe", b"y").is_err()
            && crate::sys::skipped_in_vm_guest(
                "a_store_without_host_privilege_marks_opaque_with_a_user_attribute",
                "the guest's /tmp (tmpfs before Linux 6.6) has no user xattrs",
            )
        {
            return;
        }
        let (t, r) = unpack_as(Owners::Squashed, 1000, true);
        r.unwrap();
        let fd = RootDir::open(&t.path().join("home")).unwrap();
        let get = |name| super::super::rooted::fget_xattr(fd.fd(), name).unwrap();
        assert_eq!(get("user.overlay.opaque").as_deref(), Some(&b"y"[..]));
        assert_eq!(get("trusted.overlay.opaque"), None);
        // Squashed: the file stays the unpacker's.
        let m = std::fs::metadata(t.path().join("home/f")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(m.uid(), nix::unistd::geteuid().as_raw());
    }

    /// A mapped store refuses an owner outside its maps, naming the entry and the maps.
    #[test]
    fn a_mapped_store_refuses_an_owner_outside_its_maps() {
        let r = |inside, outside, size| crate::image::layer::IdRange {
            inside,
            outside,
            size,
        };
        let owners = Owners::Mapped {
            uids: vec![r(0, 1000, 1), r(1, 100000, 10)],
            gids: vec![r(0, 1000, 1), r(1, 100000, 10)],
        };
        let (_t, res) = unpack_as(owners, 11, false);
        let e = res.unwrap_err().to_string();
        assert!(
            e.contains("home/f") && e.contains("owner uid 11") && e.contains("0-0, 1-10"),
            "{e}"
        );
    }

    #[test]
    fn pax_time_keeps_the_fraction() {
        let t = parse_pax_time("1700000000.5").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (1_700_000_000, 500_000_000));
        assert!(parse_pax_time("x").is_none());
    }
}
