//! CVE-2019-18837 (crun): mount targets created through a symlink of the image. With
//! `/etc/resolv.conf -> /opt/resolv.conf` in the image, crun created the bind mount's target
//! file at `/opt/resolv.conf` on the host.
//!
//! rind resolves and creates targets inside the rootfs (`RootDir::create`): an absolute
//! symlink means the same path inside the rootfs.

use std::path::PathBuf;

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn a_mount_target_symlinked_to_a_host_path_is_made_inside_the_rootfs() {
    let rt = Runtime::new();
    let outside = outside_dir("outside");
    let source = TempDir::new("source");
    std::fs::write(source.path().join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    let mut b = bundle("cat /etc/resolv.conf && ls /data");
    let file = outside.path().join("resolv.conf");
    let dir = outside.path().join("data");
    plant_symlink(&b, "/etc/resolv.conf", file.to_str().unwrap());
    plant_symlink(&b, "/data", dir.to_str().unwrap());
    b.add_bind(&source.path().join("resolv.conf"), "/etc/resolv.conf", &[]);
    b.add_bind(source.path(), "/data", &[]);
    let (out, _) = rt.outputs_of(&b);
    assert!(out.starts_with("nameserver 127.0.0.1"), "{out}");
    assert_eq!(
        entries(outside.path()),
        Vec::<PathBuf>::new(),
        "targets were created on the host"
    );
    let inside = b.rootfs().join(outside.path().strip_prefix("/").unwrap());
    assert!(inside.join("resolv.conf").is_file() && inside.join("data").is_dir());
}
