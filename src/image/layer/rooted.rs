//! File operations confined to one directory tree.
//!
//! Every path handed to a [`RootDir`] is a list of plain components (no `..`, no `/`), and
//! every directory on the way is opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`.
//! A symlink anywhere on the way, planted by an earlier tar entry or an earlier layer, makes
//! the open fail with ELOOP instead of being followed, so nothing can be written outside the
//! tree. The last component is always created or changed relative to its parent's fd with
//! `*at` calls that do not follow it either.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::linux::paths::openat2_retrying;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// A path below a root, as clean components. Built only by [`clean_path`], so it never holds
/// `..`, `.`, an empty component or a `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RelPath(Vec<OsString>);

/// Why a tar path was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PathRefusal {
    DotDot,
    Nul,
}

impl std::fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathRefusal::DotDot => "path contains a '..' component",
            PathRefusal::Nul => "path contains a NUL byte",
        })
    }
}

/// Splits a tar path into clean components. `./a//b/` gives `a/b`; `.`, `./` and `/` give the
/// root (no components). An absolute name is read as rooted, `/etc/x` as `etc/x`, as GNU tar,
/// umoci, containerd and docker read it: real producers write such names (`umoci insert ...
/// /` makes a layer whose first entry is `/`), and the components stay below the root either
/// way. `..` anywhere is refused rather than rewritten: a layer that contains it was made to
/// attack whoever unpacks it.
pub fn clean_path(raw: &[u8]) -> Result<RelPath, PathRefusal> {
    if raw.contains(&0) {
        return Err(PathRefusal::Nul);
    }
    let mut parts = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(PathRefusal::DotDot),
            c => parts.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Ok(RelPath(parts))
}

impl RelPath {
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn components(&self) -> &[OsString] {
        &self.0
    }

    /// The last component; `None` for the root.
    pub fn file_name(&self) -> Option<&OsStr> {
        self.0.last().map(|s| s.as_os_str())
    }

    /// The path without its last component (the root's parent is the root).
    pub fn parent(&self) -> RelPath {
        let n = self.0.len().saturating_sub(1);
        RelPath(self.0[..n].to_vec())
    }

    pub fn join(&self, name: &OsStr) -> RelPath {
        let mut v = self.0.clone();
        v.push(name.to_os_string());
        RelPath(v)
    }

    /// The first `n` components.
    pub fn prefix(&self, n: usize) -> RelPath {
        RelPath(self.0[..n].to_vec())
    }

    /// `a/b/c`, or `.` for the root; for messages and for `openat2`.
    pub fn to_path_buf(&self) -> PathBuf {
        if self.0.is_empty() {
            return PathBuf::from(".");
        }
        self.0.iter().collect()
    }
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_path_buf().display())
    }
}

/// Why a directory below the root could not be opened.
#[derive(Debug)]
pub enum OpenDirError {
    /// A component is missing.
    Missing,
    /// A component is a symlink.
    Symlink,
    /// A component is not a directory.
    NotDir,
    Other(Errno),
}

/// A directory tree that all operations stay inside.
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl RootDir {
    /// Opens `path` (which must be a directory) as the root.
    pub fn open(path: &Path) -> Result<RootDir, Errno> {
        let fd = openat(
            nix::fcntl::AT_FDCWD,
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the directory `rel` below the root without following any symlink. The fd is
    /// `O_RDONLY` so that it can also be read (`getdents`) and have xattrs read and set.
    pub fn open_dir(&self, rel: &RelPath) -> Result<OwnedFd, OpenDirError> {
        let how = OpenHow::new()
            // No O_NOFOLLOW: RESOLVE_NO_SYMLINKS already refuses a symlink as the last
            // component, and reports it as ELOOP rather than ENOTDIR.
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        match openat2_retrying(self.fd.as_fd(), &rel.to_path_buf(), how) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOENT) => Err(OpenDirError::Missing),
            Err(Errno::ELOOP) => Err(OpenDirError::Symlink),
            Err(Errno::ENOTDIR) => Err(OpenDirError::NotDir),
            Err(e) => Err(OpenDirError::Other(e)),
        }
    }
}

