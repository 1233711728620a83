//! CVE-2021-41091 (moby): `/var/lib/docker` and the layer directories under it were
//! traversable by every host user, so an unprivileged user could run the setuid binaries of
//! any image the daemon had pulled, as root, and use its device nodes. The same holds for any
//! store that keeps layers as the image made them: rind's `--store` (issue 13, item 5).
//!
//! The attack: an image carries a setuid-root copy of `id` and a `c 1:3 0666` node; root
//! pulls it; user 65534 runs the binary and writes the node straight from the store.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{TempDir, fixtures, rind_bin, unique};

/// `rind --root R --store S args...`, output through files (a detached container inherits
/// rind's stdio, and a pipe it held would never reach end of file).
pub fn rind(root: &Path, store: &Path, args: &[&str]) -> Output {
    let out = std::env::temp_dir().join(unique("rind-out"));
    let err = std::env::temp_dir().join(unique("rind-err"));
    let status = Command::new(rind_bin())
        .arg("--root")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    let o = Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&err);
    o
}

pub fn rind_ok(root: &Path, store: &Path, args: &[&str]) -> String {
    let o = rind(root, store, args);
    assert!(
        o.status.success(),
        "rind {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `argv` as uid and gid 65534 with no supplementary groups, through a shell: setpriv
/// itself still holds root's capabilities when it executes its argument (it keeps them across
/// its setresuid), so a path it executes directly is looked up with CAP_DAC_OVERRIDE and
/// passes any directory. The shell it starts has none, as a real user's process.
pub fn as_nobody(argv: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Asserts that user 65534 can neither run `dir/bin/id-suid` as root nor write `dir/node`.
pub fn assert_unreachable_by_nobody(dir: &Path) {
    let id = dir.join("bin/id-suid");
    let node = dir.join("node");
    assert!(
        id.exists() && node.exists(),
        "{} is not a root",
        dir.display()
    );
    let out = as_nobody(&[id.to_str().unwrap(), "-u"]);
    let euid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !out.status.success(),
        "user 65534 ran {} and got euid {euid}",
        id.display()
    );
    assert_ne!(euid, "0", "user 65534 became root through {}", id.display());
    let script = format!("echo x > {}", node.display());
    let out = as_nobody(&["/bin/sh", "-c", &script]);
    // And the shell can do it where the directories let it (the test would prove nothing if
    // user 65534 could not run anything at all).
    assert!(
        as_nobody(&["/bin/sh", "-c", "echo x > /dev/null"])
            .status
            .success()
    );
    assert!(
        !out.status.success(),
        "user 65534 wrote the device node {}",
        node.display()
    );
}

/// An OCI layout at `layout` (tag `t`) with one layer: the busybox fixture, a setuid-root
/// copy of the host's `id` at `/bin/id-suid`, and a character device 1:3 of mode 0666 at
/// `/node`; its command is `sleep 1000`.
pub fn hostile_image(layout: &Path) -> String {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", fixtures().join("busybox/rootfs"))
        .unwrap();
    let id = std::fs::read("/usr/bin/id").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(id.len() as u64);
    h.set_mode(0o4755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "bin/id-suid", id.as_slice()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_size(0);
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.append_data(&mut h, "node", std::io::empty()).unwrap();
    let layer = b.into_inner().unwrap();

    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let put = |data: &[u8]| {
        let d = rind::image::Digest::of(data);
        std::fs::write(layout.join("blobs/sha256").join(d.hex()), data).unwrap();
        (d, data.len())
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer).unwrap();
    let (ld, ls) = put(&gz.finish().unwrap());
    let diff = rind::image::Digest::of(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sleep","1000"]}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
    );
    let (cd, cs) = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{ld}","size":{ls}}}]}}"#
    );
    let (md, ms) = put(manifest.as_bytes());
    std::fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{ms},"annotations":{{"org.opencontainers.image.ref.name":"t"}}}}]}}"#
        ),
    )
    .unwrap();
    format!("oci:{}:t", layout.display())
}

/// The `diff` directory of every layer in the store.
fn layer_dirs(store: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(store.join("layers/sha256"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("diff"))
        .filter(|p| p.is_dir())
        .collect()
}

/// The attack on the store itself: the layer as rind unpacked it.
#[test]
fn cve_2021_41091_image_setuid_binaries_and_devices_are_out_of_other_users_reach() {
    let work = TempDir::new("cve-41091");
    // The parent is open to all (as /var/lib is): only the store's own mode protects it.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = work.path().join("store");
    let root = work.path().join("root");
    let reference = hostile_image(&work.path().join("layout"));
    rind_ok(&root, &store, &["image", "pull", &reference]);
    let diffs = layer_dirs(&store);
    assert_eq!(diffs.len(), 1);
    // The layer holds what the image made (so the attack would work on a reachable store).
    let suid = std::fs::metadata(diffs[0].join("bin/id-suid")).unwrap();
    assert_eq!(suid.permissions().mode() & 0o7777, 0o4755);
    assert_unreachable_by_nobody(&diffs[0]);
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "store mode {mode:o}");
}

/// A store left open by an older rind (0755, as it made it) is closed the next time rind
/// opens it; one owned by another user, or a symbolic link, is refused.
#[test]
fn cve_2021_41091_an_existing_open_store_is_tightened_and_a_foreign_one_refused() {
    let work = TempDir::new("cve-41091-old");
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = work.path().join("root");
    let store = work.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let reference = hostile_image(&work.path().join("layout"));
    rind_ok(&root, &store, &["image", "pull", &reference]);
    assert_unreachable_by_nobody(&layer_dirs(&store)[0]);
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "store mode {mode:o}");

    let foreign = work.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    let out = rind(&root, &foreign, &["image", "ls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("owned by uid 65534"), "{err}");

    let link = work.path().join("link");
    std::os::unix::fs::symlink(&store, &link).unwrap();
    let out = rind(&root, &link, &["image", "ls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}
