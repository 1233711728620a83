//! Hostile layers are refused without writing outside the target and without leaving a
//! half-written layer in the store. The archives are made here, byte by byte where the tar
//! crate would refuse to write them.

mod image_support;

use std::io::Write;
use std::path::Path;

use image_support::*;
use rind::image::layer::UnpackLimits;
use rind::image::{Digest, ImageRef, PullOptions, Store};

/// One tar entry, written with a raw name so that `..` and absolute paths can be expressed.
fn entry(b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    entry(b, name, tar::EntryType::Regular, "", data)
}
fn dir(b: &mut tar::Builder<Vec<u8>>, name: &str) {
    entry(b, name, tar::EntryType::Directory, "", b"")
}
fn symlink(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
    entry(b, name, tar::EntryType::Symlink, target, b"")
}
fn hardlink(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
    entry(b, name, tar::EntryType::Link, target, b"")
}

fn tar(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    f(&mut b);
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn put_blob(layout: &Path, data: &[u8]) -> (Digest, usize) {
    let d = Digest::of(data);
    std::fs::write(layout.join("blobs/sha256").join(d.hex()), data).unwrap();
    (d, data.len())
}

/// Writes an OCI layout at `layout` whose layers are the given (raw blob, diff id) pairs.
fn layout_with_blobs(layout: &Path, layers: &[(Vec<u8>, Digest)]) -> ImageRef {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let diff_ids: Vec<String> = layers.iter().map(|(_, d)| format!("\"{d}\"")).collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let (cd, cs) = put_blob(layout, config.as_bytes());
    let descs: Vec<String> = layers
        .iter()
        .map(|(blob, _)| {
            let (d, s) = put_blob(layout, blob);
            format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":{s}}}"#)
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{}]}}"#,
        descs.join(",")
    );
    let (md, ms) = put_blob(layout, manifest.as_bytes());
    std::fs::write(
        layout.join("index.json"),
        format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{ms},"annotations":{{"org.opencontainers.image.ref.name":"t"}}}}]}}"#),
    )
    .unwrap();
    ImageRef::parse(&format!("oci:{}:t", layout.display())).unwrap()
}

/// A layout of gzip layers made from tars.
fn layout(layout: &Path, tars: &[Vec<u8>]) -> ImageRef {
    let layers: Vec<(Vec<u8>, Digest)> = tars.iter().map(|t| (gzip(t), Digest::of(t))).collect();
    layout_with_blobs(layout, &layers)
}

/// Pulls `r` into a store under `s`; asserts it fails with `want` in the message, that
/// `outside` is still empty, and that the store holds no temporary or partial layer.
fn assert_refused(
    s: &Scratch,
    r: &ImageRef,
    opts: &PullOptions,
    want: &str,
    complete_layers: usize,
) {
    let store = Store::open(&s.path().join("store")).unwrap();
    let err = store
        .pull(r, opts)
        .expect_err("hostile image was accepted")
        .to_string();
    assert!(
        err.contains(want),
        "error {err:?} does not mention {want:?}"
    );
    assert!(!err.contains('\n'), "error is not one line: {err:?}");
    let outside = s.path().join("outside");
    let left: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "wrote outside the root: {left:?}");
    for stray in ["escape", "abs", "pwned"] {
        assert!(
            !s.path().join(stray).exists(),
            "wrote {stray} next to the store"
        );
    }
    let tmp: Vec<_> = std::fs::read_dir(s.path().join("store/tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
    let layers = std::fs::read_dir(s.path().join("store/layers/sha256"))
        .unwrap()
        .flatten();
    for l in layers.collect::<Vec<_>>().iter() {
        assert!(
            l.path().join("layer.json").exists(),
            "half-written layer {}",
            l.path().display()
        );
    }
    assert_eq!(
        std::fs::read_dir(s.path().join("store/layers/sha256"))
            .unwrap()
            .count(),
        complete_layers,
        "unexpected layers in the store"
    );
    assert!(
        store.list().unwrap().is_empty(),
        "a refused image was recorded"
    );
}

fn setup() -> Scratch {
    let s = Scratch::new();
    std::fs::create_dir(s.path().join("outside")).unwrap();
    s
}

fn refused(tars: &[Vec<u8>], want: &str, complete_layers: usize) {
    let s = setup();
    let r = layout(&s.path().join("layout"), tars);
    assert_refused(&s, &r, &PullOptions::default(), want, complete_layers);
}

#[test]
fn dotdot_path_is_refused() {
    refused(&[tar(|b| file(b, "a/../../../escape", b"x"))], "'..'", 0);
}

/// An absolute name is read as rooted (GNU tar, umoci and containerd do the same): the file
/// lands inside the layer at the same path, and nothing is written at the absolute path.
#[test]
fn absolute_path_is_read_as_rooted() {
    let s = setup();
    let abs = s.path().join("abs");
    let r = layout(
        &s.path().join("layout"),
        &[tar(|b| {
            dir(b, "/");
            file(b, abs.to_str().unwrap(), b"x");
            hardlink(b, "/again", abs.to_str().unwrap());
        })],
    );
    let store = Store::open(&s.path().join("store")).unwrap();
    let image = store.pull(&r, &PullOptions::default()).unwrap();
    assert!(!abs.exists(), "wrote at the absolute path itself");
    let diff = store.layer_diff(&image.layers[0].chain_id);
    let inside = diff.join(abs.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(&inside).unwrap(), b"x");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(diff.join("again")).unwrap().ino(),
        std::fs::metadata(&inside).unwrap().ino(),
        "an absolute hardlink target is rooted too"
    );
}

