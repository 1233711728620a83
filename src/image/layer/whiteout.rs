//! Whiteouts: the OCI tar form (`.wh.NAME`, `.wh..wh..opq`), the overlayfs form the store keeps
//! on disk (a 0/0 character device, and the `trusted.overlay.opaque=y` xattr, or
//! `user.overlay.opaque=y` in a store without host privilege: see [`super::owners`]), and the
//! merged view of a stack of layers kept in overlayfs form.
//!
//! The store keeps each layer as its own directory so that overlayfs can stack them, the way
//! containerd's overlay snapshotter does. A whiteout is therefore not applied by deleting
//! files; it is written into the layer in the form overlayfs understands, and the copy
//! fallback applies that same form when it flattens the layers.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{FileStat, Mode};

use super::rooted::{RelPath, RootDir, fget_xattr, is_dir, is_whiteout, stat_at};

/// The tar name prefix of a whiteout.
pub const PREFIX: &str = ".wh.";
/// The tar name that makes its directory opaque.
pub const OPAQUE: &str = ".wh..wh..opq";
/// The xattr overlayfs reads to treat an upper directory as opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The same mark where overlayfs is mounted with `userxattr` (in a user namespace).
pub const USER_OPAQUE_XATTR: &str = "user.overlay.opaque";

/// What a tar entry's file name means.
#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// Not a whiteout.
    None,
    /// `.wh..wh..opq`: hide everything the lower layers have in this directory.
    Opaque,
    /// `.wh.NAME`: delete NAME from the lower layers.
    Remove(&'a OsStr),
    /// Other `.wh..wh.` names are aufs bookkeeping (hardlink dirs); they are skipped.
    Meta,
}

/// Classifies a file name.
pub fn classify(name: &OsStr) -> Whiteout<'_> {
    let b = name.as_bytes();
    if b == OPAQUE.as_bytes() {
        Whiteout::Opaque
    } else if b.starts_with(b".wh..wh.") {
        Whiteout::Meta
    } else if let Some(rest) = b.strip_prefix(PREFIX.as_bytes()) {
        Whiteout::Remove(OsStr::from_bytes(rest))
    } else {
        Whiteout::None
    }
}

/// True if `fd` (a directory opened for reading) carries either opaque mark. A store holds
/// one kind only, but reading both is safe: unpacking drops every `trusted.overlay.` and
/// `user.overlay.` attribute a layer brings, so a mark can only be rind's own.
pub fn is_opaque(fd: &OwnedFd) -> Result<bool, Errno> {
    for name in [OPAQUE_XATTR, USER_OPAQUE_XATTR] {
        match fget_xattr(fd.as_fd(), name) {
            Ok(Some(v)) if v == b"y" => return Ok(true),
            Ok(_) | Err(Errno::EOPNOTSUPP) => {}
            // An ordinary user may not read `trusted.` attributes: none are there for it.
            Err(Errno::EPERM) if name == OPAQUE_XATTR => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// What the merged view of the lower layers holds at a path.
#[derive(Debug)]
pub enum LowerEntry {
    /// Nothing: missing, whited out, or hidden by an opaque directory.
    Absent,
    /// An entry, found in `lowers[layer]`.
    Found { layer: usize, stat: FileStat },
}

impl LowerEntry {
    pub fn is_dir(&self) -> bool {
        matches!(self, LowerEntry::Found { stat, .. } if is_dir(stat))
    }
}

/// Looks `rel` up in the merged view of `lowers` (topmost first, each in overlayfs form) the
/// way overlayfs would: the first layer that has the path wins, a whiteout on the way hides
/// it, and an opaque directory on the way hides everything below it in the lower layers.
/// A path whose parent is not a directory in the winning layer is absent. The lookup never
/// follows a symlink.
pub fn lookup_lower(lowers: &[RootDir], rel: &RelPath) -> Result<LowerEntry, Errno> {
    let comps = rel.components();
    if comps.is_empty() {
        return Ok(LowerEntry::Absent);
    }
    'layers: for (i, layer) in lowers.iter().enumerate() {
        let mut dir: Option<OwnedFd> = None;
        // An opaque directory walked in this layer hides the lower layers below it.
        let mut opaque_seen = false;
        for (k, comp) in comps.iter().enumerate() {
            let dfd = match &dir {
                Some(d) => d.as_fd(),
                None => layer.fd(),
            };
            let Some(st) = stat_at(dfd, comp)? else {
                if opaque_seen {
                    return Ok(LowerEntry::Absent);
                }
                continue 'layers;
            };
            if is_whiteout(&st) {
                return Ok(LowerEntry::Absent);
            }
            // A non-directory parent hides the lower layers' directory of the same name; the
            // caller asks about parents one at a time, so it sees what is there.
            if k + 1 == comps.len() || !is_dir(&st) {
                return Ok(LowerEntry::Found { layer: i, stat: st });
            }
            let next = openat(
                dfd,
                comp.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            opaque_seen |= is_opaque(&next)?;
            dir = Some(next);
        }
    }
    Ok(LowerEntry::Absent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer::rooted::clean_path;
    use std::os::unix::fs::symlink;

    #[test]
    fn classify_names() {
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), Whiteout::Opaque);
        assert_eq!(
            classify(OsStr::new(".wh.foo")),
            Whiteout::Remove(OsStr::new("foo"))
        );
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")), Whiteout::Meta);
        assert_eq!(classify(OsStr::new("foo.wh.")), Whiteout::None);
    }

    #[test]
    fn lookup_sees_top_layer_first_and_respects_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let (lo, hi) = (t.path().join("lo"), t.path().join("hi"));
        std::fs::create_dir_all(lo.join("etc")).unwrap();
        std::fs::write(lo.join("etc/a"), "a").unwrap();
        std::fs::write(lo.join("etc/b"), "b").unwrap();
        symlink("/etc", lo.join("link")).unwrap();
        std::fs::create_dir_all(hi.join("etc")).unwrap();
        nix::sys::stat::mknod(
            &hi.join("etc/a"),
            nix::sys::stat::SFlag::S_IFCHR,
            Mode::empty(),
            0,
        )
        .unwrap();
        let lowers = vec![RootDir::open(&hi).unwrap(), RootDir::open(&lo).unwrap()];
        let p = |s: &str| clean_path(s.as_bytes()).unwrap();
        assert!(matches!(
            lookup_lower(&lowers, &p("etc/a")).unwrap(),
            LowerEntry::Absent
        ));
        assert!(matches!(
            lookup_lower(&lowers, &p("etc/b")).unwrap(),
            LowerEntry::Found { layer: 1, .. }
        ));
        assert!(lookup_lower(&lowers, &p("etc")).unwrap().is_dir());
        match lookup_lower(&lowers, &p("link")).unwrap() {
            LowerEntry::Found { stat, .. } => {
                assert_eq!(stat.st_mode & libc::S_IFMT, libc::S_IFLNK)
            }
            other => panic!("expected the symlink, got {other:?}"),
        }
    }
}