/// `lstat` of `name` inside the directory `dir`; `None` when it does not exist.
pub fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn is_dir(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// An overlayfs whiteout: a character device with device number 0/0.
pub fn is_whiteout(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

/// Removes `name` in `dir`, whatever it is; a directory is removed with everything below it,
/// without following symlinks or crossing into another filesystem (EXDEV). Missing is fine.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let Some(st) = stat_at(dir, name)? else {
        return Ok(());
    };
    if !is_dir(&st) {
        return match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Err(Errno::ENOENT) => Ok(()),
            r => r,
        };
    }
    let sub = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // Never descend into another filesystem (a mount left inside a container root): that
    // would delete someone else's files.
    if nix::sys::stat::fstat(sub.as_fd())?.st_dev != nix::sys::stat::fstat(dir)?.st_dev {
        return Err(Errno::EXDEV);
    }
    // Directories without write permission still empty as root; as another user, make them
    // writable first.
    let _ = nix::sys::stat::fchmod(sub.as_fd(), Mode::from_bits_truncate(0o700));
    for child in list_dir(sub.as_fd())? {
        remove_all_at(sub.as_fd(), &child)?;
    }
    match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Err(Errno::ENOENT) => Ok(()),
        r => r,
    }
}

/// The names in a directory, without `.` and `..`.
pub fn list_dir(dir: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
    // nix's Dir takes ownership, so read through a duplicate.
    let dup = nix::unistd::dup(dir)?;
    let mut d = nix::dir::Dir::from_fd(dup)?;
    let mut names = Vec::new();
    for ent in d.iter() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(names)
}

pub fn cstring(name: &OsStr) -> CString {
    // Tar names never hold NUL: clean_path refuses them.
    CString::new(name.as_bytes()).unwrap_or_default()
}

/// Sets an xattr on the object `fd` refers to (opened without O_PATH).
pub fn fset_xattr(fd: BorrowedFd<'_>, key: &[u8], value: &[u8]) -> Result<(), Errno> {
    let key = CString::new(key).map_err(|_| Errno::EINVAL)?;
    // SAFETY: key is NUL-terminated and value is a valid slice for its length.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// Reads an xattr of `fd`; `None` when it is not set.
pub fn fget_xattr(fd: BorrowedFd<'_>, key: &str) -> Result<Option<Vec<u8>>, Errno> {
    let key = CString::new(key).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: buf is valid for writes of its length.
        let r = unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                key.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        match Errno::result(r) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(Some(buf));
            }
            Err(Errno::ENODATA) => return Ok(None),
            Err(Errno::ERANGE) if buf.len() < 1 << 16 => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

/// Lists the xattr names of `fd`.
pub fn flist_xattr(fd: BorrowedFd<'_>) -> Result<Vec<Vec<u8>>, Errno> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: buf is valid for writes of its length.
        let r = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(r) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf
                    .split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect());
            }
            Err(Errno::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            Err(Errno::EOPNOTSUPP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_strips_dots_and_slashes() {
        let p = clean_path(b"./a//b/./c/").unwrap();
        assert_eq!(p.to_path_buf(), PathBuf::from("a/b/c"));
        assert!(clean_path(b"./").unwrap().is_root());
    }

    #[test]
    fn clean_path_reads_absolute_names_as_rooted() {
        assert_eq!(clean_path(b"/etc/passwd"), clean_path(b"etc/passwd"));
        assert_eq!(clean_path(b"//etc/./passwd"), clean_path(b"etc/passwd"));
        assert!(clean_path(b"/").unwrap().is_root());
        assert_eq!(clean_path(b"/../etc"), Err(PathRefusal::DotDot));
    }

    #[test]
    fn clean_path_refuses_escapes() {
        assert_eq!(clean_path(b"a/../../etc"), Err(PathRefusal::DotDot));
        assert_eq!(clean_path(b".."), Err(PathRefusal::DotDot));
    }

    #[test]
    fn open_dir_refuses_a_symlinked_component() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("link")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("inner")).unwrap();
        let root = RootDir::open(t.path()).unwrap();
        assert!(root.open_dir(&clean_path(b"real").unwrap()).is_ok());
        assert!(matches!(
            root.open_dir(&clean_path(b"link").unwrap()),
            Err(OpenDirError::Symlink)
        ));
        assert!(matches!(
            root.open_dir(&clean_path(b"inner").unwrap()),
            Err(OpenDirError::Symlink)
        ));
        assert!(matches!(
            root.open_dir(&clean_path(b"nope").unwrap()),
            Err(OpenDirError::Missing)
        ));
    }
}
