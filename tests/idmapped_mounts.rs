//! Id-mapped bind mounts: `idmap` with the container's user namespace, a mount's own
//! `uidMappings`/`gidMappings` (with and without a container user namespace), `idmap` against
//! `ridmap` on a tree with a submount, the mount's flags, `exec`, and the refused cases.
//!
//! The sources live under the temp directory (ext4 on the development hosts) or on a tmpfs
//! (Linux >= 6.3); both allow id-mapped mounts. The VM's guest has neither (its temp directory
//! is the initramfs, a tmpfs on Linux 6.1): there the tests that need a mapping record a skip
//! (counted apart from the passes) and return, and the refusal of such a filesystem is tested
//! instead.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn maps(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// A host directory owned by host root (mode 0755) holding `file`, owned by `uid:gid`.
fn host_source(uid: u32, gid: u32) -> TempDir {
    let dir = TempDir::new("idmap-src");
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("file"), "from the host\n").unwrap();
    std::os::unix::fs::chown(dir.path().join("file"), Some(uid), Some(gid)).unwrap();
    dir
}

/// Whether this kernel can id-map a tmpfs (Linux 6.3 added it).
fn tmpfs_allows_idmap() -> bool {
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy().into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 3)
}

/// True (after recording a skip) when the temp directory's filesystem cannot be
/// id-mapped here, or, with `needs_tmpfs`, a tmpfs cannot. Filesystems not known to lack the
/// support run the test, so a regression on the development hosts (ext4) still fails it.
fn skip_without_idmap(needs_tmpfs: bool) -> bool {
    use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
    // linux/magic.h; neither nix nor libc names it.
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    let fs = statfs(&std::env::temp_dir()).unwrap().filesystem_type();
    let why = if fs == RAMFS_MAGIC {
        Some("the temp directory is on ramfs, which has no id-mapped mounts")
    } else if (fs == TMPFS_MAGIC || needs_tmpfs) && !tmpfs_allows_idmap() {
        Some("tmpfs has id-mapped mounts from Linux 6.3 on")
    } else {
        None
    };
    if let Some(why) = why {
        skip(why);
    }
    why.is_some()
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn idmap_shows_host_root_files_as_container_root_and_writes_back_as_host_root() {
    if skip_without_idmap(false) {
        return;
    }
    let rt = Runtime::new();
    let src = host_source(0, 0);
    let mut b = Bundle::sh(
        "stat -c %u:%g /data/file; cat /data/file; echo hi > /data/made-inside && \
         stat -c %u:%g /data/made-inside",
    );
    b.add_user_namespace(100000, 100000, 65536);
    b.add_bind(src.path(), "/data", &["idmap"]);
    let out = rt.output_of(&b);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["0:0", "from the host", "0:0"],
        "{out}"
    );
    // Stored through the mapping: host root owns it, not the container's host uid 100000.
    assert_eq!(owner(&src.path().join("made-inside")), (0, 0));
}

#[test]
fn without_idmap_host_root_files_are_the_overflow_id_and_read_only_to_the_container() {
    let rt = Runtime::new();
    let src = host_source(0, 0);
    let mut b = Bundle::sh("stat -c %u:%g /data/file; touch /data/made-inside 2>&1; true");
    b.add_user_namespace(100000, 100000, 65536);
    b.add_bind(src.path(), "/data", &[]);
    let out = rt.output_of(&b);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("65534:65534"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    assert!(!src.path().join("made-inside").exists());
}

/// The mount's own mappings, not the container's: a file owned on disk by 5:7 is host
/// 101005:102007 through the mount, which the container (0 = host 100000) sees as 1005:2007.
#[test]
fn a_mounts_own_mappings_apply_instead_of_the_containers() {
    if skip_without_idmap(false) {
        return;
    }
    let rt = Runtime::new();
    let src = host_source(5, 7);
    let mut b = Bundle::sh("stat -c %u:%g /data/file /data2/file");
    b.add_user_namespace(100000, 100000, 65536);
    // Two mounts with equal mappings (they share one user namespace).
    for dest in ["/data", "/data2"] {
        b.add_mount(json!({
            "destination": dest, "type": "bind", "source": src.path(),
            "options": ["bind"],
            "uidMappings": maps(0, 101000, 10),
            "gidMappings": maps(0, 102000, 10),
        }));
    }
    let out = rt.output_of(&b);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["1005:2007", "1005:2007"],
        "{out}"
    );
}

/// As in runc 1.2, a mount's own mappings need no user namespace in the container: host root
/// in the container sees the mapped owner, and cannot create files (it has no id there).
#[test]
fn a_mounts_own_mappings_work_without_a_container_user_namespace() {
    if skip_without_idmap(false) {
        return;
    }
    let rt = Runtime::new();
    let src = host_source(0, 0);
    let mut b = Bundle::sh("stat -c %u:%g /data/file; touch /data/new 2>&1; true");
    b.add_mount(json!({
        "destination": "/data", "type": "bind", "source": src.path(),
        "options": ["rbind", "idmap"],
        "uidMappings": maps(0, 100000, 65536),
        "gidMappings": maps(0, 200000, 65536),
    }));
    let out = rt.output_of(&b);
    assert_eq!(out.lines().next(), Some("100000:200000"), "{out}");
    assert!(out.contains("Value too large"), "{out}");
    assert!(!src.path().join("new").exists());
}