#[test]
fn symlink_planted_then_written_through_is_refused() {
    let s = setup();
    let out = s.path().join("outside");
    let t = tar(|b| {
        symlink(b, "link", out.to_str().unwrap());
        file(b, "link/pwned", b"x");
    });
    assert_refused(
        &s,
        &layout(&s.path().join("layout"), &[t]),
        &PullOptions::default(),
        "symlink",
        0,
    );
}

#[test]
fn relative_symlink_escape_is_refused() {
    let t = tar(|b| {
        dir(b, "a/");
        symlink(b, "a/up", "../../../../../../../../..");
        file(b, "a/up/pwned", b"x");
    });
    refused(&[t], "symlink", 0);
}

#[test]
fn symlink_from_a_lower_layer_is_not_written_through() {
    let s = setup();
    let out = s.path().join("outside");
    let l1 = tar(|b| symlink(b, "link", out.to_str().unwrap()));
    let l2 = tar(|b| file(b, "link/pwned", b"x"));
    let r = layout(&s.path().join("layout"), &[l1, l2]);
    assert_refused(
        &s,
        &r,
        &PullOptions::default(),
        "symlink in a lower layer",
        1,
    );
}

#[test]
fn directory_replaced_by_symlink_is_not_written_through() {
    let s = setup();
    let out = s.path().join("outside");
    let t = tar(|b| {
        dir(b, "d/");
        file(b, "d/ok", b"fine");
        symlink(b, "d", out.to_str().unwrap());
        file(b, "d/pwned", b"x");
    });
    assert_refused(
        &s,
        &layout(&s.path().join("layout"), &[t]),
        &PullOptions::default(),
        "symlink",
        0,
    );
}

#[test]
fn hardlinks_out_of_the_root_are_refused() {
    refused(
        &[tar(|b| hardlink(b, "passwd", "../../../../etc/passwd"))],
        "'..'",
        0,
    );
    // Rooted: the image's /etc/passwd, which this image does not have (never the host's).
    refused(
        &[tar(|b| hardlink(b, "passwd", "/etc/passwd"))],
        "not a file in this image",
        0,
    );
    let t = tar(|b| {
        symlink(b, "etc", "/etc");
        hardlink(b, "passwd", "etc/passwd");
    });
    refused(&[t], "symlink", 0);
}

#[test]
fn hardlink_to_a_missing_target_is_refused() {
    refused(
        &[tar(|b| hardlink(b, "x", "nothing/here"))],
        "not a file in this image",
        0,
    );
}

