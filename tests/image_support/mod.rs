//! Shared pieces of the image tests: fixture paths, skips, tree snapshots, and a guard that
//! unmounts and removes a test's directories even when the test fails.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rind::image::Digest;

#[path = "../common/skip.rs"]
mod skip;
#[path = "../common/tree.rs"]
mod tree;
#[allow(unused_imports)] // not every image test skips
pub use skip::*;

/// The directory holding `busybox/rootfs` and `images/`.
pub fn fixtures() -> PathBuf {
    std::env::var_os("RIND_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs-fixtures/out"))
        })
}

/// The image fixtures; fails the test when they have not been built (scripts/test.sh builds
/// them).
pub fn images() -> PathBuf {
    let p = fixtures().join("images");
    assert!(
        p.join(".complete").exists(),
        "image fixtures missing at {} (run rootfs-fixtures/images/build.sh)",
        p.display()
    );
    p
}

/// A temporary directory that unmounts anything mounted below it and removes itself on drop.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("rind-image-test")
                .tempdir()
                .expect("tempdir"),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        // By path components: another test's scratch dir may share this one's name as a prefix.
        let mut points: Vec<String> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| std::path::Path::new(m).starts_with(self.dir.path()))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for m in points {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// What the comparison looks at for one path.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub link: Option<String>,
    pub content: Option<Digest>,
    pub rdev: u64,
}

/// Walks a tree without following symlinks: path -> node. The root itself is left out.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    tree::walk_tree(root, false, &mut |rel, p, md| {
        let ft = md.file_type();
        let node = Node {
            kind: tree::kind(ft),
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            link: ft
                .is_symlink()
                .then(|| fs::read_link(p).unwrap().to_string_lossy().into_owned()),
            content: ft.is_file().then(|| Digest::of(&fs::read(p).unwrap())),
            rdev: md.rdev(),
        };
        out.insert(rel, node);
    });
    out
}

/// Lists the differences between two snapshots, one line each.
pub fn diff(a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>) -> Vec<String> {
    let mut d = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => d.push(format!("only in first: {k}")),
            Some(w) if w != v => d.push(format!("{k}: {v:?} != {w:?}")),
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            d.push(format!("only in second: {k}"));
        }
    }
    d
}

/// `umoci unpack` of `image` (`DIR:TAG`) into `bundle`; returns the rootfs.
pub fn umoci_unpack(image: &str, bundle: &Path) -> PathBuf {
    let out = Command::new("umoci")
        .args(["unpack", "--image", image])
        .arg(bundle)
        .output()
        .expect("run umoci");
    assert!(
        out.status.success(),
        "umoci unpack {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bundle.join("rootfs")
}

/// Reads an xattr without following symlinks.
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 1024];
    // SAFETY: valid C strings and buffer.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}
