//! CVE-2024-45310: creating a missing mount target through a directory another container
//! swaps with a symlink. runc made the missing directories and files of a target by path, so
//! racing a directory of a shared volume with a symlink to a host path made it create empty
//! directories and files on the host.
//!
//! rind creates a missing target one component at a time from descriptors, following a
//! symlink only by hand and inside the rootfs (`RootDir::create`): nothing is ever made
//! outside it.

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn creating_a_mount_target_never_makes_anything_outside_the_rootfs() {
    let rt = Runtime::new();
    let vol = TempDir::new("vol");
    let outside = outside_dir("outside");
    let source = TempDir::new("source");
    std::fs::create_dir(vol.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(outside.path(), vol.path().join("sub-link")).unwrap();
    let mut b = bundle("true");
    b.add_bind(vol.path(), "/vol", &["rbind"]);
    b.add_bind(source.path(), "/vol/sub/made/by/rind", &[]);
    b.write();
    let budget = Budget::new(100, 20);
    let (mut attempts, mut swaps) = (0, 0);
    while budget.more(attempts) {
        attempts += 1;
        let mut racer = Racer::start(&vol.path().join("sub"), &vol.path().join("sub-link"));
        rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &unique("v")]);
        swaps += racer.stop();
        // A fresh target for the next attempt: what this one made (in the volume's real
        // directory, whichever name it has now) goes; the symlink is not followed.
        for d in ["sub", "sub-link"] {
            let p = vol.path().join(d);
            if p.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                let _ = std::fs::remove_dir_all(p.join("made"));
            }
        }
    }
    eprintln!("{attempts} attempts, {swaps} swaps");
    assert!(
        swaps > 0,
        "the attacker never swapped: the race did not run"
    );
    assert_eq!(
        entries(outside.path()),
        Vec::<std::path::PathBuf>::new(),
        "the runtime made these outside the rootfs"
    );
}
