//! CVE-2026-41579 (runc): an image with `/dev` a symlink to a host directory, and no `/dev`
//! mount: runc removed a `ptmx` there and created the `/dev` symlinks (`fd`, `stdin`, ...) in
//! it, on the host.
//!
//! rind makes every node and link in a `/dev` it resolves inside the rootfs, from a
//! descriptor of it; a host directory of the same name is never touched.

use std::path::PathBuf;

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn a_dev_symlinked_to_a_host_directory_leaves_it_alone() {
    let rt = Runtime::new();
    let outside = outside_dir("outside");
    std::fs::write(outside.path().join("ptmx"), "host file\n").unwrap();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"]);
    plant_symlink(&b, "/dev", outside.path().to_str().unwrap());
    let out = rt.run_bundle(&b, &unique("cve-41579"));
    assert_eq!(
        entries(outside.path()),
        vec![PathBuf::from("ptmx")],
        "the runtime made or removed files in the host directory: {}",
        both(&out)
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("ptmx")).unwrap(),
        "host file\n"
    );
}