#[test]
fn expansion_bomb_is_stopped_by_the_ratio_limit() {
    let s = setup();
    let zeros = vec![0u8; 12 << 20];
    let r = layout(
        &s.path().join("layout"),
        &[tar(|b| file(b, "bomb", &zeros))],
    );
    let opts = PullOptions {
        limits: UnpackLimits {
            max_ratio: 10,
            ratio_floor: 1 << 20,
            ..UnpackLimits::default()
        },
        ..PullOptions::default()
    };
    assert_refused(&s, &r, &opts, "RIND_MAX_LAYER_RATIO", 0);
    // The same image passes with the limit raised: the limit, not the content, stopped it.
    let store = Store::open(&s.path().join("store2")).unwrap();
    let loose = PullOptions {
        limits: UnpackLimits {
            max_ratio: 100_000,
            ..opts.limits
        },
        ..PullOptions::default()
    };
    store
        .pull(&r, &loose)
        .expect("a raised ratio limit admits the layer");
}

#[test]
fn entry_count_bomb_is_stopped() {
    let s = setup();
    let t = tar(|b| {
        for i in 0..500 {
            file(b, &format!("f{i}"), b"");
        }
    });
    let r = layout(&s.path().join("layout"), &[t]);
    let opts = PullOptions {
        limits: UnpackLimits {
            max_entries: 100,
            ..UnpackLimits::default()
        },
        ..PullOptions::default()
    };
    assert_refused(&s, &r, &opts, "more than 100 entries", 0);
}

#[test]
fn blob_digest_mismatch_is_refused() {
    let s = setup();
    let t = tar(|b| file(b, "ok", b"fine"));
    let layout_dir = s.path().join("layout");
    let r = layout(&layout_dir, &[t]);
    // Corrupt the layer blob in place, keeping its name (the promised digest).
    let blobs = layout_dir.join("blobs/sha256");
    for e in std::fs::read_dir(&blobs).unwrap().flatten() {
        let mut data = std::fs::read(e.path()).unwrap();
        if data.starts_with(&[0x1f, 0x8b]) {
            let n = data.len();
            data[n - 9] ^= 0xff;
            std::fs::write(e.path(), data).unwrap();
        }
    }
    assert_refused(&s, &r, &PullOptions::default(), "layer", 0);
}

#[test]
fn truncated_gzip_is_refused_even_when_its_digest_matches() {
    let s = setup();
    let t = tar(|b| file(b, "big", &vec![7u8; 1 << 20]));
    let full = gzip(&t);
    let cut = full[..full.len() / 2].to_vec();
    let r = layout_with_blobs(&s.path().join("layout"), &[(cut, Digest::of(&t))]);
    assert_refused(&s, &r, &PullOptions::default(), "truncated", 0);
}

#[test]
fn wrong_diff_id_is_refused() {
    let s = setup();
    let t = tar(|b| file(b, "ok", b"fine"));
    let r = layout_with_blobs(
        &s.path().join("layout"),
        &[(gzip(&t), Digest::of(b"something else"))],
    );
    assert_refused(&s, &r, &PullOptions::default(), "diff id", 0);
}

/// A stream that ends right after the last entry's data, with neither its padding nor the
/// end-of-archive blocks (umoci 0.4.7's `insert` writes such layers), is read to that end, as
/// Go's archive/tar reads it.
#[test]
fn a_stream_ending_after_the_last_entrys_data_is_complete() {
    let s = setup();
    let full = tar(|b| {
        file(b, "first", b"one");
        file(b, "last", b"hello");
    });
    // Two headers, the first's padded data, then the last's 5 bytes and nothing more.
    let cut = full[..512 * 3 + 5].to_vec();
    let r = layout(&s.path().join("layout"), &[cut]);
    let store = Store::open(&s.path().join("store")).unwrap();
    let image = store.pull(&r, &PullOptions::default()).unwrap();
    let diff = store.layer_diff(&image.layers[0].chain_id);
    assert_eq!(std::fs::read(diff.join("first")).unwrap(), b"one");
    assert_eq!(std::fs::read(diff.join("last")).unwrap(), b"hello");
}

/// A stream cut inside an entry's data is still truncated, whatever its digest says.
#[test]
fn a_stream_cut_inside_an_entrys_data_is_refused() {
    let full = tar(|b| file(b, "last", b"hello"));
    refused(&[full[..512 + 3].to_vec()], "layer", 0);
}
