//! CVE-2019-19921: procfs mounted through a symlink into a volume another container shares.
//! The image has `/proc -> /evil/level1/level2` and the spec mounts a volume on `/evil`; a
//! second container with the same volume swaps `level1` and `level1~` in a loop. The procfs
//! then sits in one directory while the runtime's later steps (the read-only `/proc/sys`, the
//! masks, sysctls, the LSM label) go through the symlink into the other, which the attacker
//! filled with fake files: `/proc/sys` stays writable in the container.
//!
//! rind mounts procfs only on an ordinary directory reached without a symlink (and writes to
//! procfs only through its verified handle): every attempt is refused, and nothing the
//! attacker planted is written.

use std::path::Path;

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

/// A fake procfs tree in `dir`: a sysctl and an LSM attribute the runtime would write.
fn fake_proc(dir: &Path) {
    std::fs::create_dir_all(dir.join("sys/net/ipv4")).unwrap();
    std::fs::write(dir.join("sys/net/ipv4/ip_forward"), "0\n").unwrap();
    std::fs::create_dir_all(dir.join("self/attr")).unwrap();
    std::fs::write(dir.join("self/attr/exec"), "").unwrap();
}

fn untouched(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("sys/net/ipv4/ip_forward")).unwrap() == "0\n"
        && std::fs::read_to_string(dir.join("self/attr/exec"))
            .unwrap()
            .is_empty()
}

#[test]
fn procfs_is_never_mounted_through_a_symlink_into_a_shared_volume() {
    let rt = Runtime::new();
    let vol = TempDir::new("vol");
    let (one, other) = (vol.path().join("level1"), vol.path().join("level1~"));
    fake_proc(&one.join("level2"));
    fake_proc(&other.join("level2"));
    let mut b = bundle("true");
    plant_symlink(&b, "/proc", "/evil/level1/level2");
    b.add_bind(vol.path(), "/evil", &["rbind"]);
    move_mount_first(&mut b, "/evil");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.write();
    let mut racer = Racer::start(&one, &other);
    let budget = Budget::new(50, 10);
    let (mut attempts, mut started, mut other_errors) = (0, 0, Vec::new());
    while budget.more(attempts) {
        attempts += 1;
        let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &unique("v")]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            started += 1;
        } else if !err.contains("must be mounted on ordinary directory") {
            other_errors.push(err);
        }
    }
    let swaps = racer.stop();
    eprintln!("{attempts} attempts, {started} started, {swaps} swaps");
    assert!(
        swaps > 0,
        "the attacker never swapped: the race did not run"
    );
    assert!(
        untouched(&one.join("level2")) && untouched(&other.join("level2")),
        "the runtime wrote into the attacker's fake procfs files"
    );
    assert_eq!(
        started, 0,
        "containers started with /proc a symlink into the volume"
    );
    assert!(other_errors.is_empty(), "{other_errors:?}");
}
