//! Creating a cgroup v2 directory with its controllers enabled, and the "no internal processes"
//! rule.
//!
//! A controller's files appear in a cgroup only when every ancestor lists the controller in its
//! `cgroup.subtree_control`. The kernel refuses (EBUSY) to enable a controller in the subtree
//! of a non-root cgroup that has processes of its own. runc therefore places a relative
//! `cgroupsPath` under the *parent* of its own cgroup (see `resolve`), enables every available
//! controller on the way down at create time and ignores failures there; a failure surfaces
//! when a resource actually needs the controller. rind does the same, and at that point
//! explains which ancestor blocks the controller and why.

use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::cgroups::files::{read, read_optional, write};
use crate::cgroups::{CgroupError, MountInfo, Result};
use crate::error::Cause;

/// The cgroup2 mount point that holds `dir`.
pub fn mount_root(dir: &Path) -> Result<PathBuf> {
    let root = MountInfo::read_self()?
        .unified_mount()
        .unwrap_or_else(|| PathBuf::from(crate::cgroups::CGROUP_ROOT));
    if dir.starts_with(&root) && dir != root {
        Ok(root)
    } else {
        Err(CgroupError::Invalid(format!(
            "path {} is not below the cgroup2 mount {}",
            dir.display(),
            root.display()
        )))
    }
}

/// The directories from the mount root (included) down to `dir` (excluded).
fn ancestors(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut chain: Vec<PathBuf> = dir
        .ancestors()
        .skip(1)
        .take_while(|p| p.starts_with(root))
        .map(Path::to_path_buf)
        .collect();
    chain.reverse();
    chain
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_whitespace()
}

/// Creates `dir` and its missing parents, enabling in every ancestor each controller its own
/// parent makes available. On error the directories created here are removed again.
pub fn create(dir: &Path, enable: bool) -> Result<()> {
    let root = mount_root(dir)?;
    let mut created = Vec::new();
    let result = (|| {
        for a in ancestors(&root, dir).into_iter().chain([dir.to_path_buf()]) {
            if !a.exists() {
                std::fs::create_dir(&a).map_err(|e| CgroupError::Io {
                    op: "create cgroup",
                    path: a.clone(),
                    cause: Cause::from(e),
                })?;
                created.push(a.clone());
            }
            if enable && a != dir {
                enable_all(&a);
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for d in created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

/// Enables every available controller in `dir`'s subtree, one at a time, ignoring refusals
/// (they are diagnosed by [`require`] when a resource needs the controller).
fn enable_all(dir: &Path) {
    let Ok(available) = read(dir, "cgroup.controllers") else {
        return;
    };
    let enabled = read(dir, "cgroup.subtree_control").unwrap_or_default();
    for c in words(&available).filter(|c| !words(&enabled).any(|e| e == *c)) {
        let _ = write(
            dir,
            "cgroup.subtree_control",
            &format!("+{c}"),
            "enable controller",
        );
    }
}

/// Makes sure `controller` is enabled for `dir`, enabling it down the chain of ancestors where
/// needed. `setting` names what needs it, for the error.
pub fn require(dir: &Path, controller: &str, setting: &str) -> Result<()> {
    if read_optional(dir, "cgroup.controllers")?.is_some_and(|c| words(&c).any(|w| w == controller))
    {
        return Ok(());
    }
    let root = mount_root(dir)?;
    for a in ancestors(&root, dir) {
        let available = read(&a, "cgroup.controllers")?;
        if !words(&available).any(|w| w == controller) {
            return Err(CgroupError::Unsupported(format!(
                "{setting} needs the {controller} controller, which {} does not offer \
                 (it is not in {}/cgroup.controllers)",
                a.display(),
                a.display()
            )));
        }
        let enabled = read(&a, "cgroup.subtree_control")?;
        if words(&enabled).any(|w| w == controller) {
            continue;
        }
        let value = format!("+{controller}");
        match write(&a, "cgroup.subtree_control", &value, "enable controller") {
            Ok(()) => {}
            Err(CgroupError::Write {
                path, value, cause, ..
            }) if cause.errno() == Some(Errno::EBUSY) => {
                return Err(CgroupError::Write {
                    what: format!(
                        "{setting} needs the {controller} controller, but {} has processes of \
                         its own and cgroup v2 allows no controllers below a cgroup with \
                         processes (move them to a leaf cgroup, or use a cgroupsPath outside \
                         it)",
                        a.display()
                    ),
                    path,
                    value,
                    cause,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The `cgroup.type` of `dir` must allow domain controllers; a cgroup in "domain invalid"
/// or threaded mode cannot take memory, io or hugetlb limits.
pub fn check_domain(dir: &Path) -> Result<()> {
    match read_optional(dir, "cgroup.type")?.as_deref() {
        Some("domain invalid") => Err(CgroupError::Invalid(format!(
            "{} is in \"domain invalid\" state (its parent has processes and threaded \
             children); it cannot hold a container",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_mount_down_to_the_parent() {
        let a = ancestors(
            Path::new("/sys/fs/cgroup"),
            Path::new("/sys/fs/cgroup/a/b/c"),
        );
        assert_eq!(
            a,
            vec![
                PathBuf::from("/sys/fs/cgroup"),
                PathBuf::from("/sys/fs/cgroup/a"),
                PathBuf::from("/sys/fs/cgroup/a/b")
            ]
        );
    }
}
