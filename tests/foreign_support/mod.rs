//! Shared pieces of the foreign-input tests (tests/foreign_*.rs): where the corpus built by
//! rootfs-fixtures/foreign/ lives, a cgroup path under the test's own cgroup, running a bundle
//! with a given runtime, and a tree comparison that sees files, modes, owners, xattrs,
//! hardlinks, symlinks and device nodes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `OUT/foreign/<part>` (OUT is `RIND_FIXTURES` or rootfs-fixtures/out); fails the test when
/// its builder has not finished (scripts/test.sh runs the builders first).
pub fn corpus(part: &str, builder: &str) -> PathBuf {
    let out = std::env::var_os("RIND_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs-fixtures/out"))
        });
    let dir = out.join("foreign").join(part);
    assert!(
        dir.join(".complete").exists(),
        "foreign {part} missing at {} (run rootfs-fixtures/foreign/{builder})",
        dir.display()
    );
    dir
}

/// The `runc` binary these tests compare with; fails the test when it is missing
/// (scripts/install-deps.sh installs it), and is None after a skip in the VM guest.
pub fn runc() -> Option<PathBuf> {
    if !crate::common::require_tool("runc") {
        return None;
    }
    let p = Path::new("/usr/sbin/runc");
    assert!(
        p.exists(),
        "runc is not installed at {}: scripts/install-deps.sh installs it",
        p.display()
    );
    Some(p.to_path_buf())
}

/// The deepest cgroup path of this process of which every hierarchy's path is a prefix: a
/// `cgroupsPath` below it lies under the test's own cgroup everywhere.
pub fn own_cgroup_base() -> String {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap();
    let paths: Vec<&str> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .collect();
    let best = paths.iter().copied().max_by_key(|p| p.len()).unwrap_or("/");
    for p in &paths {
        assert!(
            *p == "/" || *p == best || best.starts_with(&format!("{p}/")),
            "this process's cgroups do not nest ({text}); cannot pick a parent"
        );
    }
    best.trim_end_matches('/').to_string()
}

/// Every mount point of a cgroup or cgroup2 hierarchy.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out = Vec::new();
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let Some(sep) = f.iter().position(|x| *x == "-")
            && matches!(f.get(sep + 1), Some(&"cgroup") | Some(&"cgroup2"))
        {
            out.push(PathBuf::from(f[4]));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Removes the directories of an absolute `cgroupsPath` in every hierarchy (deepest first),
/// after the runtime's own delete; returns the ones that could not go.
pub fn remove_cgroup(path: &str) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for m in cgroup_mounts() {
        let d = m.join(path.trim_start_matches('/'));
        if d.exists() && fs::remove_dir(&d).is_err() {
            left.push(d);
        }
    }
    left
}

/// What one run of a bundle gave.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// `<runtime> --root <root> run --bundle <bundle> <id>`, stdin from /dev/null, at most 60 s,
/// then `delete --force` in case the run left the container behind.
pub fn run_bundle(runtime: &Path, root: &Path, bundle: &Path, id: &str) -> Outcome {
    let out = bundle.join(".stdout");
    let err = bundle.join(".stderr");
    let status = Command::new("timeout")
        .args(["-k", "5", "60"])
        .arg(runtime)
        .arg("--root")
        .arg(root)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    let _ = Command::new(runtime)
        .arg("--root")
        .arg(root)
        .args(["delete", "--force", id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    Outcome {
        code: status.code(),
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// `cp -a SRC DST`.
pub fn copy_tree(src: &Path, dst: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", src.display(), dst.display());
}

/// A line diff of `a` and `b` (longest common subsequence): "- " lines only in `a`, "+ " lines
/// only in `b`, in order; empty when they are equal.
pub fn line_diff(a: &str, b: &str) -> Vec<String> {
    let (x, y): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let (n, m) = (x.len(), y.len());
    // lcs[i][j]: the length of the common subsequence of x[i..] and y[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if x[i] == y[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut d) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            d.push(format!("- {}", x[i]));
            i += 1;
        } else {
            d.push(format!("+ {}", y[j]));
            j += 1;
        }
    }
    d
}

// ---- Trees ----

/// What the comparison looks at for one path. `link_group` is the first path (in walk order)
/// of the same inode, so that two trees' hardlinks are compared as groups of names.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Entry {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub content: Option<Vec<u8>>,
    pub symlink: Option<String>,
    pub rdev: Option<(u64, u64)>,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    pub link_group: Option<String>,
}

/// Walks `root` without following symlinks: relative path -> entry. The root itself is
/// included as ".". File contents are kept whole (the corpus images are small).
pub fn tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    walk(root, &mut out, &mut inodes);
    // A file with one name has no group.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in out.values() {
        if let Some(g) = &e.link_group {
            *counts.entry(g.clone()).or_default() += 1;
        }
    }
    for e in out.values_mut() {
        if e.link_group.as_ref().is_some_and(|g| counts[g] < 2) {
            e.link_group = None;
        }
    }
    out
}