/// `idmap` maps the bind mount only; `ridmap` maps the mounts under it too (here a tmpfs on
/// `sub`, whose file belongs to host root).
#[test]
fn ridmap_maps_submounts_and_idmap_does_not() {
    if skip_without_idmap(true) {
        return;
    }
    let src = host_source(0, 0);
    let sub = src.path().join("sub");
    let _tmpfs = HostMount::tmpfs(&sub);
    std::fs::write(sub.join("inner"), "in the submount\n").unwrap();
    for (option, inner_owner) in [("idmap", "65534:65534"), ("ridmap", "0:0")] {
        let rt = Runtime::new();
        let mut b = Bundle::sh("stat -c %u:%g /data/file /data/sub/inner; cat /data/sub/inner");
        b.add_user_namespace(100000, 100000, 65536);
        b.add_mount(json!({
            "destination": "/data", "type": "bind", "source": src.path(),
            "options": ["rbind", option],
        }));
        let out = rt.output_of(&b);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["0:0", inner_owner, "in the submount"],
            "{option}: {out}"
        );
    }
}

#[test]
fn an_id_mapped_mount_keeps_its_flags() {
    if skip_without_idmap(false) {
        return;
    }
    let rt = Runtime::new();
    let src = host_source(0, 0);
    let mut b = Bundle::sh(
        "stat -c %u /data/file; touch /data/new 2>&1; grep ' /data ' /proc/self/mountinfo",
    );
    b.add_user_namespace(100000, 100000, 65536);
    b.add_bind(
        src.path(),
        "/data",
        &["idmap", "ro", "nosuid", "nodev", "noexec"],
    );
    let out = rt.output_of(&b);
    assert_eq!(out.lines().next(), Some("0"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    let entry = parse_mountinfo(&out)
        .into_iter()
        .find(|m| m.mount_point == "/data")
        .expect("/data listed");
    for o in ["ro", "nosuid", "nodev", "noexec", "idmapped"] {
        assert!(entry.has_option(o), "{o} missing: {entry:?}");
    }
}

#[test]
fn exec_sees_the_id_mapped_mount_as_init_does() {
    if skip_without_idmap(false) {
        return;
    }
    let rt = Runtime::new();
    let src = host_source(0, 0);
    let mut b = Bundle::sh("sleep 30");
    b.add_user_namespace(100000, 100000, 65536);
    b.add_bind(src.path(), "/data", &["idmap"]);
    let id = unique("idmap-exec");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = rt.ok(&["exec", &id, "sh", "-c", "stat -c %u:%g /data/file; id -u"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["0:0", "0"], "{out}");
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
}

fn create_error(b: &Bundle) -> String {
    let rt = Runtime::new();
    let id = unique("idmap-bad");
    let err = rt.run_fails(b, &id);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        processes_with_arg(&id).is_empty(),
        "a process of {id} outlived the failed run"
    );
    assert!(rt.fails(&["state", &id]).contains("does not exist"));
    err
}

#[test]
fn id_mappings_on_a_mount_that_is_not_a_bind_are_refused() {
    let mut b = Bundle::sh("true");
    b.add_user_namespace(100000, 100000, 65536);
    b.add_mount(
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                       "options": ["idmap"]}),
    );
    let err = create_error(&b);
    assert!(
        err.contains("/data") && err.contains("bind mounts only"),
        "{err}"
    );
}

#[test]
fn uid_mappings_without_gid_mappings_are_refused() {
    let src = host_source(0, 0);
    let mut b = Bundle::sh("true");
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": src.path(),
                       "options": ["bind"], "uidMappings": maps(0, 100000, 10)}),
    );
    let err = create_error(&b);
    assert!(
        err.contains("/data") && err.contains("uidMappings and gidMappings"),
        "{err}"
    );
}

/// procfs does not allow id-mapped mounts: the kernel's EINVAL becomes a sentence naming the
/// source, and the helper user namespace's process is gone with the failed run.
#[test]
fn a_filesystem_without_id_mapping_support_is_named() {
    let mut b = Bundle::sh("true");
    b.add_user_namespace(100000, 100000, 65536);
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": "/proc/sys",
                       "options": ["rbind", "idmap"],
                       "uidMappings": maps(0, 300000, 10), "gidMappings": maps(0, 300000, 10)}),
    );
    let err = create_error(&b);
    assert!(
        err.contains("/proc/sys")
            && err.contains("does not allow id-mapped mounts")
            && err.contains("invalid argument"),
        "{err}"
    );
}

/// crun reads mappings from the option itself (`idmap=uids=0-1-10;gids=...`); as filesystem
/// data a bind mount would drop them, so rind refuses the spelling instead of mounting unmapped.
#[test]
fn cruns_idmap_option_syntax_is_refused_not_dropped() {
    let src = host_source(0, 0);
    let mut b = Bundle::sh("true");
    b.add_user_namespace(100000, 100000, 65536);
    b.add_bind(
        src.path(),
        "/data",
        &["idmap=uids=0-100000-10;gids=0-100000-10"],
    );
    let err = create_error(&b);
    assert!(
        err.contains("/data") && err.contains("idmap=uids") && err.contains("uidMappings"),
        "{err}"
    );
}
