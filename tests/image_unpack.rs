//! Unpacking real images (made by umoci and skopeo) gives the same tree as `umoci unpack`,
//! through overlayfs and through the copy fallback, from every local source kind.

mod image_support;

use image_support::*;
use rind::image::{ImageRef, PullOptions, RootMode, Store};

/// Pulls `reference` into a fresh store, prepares a root with `mode`, and compares it with
/// umoci's unpack of `umoci_ref`.
fn compare_with_umoci(reference: &str, umoci_ref: &str, mode: RootMode) {
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let image = store
        .pull(
            &ImageRef::parse(reference).unwrap(),
            &PullOptions::default(),
        )
        .unwrap();
    let root = store
        .prepare_rootfs_with(&image, &s.path().join("ctr"), mode)
        .unwrap();
    let ours = snapshot(&root.rootfs);
    let theirs = snapshot(&umoci_unpack(umoci_ref, &s.path().join("bundle")));
    let d = diff(&ours, &theirs);
    root.release().unwrap();
    assert!(
        d.is_empty(),
        "{reference} ({mode:?}) differs from umoci:\n{}",
        d.join("\n")
    );
    assert!(
        ours.len() > 200,
        "suspiciously small tree: {} entries",
        ours.len()
    );
}

/// The image fixtures, once root and umoci (which these tests compare with) are there.
fn ready() -> Option<std::path::PathBuf> {
    require_root();
    require_tool("umoci").then(images)
}

#[test]
fn oci_layout_gzip_matches_umoci_through_overlay() {
    let Some(img) = ready() else { return };
    for tag in ["busybox", "whiteouts"] {
        let r = format!("{}/oci:{tag}", img.display());
        compare_with_umoci(&format!("oci:{r}"), &r, RootMode::Overlay);
    }
}

#[test]
fn oci_layout_zstd_matches_umoci_through_copy_fallback() {
    let Some(img) = ready() else { return };
    for tag in ["busybox", "whiteouts"] {
        let r = format!("{}/oci:{tag}", img.display());
        let z = format!("oci:{}/oci-zstd:{tag}", img.display());
        compare_with_umoci(&z, &r, RootMode::Copy);
    }
}

#[test]
fn oci_archive_and_docker_archive_match_umoci() {
    let Some(img) = ready() else { return };
    compare_with_umoci(
        &format!("oci-archive:{}/busybox-oci.tar:busybox", img.display()),
        &format!("{}/oci:busybox", img.display()),
        RootMode::Overlay,
    );
    compare_with_umoci(
        &format!("docker-archive:{}/whiteouts-docker.tar", img.display()),
        &format!("{}/oci:whiteouts", img.display()),
        RootMode::Overlay,
    );
}

