//! CVE-2023-25809: the host's cgroup hierarchy in a user-namespaced container. runc, in a user
//! namespace without a cgroup namespace, bound the host's whole `/sys/fs/cgroup` into the
//! container, writable: the container saw, and where delegated could write, every cgroup on
//! the host.
//!
//! rind's cgroup mount without a cgroup namespace binds only the container's own cgroup
//! directory of each hierarchy (`linux/cgroup_mount.rs`), with the spec's flags.

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn a_user_namespace_without_a_cgroup_namespace_sees_only_its_own_cgroup() {
    let rt = Runtime::new();
    let mut b = bundle("cat /proc/self/mountinfo");
    b.drop_namespace("cgroup");
    b.add_user_namespace(100000, 100000, 65536);
    // Writable, as the spec asks here: the bind must still be of the container's own cgroup.
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["type"] == "cgroup" {
            m["options"] = json!(["nosuid", "noexec", "nodev", "relatime"]);
        }
    }
    let id = unique("cve-25809");
    let out = rt.run_bundle(&b, &id);
    assert!(out.status.success(), "{}", both(&out));
    let entries = parse_mountinfo(&String::from_utf8_lossy(&out.stdout));
    let cgroup_mounts: Vec<_> = entries
        .iter()
        .filter(|e| e.fstype == "cgroup" || e.fstype == "cgroup2")
        .collect();
    assert!(
        !cgroup_mounts.is_empty(),
        "no cgroup mount in the container"
    );
    for e in cgroup_mounts {
        assert!(
            e.root.ends_with(&format!("/{id}")),
            "{} shows {} of the host's hierarchy, not the container's cgroup",
            e.mount_point,
            e.root
        );
    }
}
