//! Walking a directory tree the way the comparison tests read it (rind's unpacking against
//! umoci's, tar's, a single process's pull): without following symlinks, in name order, a
//! directory before what it holds.

use std::fs::{self, FileType, Metadata};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// The kind of a file as the snapshots name it: "dir", "symlink", "file", "char", "block",
/// "fifo", "socket" or "other".
pub fn kind(ft: FileType) -> &'static str {
    if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "other"
    }
}

/// Calls `visit(relative path, path, metadata)` for every entry below `root`; with
/// `with_root`, for `root` itself first, as ".". Panics on an entry it cannot read: a test's
/// tree that cannot be read is a failed test.
pub fn walk_tree(root: &Path, with_root: bool, visit: &mut dyn FnMut(String, &Path, &Metadata)) {
    if with_root {
        visit(
            ".".into(),
            root,
            &fs::symlink_metadata(root).expect("lstat"),
        );
    }
    walk_below(root, root, visit);
}

fn walk_below(root: &Path, dir: &Path, visit: &mut dyn FnMut(String, &Path, &Metadata)) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("read_dir").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let md = fs::symlink_metadata(&p).expect("lstat");
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        visit(rel, &p, &md);
        if md.file_type().is_dir() {
            walk_below(root, &p, visit);
        }
    }
}