fn walk(root: &Path, out: &mut BTreeMap<String, Entry>, inodes: &mut BTreeMap<(u64, u64), String>) {
    crate::common::walk_tree(root, true, &mut |rel, p, md| {
        let ft = md.file_type();
        let link_group = (!ft.is_dir()).then(|| {
            inodes
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        let entry = Entry {
            kind: crate::common::kind(ft),
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: if ft.is_file() { md.size() } else { 0 },
            content: ft.is_file().then(|| fs::read(p).unwrap()),
            symlink: ft
                .is_symlink()
                .then(|| fs::read_link(p).unwrap().to_string_lossy().into_owned()),
            rdev: (ft.is_char_device() || ft.is_block_device()).then(|| {
                (
                    nix::sys::stat::major(md.rdev()),
                    nix::sys::stat::minor(md.rdev()),
                )
            }),
            xattrs: xattrs(p),
            link_group,
        };
        out.insert(rel, entry);
    });
}

/// Every extended attribute of `p` (not following a symlink), except the overlayfs and
/// SELinux bookkeeping a store may add.
pub fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let mut names = vec![0u8; 64 * 1024];
    // SAFETY: a valid C string and a buffer of the given length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    let mut out = BTreeMap::new();
    if n <= 0 {
        return out;
    }
    for name in names[..n as usize]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
    {
        let key = String::from_utf8_lossy(name).into_owned();
        if key.starts_with("trusted.overlay.") || key == "security.selinux" {
            continue;
        }
        let cn = std::ffi::CString::new(name).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: valid C strings and a buffer of the given length.
        let r =
            unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            out.insert(key, buf);
        }
    }
    out
}

/// The differences between two trees, one line each; file contents are compared, not shown.
pub fn tree_diff(a: &BTreeMap<String, Entry>, b: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut d = Vec::new();
    for (k, x) in a {
        match b.get(k) {
            None => d.push(format!("only in rind's tree: {k} ({})", x.kind)),
            Some(y) if x != y => {
                let mut what = Vec::new();
                if x.kind != y.kind {
                    what.push(format!("kind {} vs {}", x.kind, y.kind));
                }
                if x.mode != y.mode {
                    what.push(format!("mode {:o} vs {:o}", x.mode, y.mode));
                }
                if (x.uid, x.gid) != (y.uid, y.gid) {
                    what.push(format!("owner {}:{} vs {}:{}", x.uid, x.gid, y.uid, y.gid));
                }
                if x.content != y.content {
                    what.push(format!("content ({} vs {} bytes)", x.size, y.size));
                }
                if x.symlink != y.symlink {
                    what.push(format!("symlink {:?} vs {:?}", x.symlink, y.symlink));
                }
                if x.rdev != y.rdev {
                    what.push(format!("device {:?} vs {:?}", x.rdev, y.rdev));
                }
                if x.xattrs != y.xattrs {
                    what.push(format!(
                        "xattrs {:?} vs {:?}",
                        x.xattrs.keys().collect::<Vec<_>>(),
                        y.xattrs.keys().collect::<Vec<_>>()
                    ));
                }
                if x.link_group != y.link_group {
                    what.push(format!(
                        "hardlink group {:?} vs {:?}",
                        x.link_group, y.link_group
                    ));
                }
                d.push(format!("{k}: {}", what.join(", ")));
            }
            _ => {}
        }
    }
    for (k, y) in b {
        if !a.contains_key(k) {
            d.push(format!("only in umoci's tree: {k} ({})", y.kind));
        }
    }
    d
}
