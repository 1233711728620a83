//! CVE-2025-52565: a runtime-made mount led by the image into procfs. With no tmpfs on `/dev`
//! and `terminal: true`, an image's `/dev/console -> /proc/sys/kernel/core_pattern` got the
//! container's terminal bound over `core_pattern`, where the container could write it; the
//! same holds for every mount the runtime makes on its own behalf (device nodes, the `/dev`
//! symlinks, masks) and for spec mounts led by a symlink into procfs or sysfs.
//!
//! rind creates its own targets without following a symlink (one is replaced), refuses a
//! target on procfs or sysfs that the destination does not name, binds by descriptor, and
//! checks `/dev/console` is the terminal afterwards (`linux/console.rs`, `linux/rootfs.rs`).

use std::path::Path;

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";

/// procfs and sysfs files a terminal or a device could be made to cover: the ones this host
/// has.
fn targets() -> Vec<&'static str> {
    let all = [
        CORE_PATTERN,
        "/proc/sys/kernel/modprobe",
        "/proc/sys/vm/drop_caches",
        "/sys/kernel/uevent_helper",
        "/sys/kernel/profiling",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ];
    all.into_iter().filter(|p| Path::new(p).exists()).collect()
}

/// `stat -c '%F %t:%T'` of each path, one line each ("character special file 88:0").
fn stat_script(paths: &[&str]) -> String {
    format!("stat -c '%n|%F|%t:%T' {}", paths.join(" "))
}

/// The type and `major:minor` (hex) the container's stat printed for `path`.
fn stat_of(out: &str, path: &str) -> (String, String) {
    out.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find_map(|l| {
            let mut f = l.split('|');
            (f.next()? == path).then(|| (f.next().unwrap().into(), f.next().unwrap().into()))
        })
        .unwrap_or_else(|| panic!("no stat line for {path} in {out:?}"))
}

/// The terminal goes on `/dev/console`, never through the image's symlink onto a procfs or
/// sysfs file.
#[test]
fn the_console_never_lands_on_a_procfs_or_sysfs_file() {
    let rt = Runtime::new();
    for target in targets() {
        let mut b = bundle(&stat_script(&["/dev/console", target]));
        b.config["process"]["terminal"] = json!(true);
        drop_mounts(&mut b, &["/dev"]);
        plant_symlink(&b, "/dev/console", target);
        let (out, _) = rt.outputs_of(&b);
        let (typ, _) = stat_of(&out, target);
        assert_ne!(
            typ, "character special file",
            "the terminal was bound over {target}: {out}"
        );
        let (console, dev) = stat_of(&out, "/dev/console");
        assert_eq!(console, "character special file", "{out}");
        assert_ne!(dev, "1:3", "{out}");
    }
}

/// Device nodes: made by mknod without a user namespace, bound from the host's in one. Either
/// way an image's `/dev/null -> core_pattern` is replaced, not followed.
#[test]
fn device_nodes_never_follow_a_symlink() {
    for userns in [false, true] {
        let rt = Runtime::new();
        let mut b = bundle(&stat_script(&["/dev/null", CORE_PATTERN]));
        drop_mounts(&mut b, &["/dev"]);
        if userns {
            b.add_user_namespace(100000, 100000, 65536);
        }
        plant_symlink(&b, "/dev/null", CORE_PATTERN);
        if userns {
            let link = b.rootfs().join("dev/null");
            std::os::unix::fs::lchown(&link, Some(100000), Some(100000)).unwrap();
        }
        let (out, _) = rt.outputs_of(&b);
        assert_eq!(
            stat_of(&out, "/dev/null"),
            ("character special file".into(), "1:3".into()),
            "user namespace: {userns}: {out}"
        );
        assert_ne!(
            stat_of(&out, CORE_PATTERN).0,
            "character special file",
            "user namespace: {userns}: the null device was bound over core_pattern: {out}"
        );
    }
}

/// The `/dev` symlinks: an image's `/dev/ptmx -> core_pattern` is replaced by the link to the
/// container's devpts.
#[test]
fn the_dev_ptmx_link_is_replaced() {
    let rt = Runtime::new();
    let mut b = bundle("readlink /dev/ptmx");
    drop_mounts(&mut b, &["/dev"]);
    plant_symlink(&b, "/dev/ptmx", CORE_PATTERN);
    let (out, _) = rt.outputs_of(&b);
    assert_eq!(out.trim(), "pts/ptmx");
}

/// Spec mounts may follow a symlink inside the rootfs, but never into procfs or sysfs when
/// their destination is not there: `/dev/mqueue`, `/dev/pts`, `/dev/shm`, `/sys/fs/cgroup`
/// led by the image into `/proc/sys` or `/sys/kernel`.
#[test]
fn spec_mounts_led_into_procfs_or_sysfs_are_refused() {
    let cases = [
        ("/dev/mqueue", "/proc/sys/fs/mqueue", "procfs"),
        ("/dev/pts", "/proc/sys/kernel", "procfs"),
        ("/dev/shm", "/sys/kernel/mm", "sysfs"),
        ("/dev/shm", "/sys/fs/cgroup", "sysfs"),
    ];
    for (dest, link, fs) in cases {
        let rt = Runtime::new();
        let mut b = bundle("true");
        drop_mounts(&mut b, &["/dev"]);
        move_mount_first(&mut b, "/sys");
        move_mount_first(&mut b, "/proc");
        plant_symlink(&b, dest, link);
        let out = rt.run_bundle(&b, &unique("cve-52565"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(dest),
            "{dest} -> {link} ({fs}) was mounted: {}",
            both(&out)
        );
    }
    // The cgroup mount, without a sysfs on /sys: /sys/fs/cgroup -> /proc/sys/kernel.
    let rt = Runtime::new();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/sys"]);
    plant_symlink(&b, "/sys/fs/cgroup", "/proc/sys/kernel");
    let err = rt.run_fails(&b, &unique("cve-52565"));
    assert!(err.contains("/sys/fs/cgroup"), "{err}");
}

/// Masked and readonly paths land where the spec says: through a symlink (here to
/// `core_pattern`) they are refused.
#[test]
fn masks_and_readonly_paths_do_not_follow_a_symlink() {
    for list in ["maskedPaths", "readonlyPaths"] {
        let rt = Runtime::new();
        let mut b = bundle(&stat_script(&[CORE_PATTERN]));
        plant_symlink(&b, "/testfile", CORE_PATTERN);
        b.config["linux"][list]
            .as_array_mut()
            .unwrap()
            .push(json!("/testfile"));
        let out = rt.run_bundle(&b, &unique("cve-52565"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("/testfile") && err.contains("symlink"),
            "{list}: a path through a symlink was accepted: {}",
            both(&out)
        );
    }
}
