//! The cgroup of a rootless container.
//!
//! An ordinary user may create and limit cgroups only in a subtree that was delegated to it:
//! on cgroup v2, a directory the user owns (systemd's `Delegate=yes` for `user@<uid>.service`,
//! or a directory root chowned to the user). rind places the container where it would as root
//! (a relative `cgroupsPath`, or the id, under the parent of rind's own cgroup) when the
//! nearest existing directory on that path is the user's, and applies every limit there.
//!
//! Elsewhere (a cgroup v1 or hybrid host, or v2 without delegation) the container runs without
//! a cgroup of its own, in the caller's, as runc does; a spec with limits is refused then,
//! naming them, since rind never ignores a limit. Device rules are the exception: a rootless
//! container cannot make device nodes, only bind the host's, whose permissions still apply.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::RootlessError;
use crate::cgroups::{self, Cgroup, CgroupPaths, Layout, MountInfo};

/// The paths that stand for "no cgroup of its own": no v1 hierarchy, no unified directory.
/// Every operation on them does nothing (no processes, nothing to remove).
pub fn none() -> CgroupPaths {
    CgroupPaths::V1 {
        controllers: BTreeMap::new(),
        unified: None,
    }
}

/// True for [`none`].
pub fn is_none(paths: &CgroupPaths) -> bool {
    matches!(paths, CgroupPaths::V1 { controllers, unified: None } if controllers.is_empty())
}

/// The limits a spec sets, by field name; device rules do not count (see the module doc).
pub fn limits_set(r: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |set: bool, name: &'static str| {
        if set {
            out.push(name);
        }
    };
    add(r.memory().is_some(), "linux.resources.memory");
    add(r.cpu().is_some(), "linux.resources.cpu");
    add(r.pids().is_some(), "linux.resources.pids");
    add(r.block_io().is_some(), "linux.resources.blockIO");
    add(
        r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()),
        "linux.resources.hugepageLimits",
    );
    add(r.network().is_some(), "linux.resources.network");
    add(
        r.rdma().as_ref().is_some_and(|l| !l.is_empty()),
        "linux.resources.rdma",
    );
    add(
        r.unified().as_ref().is_some_and(|l| !l.is_empty()),
        "linux.resources.unified",
    );
    out
}

/// The part of `r` that applies to a rootless container's cgroup `paths`:
///
/// - without a cgroup of its own, nothing; limits are refused, naming them (`create` refuses
///   them earlier, in [`resolve`]; this is for `update`);
/// - without privilege in the host's user namespace, no device rules: loading the eBPF
///   program that enforces them needs `CAP_SYS_ADMIN` (or `CAP_BPF`) there, and the device
///   nodes such a container gets are the host's, bound with their permissions (runc ignores
///   the device controller's errors in rootless mode for the same reason).
pub fn applicable(
    paths: &CgroupPaths,
    mut r: LinuxResources,
) -> Result<LinuxResources, RootlessError> {
    if is_none(paths) {
        let set = limits_set(&r);
        if !set.is_empty() {
            return Err(RootlessError::Refused(format!(
                "{} cannot be applied: the container has no cgroup of its own (rootless, without a delegated cgroup)",
                set.join(", ")
            )));
        }
        return Ok(LinuxResources::default());
    }
    if super::without_host_privilege() {
        r.set_devices(None);
    }
    Ok(r)
}

/// Where a rootless container's cgroup goes: a delegated v2 directory, or none.
pub fn resolve(
    mounts: &MountInfo,
    cgroups_path: Option<&Path>,
    id: &str,
    resources: &LinuxResources,
) -> Result<Box<dyn Cgroup>, RootlessError> {
    let refused = |why: &str| -> Result<Box<dyn Cgroup>, RootlessError> {
        let set = limits_set(resources);
        if set.is_empty() {
            return Ok(cgroups::from_paths(&none()));
        }
        Err(RootlessError::Refused(format!(
            "{} cannot be applied: {why}; remove the limits, or run in a cgroup v2 subtree delegated to you",
            set.join(", ")
        )))
    };
    // Root of the host may write every cgroup: `--rootless true` as root changes nothing here.
    // Root inside a user namespace (rootless podman's runtime) is treated as the user it is.
    if !super::without_host_privilege() {
        return cgroups::resolve_in(mounts, cgroups_path, id)
            .map_err(|e| RootlessError::Refused(format!("linux.cgroupsPath: {e}")));
    }
    if mounts.layout() != Layout::Unified {
        return refused(
            "a rootless container gets no cgroup of its own on a cgroup v1 or hybrid host",
        );
    }
    let cg = cgroups::resolve_in(mounts, cgroups_path, id)
        .map_err(|e| RootlessError::Refused(format!("linux.cgroupsPath: {e}")))?;
    let CgroupPaths::V2 { dir } = cg.paths() else {
        return refused("this host's cgroup layout has no unified hierarchy");
    };
    if delegated(&dir) {
        Ok(cg)
    } else {
        refused(&format!(
            "{} is not in a cgroup subtree you own",
            dir.display()
        ))
    }
}

/// Whether the caller may make `dir`: its nearest existing ancestor (or itself) is owned by
/// the effective uid, with the `cgroup.procs` there writable by it too (moving processes needs
/// both, and systemd delegates both).
fn delegated(dir: &Path) -> bool {
    let euid = nix::unistd::geteuid().as_raw();
    let Some(existing) = dir.ancestors().find(|p| p.exists()) else {
        return false;
    };
    let owned = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.uid() == euid);
    owned(existing) && owned(&existing.join("cgroup.procs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_alone_are_no_limit() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}]}))
        .unwrap();
        assert!(limits_set(&r).is_empty());
        let r: LinuxResources = serde_json::from_value(
            serde_json::json!({"memory": {"limit": 1000000}, "pids": {"limit": 5}}),
        )
        .unwrap();
        assert_eq!(
            limits_set(&r),
            ["linux.resources.memory", "linux.resources.pids"]
        );
    }

    #[test]
    fn none_is_recognised() {
        assert!(is_none(&none()));
    }
}
