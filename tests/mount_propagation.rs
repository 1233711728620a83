//! Mount propagation: `rootfsPropagation`, the propagation options of a spec mount (as the
//! optional fields of mountinfo show them), host mounts reaching a slave bind, and pivot_root
//! from a bundle on a shared mount.

mod common;

use common::*;
use serde_json::json;

fn mountinfo_of(rt: &Runtime, b: &mut Bundle) -> (Vec<MountEntry>, String) {
    b.config["process"]["args"] = json!(["cat", "/proc/self/mountinfo"]);
    let out = rt.output_of(b);
    (parse_mountinfo(&out), out)
}

/// A host directory that is a shared mount of its own, bound into the container at /mnt with
/// `options`; returns the host peer group and the container's /mnt entry.
fn shared_bind(rootfs_propagation: Option<&str>, options: &[&str]) -> (u32, MountEntry) {
    let rt = Runtime::new();
    let dir = TempDir::new("shared-src");
    let host = HostMount::shared_self_bind(dir.path());
    let group = host.entry().group("shared").expect("host dir is shared");
    let mut b = Bundle::new();
    if let Some(p) = rootfs_propagation {
        b.config["linux"]["rootfsPropagation"] = json!(p);
    }
    b.add_mount(
        json!({"destination": "/mnt", "type": "bind", "source": dir.path(),
                       "options": options}),
    );
    let (entries, out) = mountinfo_of(&rt, &mut b);
    let m = mount_at(&entries, "/mnt")
        .unwrap_or_else(|| panic!("no /mnt: {out}"))
        .clone();
    (group, m)
}

#[test]
fn default_rootfs_propagation_makes_binds_slaves_of_the_host() {
    let (group, m) = shared_bind(None, &["rbind"]);
    assert_eq!(m.group("master"), Some(group), "{m:?}");
    assert_eq!(m.group("shared"), None, "{m:?}");
}

#[test]
fn rootfs_propagation_rshared_keeps_binds_in_the_host_peer_group() {
    let (group, m) = shared_bind(Some("rshared"), &["rbind"]);
    assert_eq!(m.group("shared"), Some(group), "{m:?}");
}

#[test]
fn rootfs_propagation_rprivate_cuts_binds_from_the_host() {
    let (_, m) = shared_bind(Some("rprivate"), &["rbind"]);
    assert!(m.optional.is_empty(), "{m:?}");
}

#[test]
fn mount_propagation_options_show_in_mountinfo() {
    let (group, m) = shared_bind(None, &["rbind", "shared"]);
    let own = m.group("shared").expect("a shared peer group");
    assert_ne!(own, group, "a new peer group: {m:?}");
    assert_eq!(m.group("master"), Some(group), "and still a slave: {m:?}");

    let (_, m) = shared_bind(None, &["rbind", "private"]);
    assert!(m.optional.is_empty(), "{m:?}");
}

#[test]
fn a_slave_bind_receives_host_mounts_made_after_create() {
    let rt = Runtime::new();
    let dir = TempDir::new("slave-src");
    let _host = HostMount::shared_self_bind(dir.path());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let mut b = Bundle::sh("echo inside > /mnt/sub/written");
    b.add_bind(dir.path(), "/mnt", &["rslave"]);
    let id = unique("slave");
    rt.create(&b, &id);
    // Mounted on the host after the container's mounts were made: propagates into /mnt/sub.
    let sub = HostMount::tmpfs(&dir.path().join("sub"));
    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    assert_eq!(
        std::fs::read_to_string(sub.0.join("written")).unwrap_or_default(),
        "inside\n",
        "the container wrote into the host's new tmpfs"
    );
}

#[test]
fn pivot_works_when_the_bundle_is_on_a_shared_mount() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("echo ok");
    let _m = HostMount::shared_self_bind(b.path());
    assert_eq!(rt.output_of(&b).trim(), "ok");
    b.config["linux"]["rootfsPropagation"] = json!("private");
    assert_eq!(rt.output_of(&b).trim(), "ok");
}

/// A bundle whose process may mount (CAP_SYS_ADMIN, no seccomp profile) and runs `script`.
fn mounting(script: &str, propagation: &str) -> Bundle {
    let mut b = Bundle::sh(script);
    b.add_capability("CAP_SYS_ADMIN");
    b.config["linux"]["seccomp"] = json!(null);
    b.config["linux"]["rootfsPropagation"] = json!(propagation);
    b
}

/// runtime-tools' linux_rootfs_propagation: "shared" makes the container's root mount shared
/// (a bind of `/` inside then sees what is mounted under `/` later), and "unbindable" makes it
/// unbindable (binding `/` fails with EINVAL) instead of failing create.
#[test]
fn rootfs_propagation_shared_and_unbindable_hold_for_the_root_mount() {
    let rt = Runtime::new();
    let b = mounting(
        "mkdir -p /t /m /x && touch /x/f && mount --rbind / /t && mount --bind /x /m && \
         ls /t/m",
        "shared",
    );
    assert_eq!(rt.output_of(&b).trim(), "f", "the bind of / sees /m");
    let b = mounting(
        "mkdir -p /t; mount --rbind / /t 2>&1 || echo refused",
        "unbindable",
    );
    let out = rt.output_of(&b);
    assert!(
        out.contains("Invalid argument") && out.contains("refused"),
        "{out}"
    );
}
