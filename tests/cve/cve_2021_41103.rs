//! CVE-2021-41103 (containerd): the directories holding containers' root filesystems and
//! bundles (and the snapshotter's) were reachable by every host user, who could then run a
//! running container's setuid binaries as root from the host. For rind: the bundle and
//! overlayfs root that `run --image` makes under the store, and the state root (`--root`)
//! with each container's `config.json` and exec FIFO (issue 13, item 5).

use std::os::unix::fs::PermissionsExt;

use super::cve_2021_41091::{
    as_nobody, assert_reachable_setuid_runs_as_root, assert_unreachable_by_nobody, hostile_image,
    probe_runs_here, rind, rind_ok,
};
use crate::common::{TempDir, unique};

/// The attack on a running container's root, from the host.
#[test]
fn cve_2021_41103_a_running_containers_root_and_state_are_out_of_other_users_reach() {
    if !probe_runs_here() {
        return;
    }
    assert_reachable_setuid_runs_as_root();
    let work = TempDir::new("cve-41103");
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = work.path().join("store");
    let root = work.path().join("root");
    let reference = hostile_image(&work.path().join("layout"));
    let name = unique("victim");
    rind_ok(
        &root,
        &store,
        &["image", "import", "-q", "--name", "hostile", &reference],
    );
    rind_ok(
        &root,
        &store,
        &["run", "--image", "hostile", "-d", "--name", &name],
    );
    let rootfs = store.join("containers").join(&name).join("rootfs");
    let attempt = std::panic::catch_unwind(|| {
        // The overlayfs root of the running container, as the host sees it.
        assert_unreachable_by_nobody(&rootfs);
        // The state: not even its names can be read or walked through.
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700, "state root mode {mode:o}");
        let config = root.join(&name).join("config.json");
        assert!(config.exists());
        for argv in [
            vec!["cat", config.to_str().unwrap()],
            vec!["ls", root.to_str().unwrap()],
            vec!["stat", root.join(&name).to_str().unwrap()],
        ] {
            let out = as_nobody(&argv);
            assert!(!out.status.success(), "user 65534 could {argv:?}");
        }
    });
    let rm = rind(&root, &store, &["rm", "-f", &name]);
    if let Err(e) = attempt {
        std::panic::resume_unwind(e);
    }
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
}

/// A state root that is open (made 0755 by hand or by an older tool) is tightened to 0700 at
/// the first command; one owned by another user, or a symbolic link, is refused by every verb,
/// before anything is written into it.
#[test]
fn cve_2021_41103_an_open_state_root_is_tightened_and_a_foreign_one_refused() {
    let work = TempDir::new("cve-41103-root");
    let store = work.path().join("store");
    let open = work.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    rind_ok(&open, &store, &["list"]);
    let mode = std::fs::metadata(&open).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "state root mode {mode:o}");

    let foreign = work.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    let link = work.path().join("link");
    std::os::unix::fs::symlink(&open, &link).unwrap();
    let bundle = work.path().join("no-bundle");
    for (root, want) in [(&foreign, "owned by uid 65534"), (&link, "symbolic link")] {
        for args in [
            vec!["list"],
            vec!["state", "x"],
            vec!["delete", "--force", "x"],
            vec!["create", "--bundle", bundle.to_str().unwrap(), "x"],
        ] {
            let out = rind(root, &store, &args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{args:?} under {}: {err}",
                root.display()
            );
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
    // Nothing was written into the foreign root (not even the seccomp cache).
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 0);
}
