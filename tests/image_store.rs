//! The store: concurrent pulls from two processes, idempotent pulls, container roots that
//! share layers without unpacking again, leases that keep layers through `prune`, and the
//! copy fallback when overlayfs cannot be mounted.

mod image_support;

use std::process::Command;

use image_support::*;
use rind::image::progress::Progress;
use rind::image::{ImageRef, PullOptions, RootMode, Store};

/// Counts the layers a pull unpacked and the ones it found present.
#[derive(Default)]
struct Count {
    unpacked: std::sync::atomic::AtomicUsize,
    present: std::sync::atomic::AtomicUsize,
}

impl Progress for Count {
    fn layer_done(&self, _i: usize, _id: &str, unpacked: bool) {
        let c = if unpacked {
            &self.unpacked
        } else {
            &self.present
        };
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn counted_pull(store: &Store, r: &str) -> (rind::image::Image, usize, usize) {
    let count = std::sync::Arc::new(Count::default());
    let opts = PullOptions {
        progress: count.clone(),
        ..PullOptions::default()
    };
    let img = store.pull(&ImageRef::parse(r).unwrap(), &opts).unwrap();
    let n = |a: &std::sync::atomic::AtomicUsize| a.load(std::sync::atomic::Ordering::SeqCst);
    (img, n(&count.unpacked), n(&count.present))
}

/// The `rind` binary under test: `RIND_BIN`, else the one cargo built for these tests.
fn rind() -> Command {
    Command::new(std::env::var_os("RIND_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_rind").into()))
}

#[test]
fn two_processes_pulling_the_same_image_unpack_each_layer_once() {
    let img = images();
    require_root();
    let s = Scratch::new();
    let store_dir = s.path().join("store");
    let r = format!("oci:{}/oci-zstd:whiteouts", img.display());
    // Two `rind image pull` processes at once; off a terminal, each prints the image id on
    // stdout and a line per layer on stderr: "unpacked in" or "already in the store".
    let spawn = || {
        rind()
            .arg("--store")
            .arg(&store_dir)
            .args(["image", "pull", &r])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut unpacked = 0;
    let mut ids = Vec::new();
    for o in &outs {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "a pull failed: {err}");
        let id = String::from_utf8_lossy(&o.stdout);
        ids.push(id.split_whitespace().next().unwrap_or_default().to_string());
        let layers: Vec<&str> = err.lines().filter(|l| l.starts_with("layer ")).collect();
        assert_eq!(layers.len(), 2, "a line per layer: {err}");
        unpacked += layers
            .iter()
            .filter(|l| l.contains(": unpacked in "))
            .count();
        assert!(
            layers
                .iter()
                .all(|l| l.contains(": unpacked in ") || l.ends_with(": already in the store")),
            "{err}"
        );
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(
        unpacked, 2,
        "each of the 2 layers must be unpacked exactly once across both processes"
    );
    let store = Store::open(&store_dir).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_dir(store_dir.join("tmp")).unwrap().count(),
        0,
        "temporary dirs left"
    );
    // The result is intact: same tree as a pull by a single process.
    let image = store.get(&ids[0]).unwrap();
    let root = store
        .prepare_rootfs_with(&image, &s.path().join("c"), RootMode::Copy)
        .unwrap();
    let single = Store::open(&s.path().join("single")).unwrap();
    let (img2, _, _) = counted_pull(&single, &r);
    let root2 = single
        .prepare_rootfs_with(&img2, &s.path().join("c2"), RootMode::Copy)
        .unwrap();
    let d = diff(&snapshot(&root.rootfs), &snapshot(&root2.rootfs));
    root.release().unwrap();
    root2.release().unwrap();
    assert!(d.is_empty(), "concurrent pull differs:\n{}", d.join("\n"));
}

#[test]
fn second_pull_and_second_container_unpack_nothing() {
    let img = images();
    require_root();
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let r = format!("oci:{}/oci:whiteouts", img.display());
    let (image, unpacked, _) = counted_pull(&store, &r);
    assert_eq!(unpacked, 2);
    let (again, unpacked, present) = counted_pull(&store, &r);
    assert_eq!((unpacked, present), (0, 2));
    assert_eq!(again.id, image.id);

    let layers_before = std::fs::read_dir(s.path().join("store/layers/sha256"))
        .unwrap()
        .count();
    let a = store.prepare_rootfs(&image, &s.path().join("a")).unwrap();
    let b = store.prepare_rootfs(&image, &s.path().join("b")).unwrap();
    assert_eq!(
        a.mode,
        RootMode::Overlay,
        "overlay expected as root: {:?}",
        a.fallback_reason
    );
    assert_eq!(
        std::fs::read_dir(s.path().join("store/layers/sha256"))
            .unwrap()
            .count(),
        layers_before
    );
    // Writes stay in the container's own upper directory.
    std::fs::write(a.rootfs.join("etc/passwd"), "changed").unwrap();
    let b_passwd = std::fs::read_to_string(b.rootfs.join("etc/passwd")).unwrap();
    let layer_passwd = std::fs::read_to_string(
        store
            .layer_diff(&image.layers[0].chain_id)
            .join("etc/passwd"),
    )
    .unwrap();
    a.release().unwrap();
    b.release().unwrap();
    assert!(
        b_passwd.starts_with("root:"),
        "a write in one container showed in another"
    );
    assert!(
        layer_passwd.starts_with("root:"),
        "a write reached the shared layer"
    );
    assert!(!s.path().join("a/upper").exists() && !s.path().join("a/rootfs").exists());
}

#[test]
fn prune_keeps_layers_in_use_and_frees_them_after_release() {
    let img = images();
    require_root();
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let (image, _, _) = counted_pull(&store, &format!("oci:{}/oci:busybox", img.display()));
    let root = store.prepare_rootfs(&image, &s.path().join("c")).unwrap();
    store.remove(&image.names[0]).unwrap();
    let report = store.prune().unwrap();
    assert!(
        report.layers.is_empty(),
        "prune removed layers a container uses"
    );
    assert!(root.rootfs.join("bin/busybox").exists());
    // The state saved in the container dir is enough to release from another process.
    let loaded = rind::image::PreparedRoot::load(&s.path().join("c")).unwrap();
    loaded.release().unwrap();
    let report = store.prune().unwrap();
    assert_eq!(report.layers.len(), 1);
    assert_eq!(report.images.len(), 1);
    assert_eq!(
        std::fs::read_dir(s.path().join("store/layers/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert!(store.get(&image.id.to_string()).is_err());
}

#[test]
fn root_falls_back_to_a_copy_where_overlayfs_cannot_mount_and_says_why() {
    let img = images();
    require_root();
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let (image, _, _) = counted_pull(&store, &format!("oci:{}/oci:busybox", img.display()));
    let outer = store
        .prepare_rootfs(&image, &s.path().join("outer"))
        .unwrap();
    assert_eq!(outer.mode, RootMode::Overlay);
    // An overlayfs upper directory cannot live on overlayfs' own mount.
    let inner_dir = outer.rootfs.join("tmp/inner");
    let inner = store.prepare_rootfs(&image, &inner_dir).unwrap();
    let ok = inner.mode == RootMode::Copy
        && inner.fallback_reason.is_some()
        && inner.rootfs.join("bin/busybox").exists();
    let reason = inner.fallback_reason.clone();
    inner.release().unwrap();
    outer.release().unwrap();
    assert!(ok, "expected a copy with a reason, got {reason:?}");
}

#[test]
fn unknown_store_name_is_a_clear_error() {
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let e = store
        .pull(
            &ImageRef::parse("nothing:here").unwrap(),
            &PullOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not in the store") && e.contains("docker://"),
        "{e}"
    );
}
