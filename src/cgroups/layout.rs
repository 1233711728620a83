//! Which cgroup hierarchies the host has mounted, read from `/proc/self/mountinfo`, and which
//! cgroup the calling process is in, read from `/proc/self/cgroup`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CgroupError, Result};
use crate::error::Cause;
use crate::sys::mountinfo;

/// The cgroup layout of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup2, mounted at `/sys/fs/cgroup`: every controller is v2.
    Unified,
    /// v1 controllers plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// v1 controllers only.
    Legacy,
}

/// One cgroup filesystem mount.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CgroupMount {
    mount_point: PathBuf,
    /// The v1 controllers (and `name=...` hierarchies) of the mount; empty for cgroup2.
    controllers: Vec<String>,
    v2: bool,
}

/// The cgroup mounts of the calling process's mount namespace.
#[derive(Clone, Debug, Default)]
pub struct MountInfo {
    mounts: Vec<CgroupMount>,
}

impl MountInfo {
    /// Reads `/proc/self/mountinfo`.
    pub fn read_self() -> Result<Self> {
        let path = Path::new("/proc/self/mountinfo");
        let text = crate::sys::read_pseudo_file(path, 16 * 1024).map_err(|e| CgroupError::Io {
            op: "read",
            path: path.into(),
            cause: Cause::from(e),
        })?;
        Ok(Self::parse(&text))
    }

    /// Parses mountinfo text, keeping only cgroup and cgroup2 mounts.
    pub fn parse(text: &str) -> Self {
        let mut mounts = Vec::new();
        for m in mountinfo::parse(text) {
            match m.fstype {
                "cgroup2" => mounts.push(CgroupMount {
                    mount_point: m.mount_point,
                    controllers: Vec::new(),
                    v2: true,
                }),
                "cgroup" => {
                    let controllers = m
                        .super_options
                        .split(',')
                        .filter(|o| is_controller_option(o))
                        .map(str::to_string)
                        .collect();
                    mounts.push(CgroupMount {
                        mount_point: m.mount_point,
                        controllers,
                        v2: false,
                    });
                }
                _ => {}
            }
        }
        MountInfo { mounts }
    }

    /// The layout these mounts make up.
    pub fn layout(&self) -> Layout {
        let has_v1 = self.mounts.iter().any(|m| !m.v2);
        let has_v2 = self.mounts.iter().any(|m| m.v2);
        match (has_v1, has_v2) {
            (false, _) => Layout::Unified,
            (true, true) => Layout::Hybrid,
            (true, false) => Layout::Legacy,
        }
    }

    /// Mount point of the cgroup2 hierarchy, if mounted.
    pub fn unified_mount(&self) -> Option<PathBuf> {
        self.mounts
            .iter()
            .find(|m| m.v2)
            .map(|m| m.mount_point.clone())
    }

    /// Each v1 controller (and named hierarchy such as `name=systemd`) with its mount point.
    /// Co-mounted controllers (`cpu,cpuacct`) each map to the shared mount.
    pub fn v1_controller_mounts(&self) -> BTreeMap<String, PathBuf> {
        let mut out = BTreeMap::new();
        for m in self.mounts.iter().filter(|m| !m.v2) {
            for c in &m.controllers {
                out.entry(c.clone())
                    .or_insert_with(|| m.mount_point.clone());
            }
        }
        out
    }

    /// Each v1 hierarchy's mount point with its controllers, in the order of mountinfo (a
    /// hierarchy mounted twice is listed once, at its first mount).
    pub fn v1_hierarchies(&self) -> Vec<(PathBuf, Vec<String>)> {
        let mut out: Vec<(PathBuf, Vec<String>)> = Vec::new();
        for m in self.mounts.iter().filter(|m| !m.v2) {
            let seen = out
                .iter()
                .any(|(_, cs)| cs.iter().any(|c| m.controllers.contains(c)));
            if !seen {
                out.push((m.mount_point.clone(), m.controllers.clone()));
            }
        }
        out
    }
}

/// Mount options of a v1 cgroup mount that name a hierarchy rather than tune it.
fn is_controller_option(o: &str) -> bool {
    if o.starts_with("name=") {
        return true;
    }
    !matches!(
        o,
        "rw" | "ro"
            | "relatime"
            | "noatime"
            | "nosuid"
            | "nodev"
            | "noexec"
            | "xattr"
            | "clone_children"
            | "noprefix"
            | "cpuset_v2_mode"
            | "favordynmods"
    ) && !o.contains('=')
}

fn read_proc_self_cgroup() -> Result<String> {
    let path = Path::new("/proc/self/cgroup");
    crate::sys::read_pseudo_file(path, 1024).map_err(|e| CgroupError::Io {
        op: "read",
        path: path.into(),
        cause: Cause::from(e),
    })
}

/// The calling process's cgroup in the unified hierarchy (the `0::` line).
pub fn own_cgroup_v2() -> Result<PathBuf> {
    let text = read_proc_self_cgroup()?;
    parse_own_cgroups(&text)
        .remove("")
        .ok_or_else(|| CgroupError::Invalid("no cgroup2 entry in /proc/self/cgroup".into()))
}

/// The calling process's cgroup in each hierarchy, keyed by v1 controller name, and by `""`
/// for cgroup2.
pub fn own_cgroups() -> Result<BTreeMap<String, PathBuf>> {
    Ok(parse_own_cgroups(&read_proc_self_cgroup()?))
}

/// Parses `/proc/self/cgroup`: `ID:controller[,controller]:path` per line. The cgroup2 line has
/// an empty controller list and is returned under the key `""`.
fn parse_own_cgroups(text: &str) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        // A process moved by a cgroup namespace shows "/.." prefixes; never climb with them.
        let path = PathBuf::from(path.trim_start_matches("/.."));
        if ctrls.is_empty() {
            out.insert(String::new(), path);
        } else {
            for c in ctrls.split(',') {
                out.insert(c.to_string(), path.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
28 25 0:25 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
29 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn hybrid_layout_is_detected_with_its_controllers() {
        let m = MountInfo::parse(HYBRID);
        assert_eq!(m.layout(), Layout::Hybrid);
        let c = m.v1_controller_mounts();
        assert_eq!(c["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(c["name=systemd"], PathBuf::from("/sys/fs/cgroup/systemd"));
        assert_eq!(c["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(c["cpu"], PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(
            m.unified_mount(),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn unified_layout_has_only_cgroup2() {
        let m = MountInfo::parse("40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(m.layout(), Layout::Unified);
        assert_eq!(m.unified_mount(), Some(PathBuf::from("/sys/fs/cgroup")));
    }

    #[test]
    fn own_cgroups_are_split_per_controller() {
        let own = parse_own_cgroups("4:memory:/a/b\n2:cpu,cpuacct:/\n0::/x\n");
        assert_eq!(own["memory"], PathBuf::from("/a/b"));
        assert_eq!(own["cpuacct"], PathBuf::from("/"));
        assert_eq!(own[""], PathBuf::from("/x"));
    }
}