#[test]
fn whiteouts_opaque_dirs_and_metadata_survive_in_both_root_modes() {
    let Some(img) = ready() else { return };
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let r = ImageRef::parse(&format!("oci:{}/oci:whiteouts", img.display())).unwrap();
    let image = store.pull(&r, &PullOptions::default()).unwrap();
    assert_eq!(image.layers.len(), 2);

    // The top layer is kept in overlayfs form.
    let top = store.layer_diff(&image.layers[1].chain_id);
    let wh = std::fs::symlink_metadata(top.join("etc/hostname")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout is not a 0/0 device"
    );
    assert_eq!(
        xattr(&top.join("home"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!top.join(".wh.hostname").exists() && !top.join("etc/.wh.hostname").exists());

    for (i, mode) in [RootMode::Overlay, RootMode::Copy].into_iter().enumerate() {
        let root = store
            .prepare_rootfs_with(&image, &s.path().join(format!("c{i}")), mode)
            .unwrap();
        let r = &root.rootfs;
        let check = || {
            assert!(
                !r.join("etc/hostname").exists(),
                "{mode:?}: whiteout did not delete"
            );
            assert!(r.join("etc/passwd").exists(), "{mode:?}: lower file lost");
            assert!(
                !r.join("home/tester").exists(),
                "{mode:?}: opaque dir shows lower entries"
            );
            assert_eq!(
                std::fs::read(r.join("home/fresh/note")).unwrap(),
                b"new home\n"
            );
            assert!(
                std::fs::symlink_metadata(r.join("bin/vi")).is_err(),
                "{mode:?}: symlink not deleted"
            );
            let data = std::fs::metadata(r.join("opt/data")).unwrap();
            assert_eq!(
                (data.uid(), data.gid(), data.mode() & 0o7777, data.nlink()),
                (1234, 5678, 0o600, 2)
            );
            assert_eq!(
                data.ino(),
                std::fs::metadata(r.join("opt/data-link")).unwrap().ino()
            );
            assert_eq!(
                std::fs::metadata(r.join("opt/suid")).unwrap().mode() & 0o7777,
                0o4755
            );
            assert_eq!(
                xattr(&r.join("opt/xattr"), "user.rind").as_deref(),
                Some(&b"yes"[..])
            );
            assert!(
                xattr(&r.join("opt/cap"), "security.capability").is_some(),
                "{mode:?}: file capability lost"
            );
            assert!(
                std::fs::symlink_metadata(r.join("opt/fifo"))
                    .unwrap()
                    .file_type()
                    .is_fifo()
            );
            assert_eq!(
                std::fs::symlink_metadata(r.join("opt/null"))
                    .unwrap()
                    .rdev(),
                nix::sys::stat::makedev(1, 3)
            );
            assert_eq!(
                std::fs::metadata(r.join("opt/data")).unwrap().mtime(),
                1_700_000_000
            );
        };
        let result = std::panic::catch_unwind(check);
        root.release().unwrap();
        assert!(result.is_ok(), "checks failed in {mode:?} mode");
        assert!(
            !s.path().join(format!("c{i}/rootfs")).exists(),
            "release left the rootfs"
        );
    }
}

#[test]
fn local_sources_get_names_that_do_not_read_as_transports() {
    let img = images();
    let s = Scratch::new();
    let store = Store::open(&s.path().join("store")).unwrap();
    let r = ImageRef::parse(&format!("oci:{}/oci:busybox", img.display())).unwrap();
    let image = store.pull(&r, &PullOptions::default()).unwrap();
    assert_eq!(image.names, vec!["localhost/oci:busybox".to_string()]);
    assert_eq!(store.get("localhost/oci:busybox").unwrap().id, image.id);
    let r = ImageRef::parse(&format!(
        "docker-archive:{}/whiteouts-docker.tar",
        img.display()
    ))
    .unwrap();
    let named = PullOptions {
        name: Some("mine:v1".into()),
        ..PullOptions::default()
    };
    assert_eq!(
        store.pull(&r, &named).unwrap().names,
        vec!["mine:v1".to_string()]
    );
}

/// `umoci insert --image L:tag DIR /` writes a layer whose first entry is `/` and whose other
/// names are absolute (`/etc/inserted`). Made by umoci here, at test time: rind must unpack it
/// as umoci does, inside the root.
#[test]
fn a_umoci_insert_at_the_root_unpacks_as_umoci_unpacks_it() {
    require_root();
    if !require_tool("umoci") {
        return;
    }
    let s = Scratch::new();
    let layout = s.path().join("layout");
    let umoci = |args: &[&str]| {
        let out = std::process::Command::new("umoci")
            .args(args)
            .output()
            .expect("run umoci");
        assert!(
            out.status.success(),
            "umoci {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let image = format!("{}:ins", layout.display());
    umoci(&["init", "--layout", layout.to_str().unwrap()]);
    umoci(&["new", "--image", &image]);
    let add = s.path().join("add");
    std::fs::create_dir_all(add.join("etc/inserted")).unwrap();
    std::fs::write(add.join("etc/inserted/file"), "from umoci insert\n").unwrap();
    std::os::unix::fs::symlink("/etc/inserted/file", add.join("link")).unwrap();
    umoci(&["insert", "--image", &image, add.to_str().unwrap(), "/"]);

    // The layer is what the issue describes: its first entry is "/".
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |digest: &str| {
        std::fs::read(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
    let first = tar.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(&*first.path_bytes(), b"/", "umoci's first entry");

    let store = Store::open(&s.path().join("store")).unwrap();
    let pulled = store
        .pull(
            &ImageRef::parse(&format!("oci:{image}")).unwrap(),
            &PullOptions::default(),
        )
        .expect("an image made by umoci insert is accepted");
    let root = store
        .prepare_rootfs_with(&pulled, &s.path().join("ctr"), RootMode::Copy)
        .unwrap();
    let ours = snapshot(&root.rootfs);
    let theirs = snapshot(&umoci_unpack(&image, &s.path().join("bundle")));
    root.release().unwrap();
    let d = diff(&ours, &theirs);
    assert!(d.is_empty(), "differs from umoci:\n{}", d.join("\n"));
    assert!(
        ours.contains_key("etc/inserted/file") && ours.contains_key("link"),
        "{:?}",
        ours.keys().collect::<Vec<_>>()
    );
}
