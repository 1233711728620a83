//! Snapshots of a directory tree, to tell whether anything in it changed.

use std::collections::{BTreeMap, HashSet};
use std::ffi::CString;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What is compared of one file: everything a write through it could change, but not atime.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub nlink: u64,
    pub rdev: u64,
    pub mtime: (i64, i64),
    pub ino: u64,
    /// A hash of the content (files), the target (symlinks), nothing for the rest.
    pub content: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

pub type Snapshot = BTreeMap<PathBuf, Node>;

/// Every entry below `root` (and `root` itself, as ""), without following symlinks.
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

fn walk(root: &Path, rel: &Path, out: &mut Snapshot) {
    let path = root.join(rel);
    let Ok(m) = std::fs::symlink_metadata(&path) else {
        return;
    };
    let ft = m.file_type();
    let mut h = DefaultHasher::new();
    if ft.is_file() {
        std::fs::read(&path).unwrap_or_default().hash(&mut h);
    } else if ft.is_symlink() {
        std::fs::read_link(&path)
            .unwrap_or_default()
            .as_os_str()
            .as_bytes()
            .hash(&mut h);
    }
    out.insert(
        rel.to_path_buf(),
        Node {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: if ft.is_dir() { 0 } else { m.size() },
            nlink: m.nlink(),
            rdev: m.rdev(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ino: m.ino(),
            content: h.finish(),
            xattrs: xattrs(&path),
        },
    );
    if ft.is_dir()
        && let Ok(rd) = std::fs::read_dir(&path)
    {
        for e in rd.flatten() {
            walk(root, &rel.join(e.file_name()), out);
        }
    }
}

fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 4096];
    // SAFETY: the buffer is valid for writes of its length.
    let n = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Vec::new();
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let c = CString::new(name).unwrap();
        let mut v = vec![0u8; 65536];
        // SAFETY: as above.
        let n = unsafe { libc::lgetxattr(p.as_ptr(), c.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(n.max(0) as usize);
        out.push((name.to_vec(), v));
    }
    out.sort();
    out
}

/// The inode numbers of a snapshot's non-directories.
pub fn inodes(s: &Snapshot) -> HashSet<u64> {
    s.values()
        .filter(|n| n.mode & libc::S_IFMT != libc::S_IFDIR)
        .map(|n| n.ino)
        .collect()
}

/// The first difference between two snapshots, for the panic message: an entry that appeared
/// or disappeared first, then one that changed.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Option<String> {
    if let Some(p) = after.keys().find(|p| !before.contains_key(*p)) {
        return Some(format!("{} appeared", p.display()));
    }
    if let Some(p) = before.keys().find(|p| !after.contains_key(*p)) {
        return Some(format!("{} disappeared", p.display()));
    }
    after
        .iter()
        .find(|(p, n)| before.get(*p) != Some(n))
        .map(|(p, n)| format!("{} changed: {:?} -> {n:?}", p.display(), before[p]))
}
