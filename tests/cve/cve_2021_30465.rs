//! CVE-2021-30465: a mount target swapped for a symlink between the check and the mount. Two
//! containers share a volume; the victim's spec mounts the volume on `/vol` and a tmpfs on
//! `/vol/mnt`, and the attacker exchanges `mnt` with a symlink to a host path in a loop.
//! runc checked the path and then mounted by path, so the mount followed the symlink out of the
//! rootfs.
//!
//! rind resolves a target inside the rootfs (`openat2(RESOLVE_IN_ROOT)`) and mounts on the
//! descriptor it got (`paths::mount_at`): the mount lands on what was resolved, inside the
//! rootfs, whatever is swapped afterwards.

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn a_mount_target_swapped_with_a_symlink_never_lands_outside_the_rootfs() {
    let rt = Runtime::new();
    let vol = TempDir::new("vol");
    let outside = outside_dir("outside");
    std::fs::create_dir(vol.path().join("mnt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), vol.path().join("link")).unwrap();
    // The victim prints where its tmpfs (known by its mode) is mounted, as it sees it. A mount
    // outside its root would not be listed at all.
    let mut b = bundle("grep -F mode=1713 /proc/self/mountinfo | cut -d' ' -f5");
    b.add_bind(vol.path(), "/vol", &["rbind"]);
    b.add_mount(
        serde_json::json!({"destination": "/vol/mnt", "type": "tmpfs",
        "source": "tmpfs", "options": ["mode=1713"]}),
    );
    b.write();
    let mut racer = Racer::start(&vol.path().join("mnt"), &vol.path().join("link"));
    let budget = Budget::new(100, 20);
    let (mut attempts, mut started, mut lost) = (0, 0, Vec::new());
    while budget.more(attempts) {
        attempts += 1;
        let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &unique("v")]);
        if !out.status.success() {
            continue;
        }
        started += 1;
        let points: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if points.len() != 1 {
            lost.push(points);
        }
    }
    let swaps = racer.stop();
    eprintln!("{attempts} attempts, {started} started, {swaps} swaps");
    assert!(
        swaps > 0,
        "the attacker never swapped: the race did not run"
    );
    assert!(started > 0, "no container started in {attempts} attempts");
    assert!(
        lost.is_empty(),
        "the tmpfs was not in the container's root exactly once: {lost:?}"
    );
    assert_eq!(entries(outside.path()), Vec::<std::path::PathBuf>::new());
}
