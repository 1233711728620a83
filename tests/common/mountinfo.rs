//! Mount tables for the tests: `/proc/<pid>/mountinfo` parsed into entries, and mounts made
//! on the host for a test that are detached again on drop.

use std::path::{Path, PathBuf};

/// One line of `/proc/<pid>/mountinfo`.
#[derive(Clone, Debug)]
pub struct MountEntry {
    /// The path inside the filesystem that is mounted (field 4).
    pub root: String,
    pub mount_point: String,
    /// Per-mount options (`ro`, `nosuid`, ...).
    pub options: Vec<String>,
    /// Optional fields: `shared:N`, `master:N`, ...
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (`size=...`, `mode=...`).
    pub super_options: Vec<String>,
}

impl MountEntry {
    pub fn has_option(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }
    pub fn has_super_option(&self, o: &str) -> bool {
        self.super_options.iter().any(|x| x == o)
    }
    /// The peer group number of an optional field such as `shared` or `master`.
    pub fn group(&self, tag: &str) -> Option<u32> {
        self.optional
            .iter()
            .find_map(|f| f.strip_prefix(tag)?.strip_prefix(':')?.parse().ok())
    }
}

/// Parses mountinfo text (lines that do not parse are skipped, so shell output around the
/// mountinfo does no harm).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    let unescape = |s: &str| s.replace("\\040", " ").replace("\\011", "\t");
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            if dash < 6 || f.len() < dash + 4 || f[0].parse::<u32>().is_err() {
                return None;
            }
            Some(MountEntry {
                root: unescape(f[3]),
                mount_point: unescape(f[4]),
                options: f[5].split(',').map(String::from).collect(),
                optional: f[6..dash].iter().map(|s| s.to_string()).collect(),
                fstype: f[dash + 1].to_string(),
                source: f[dash + 2].to_string(),
                super_options: f[dash + 3].split(',').map(String::from).collect(),
            })
        })
        .collect()
}

/// The top-most mount at `mount_point` (the last one listed).
pub fn mount_at<'a>(entries: &'a [MountEntry], mount_point: &str) -> Option<&'a MountEntry> {
    entries.iter().rev().find(|m| m.mount_point == mount_point)
}

/// A mount made on the host for a test, detached (recursively) on drop.
pub struct HostMount(pub PathBuf);

impl HostMount {
    /// Mounts a small tmpfs at `target` (created if missing).
    pub fn tmpfs(target: &Path) -> Self {
        std::fs::create_dir_all(target).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        HostMount(target.to_path_buf())
    }

    /// Binds `dir` onto itself and makes it a shared mount with its own peer group.
    pub fn shared_self_bind(dir: &Path) -> Self {
        use nix::mount::MsFlags;
        nix::mount::mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let m = HostMount(dir.to_path_buf());
        for flag in [MsFlags::MS_PRIVATE, MsFlags::MS_SHARED] {
            nix::mount::mount(None::<&str>, dir, None::<&str>, flag, None::<&str>).unwrap();
        }
        m
    }

    /// This mount as the host's mountinfo lists it.
    pub fn entry(&self) -> MountEntry {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mount_at(&parse_mountinfo(&text), self.0.to_str().unwrap())
            .cloned()
            .expect("host mount listed")
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}
