//! CVE-2026-88264 (crun): `/dev/console` created through a symlink. With no mount on `/dev`
//! and `terminal: true`, an image's `/dev/console -> /some/host/path` made crun create a
//! root-owned file at that host path.
//!
//! rind makes `/dev/console` in the container's `/dev` without following a symlink (one there
//! is replaced: `paths::create_in`), after pivot_root.

use std::path::PathBuf;

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn a_console_symlinked_to_a_host_path_creates_nothing_there() {
    let rt = Runtime::new();
    let outside = outside_dir("console-outside");
    let bait = outside.path().join("console");
    let mut b = bundle("stat -c %F /dev/console");
    b.config["process"]["terminal"] = json!(true);
    drop_mounts(&mut b, &["/dev"]);
    plant_symlink(&b, "/dev/console", bait.to_str().unwrap());
    let (out, _) = rt.outputs_of(&b);
    assert_eq!(out.trim(), "character special file");
    assert_eq!(entries(outside.path()), Vec::<PathBuf>::new());
}
