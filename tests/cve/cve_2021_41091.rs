//! CVE-2021-41091 (moby): `/var/lib/docker` and the layer directories under it were
//! traversable by every host user, so an unprivileged user could run the setuid binaries of
//! any image the daemon had pulled, as root, and use its device nodes. The same holds for any
//! store that keeps layers as the image made them: rind's `--store` (issue 13, item 5).
//!
//! The attack: an image carries a setuid-root program and a `c 1:3 0666` node; root pulls it;
//! user 65534 runs the program (which exits with its effective uid: 0) and writes the node
//! straight from the store.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{TempDir, fixtures, output_through_files, rind_bin};

/// `rind --root R --store S args...`, output through files (a detached container inherits
/// rind's stdio, and a pipe it held would never reach end of file).
pub fn rind(root: &Path, store: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(rind_bin());
    cmd.arg("--root")
        .arg(root)
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null());
    output_through_files(cmd, &std::env::temp_dir())
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

/// Runs `argv` as uid and gid 65534 with no supplementary groups (the child drops root's
/// identity, and with it every capability, before it executes anything), through a shell so
/// that a refused exec is an exit status. `setpriv --reuid` would not do for this: setpriv
/// executes its argument while it still holds root's capabilities, so that lookup passes any
/// directory.
pub fn as_nobody(argv: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    Command::new("/bin/sh")
        .args(["-c", "exec \"$@\"", "sh"])
        .args(argv)
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A static x86_64 program that exits with its effective uid (so 0 when it runs as root),
/// in a 136-byte ELF made here: no host tool is needed, in the VM either.
pub fn euid_probe() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    // mov eax, 107 (geteuid); syscall; mov edi, eax; mov eax, 60 (exit); syscall
    let code: [u8; 16] = [
        0xb8, 0x6b, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05,
    ];
    let len = 64 + 56 + code.len() as u64;
    let mut e = Vec::new();
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&0x3eu16.to_le_bytes()); // x86_64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(BASE + 120).to_le_bytes()); // entry
    e.extend_from_slice(&64u64.to_le_bytes()); // program headers
    e.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    e.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 0, 0, 0] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, BASE, BASE, len, len, 0x1000] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&code);
    e
}

/// Whether this host can run the probe; the tests record a skip where it cannot.
pub fn probe_runs_here() -> bool {
    if cfg!(target_arch = "x86_64") {
        return true;
    }
    crate::common::skip("the euid probe is x86_64 code");
    false
}

/// The control: a setuid-root copy of the probe where user 65534 can reach it runs as root
/// (exit 0), and the user can write /dev/null. Without this, the refusals below could come
/// from a harness that cannot run anything as that user.
pub fn assert_reachable_setuid_runs_as_root() {
    let dir = TempDir::new("probe");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = dir.path().join("euid-probe");
    std::fs::write(&probe, euid_probe()).unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let out = as_nobody(&[probe.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the reachable setuid probe: {out:?}"
    );
    assert!(
        as_nobody(&["/bin/sh", "-c", "echo x > /dev/null"])
            .status
            .success()
    );
}

/// Asserts that user 65534 can neither run `dir/bin/euid-probe` (setuid root) nor write
/// `dir/node` (a `c 1:3 0666` node).
pub fn assert_unreachable_by_nobody(dir: &Path) {
    let probe = dir.join("bin/euid-probe");
    let node = dir.join("node");
    assert!(
        probe.exists() && node.exists(),
        "{} is not a root",
        dir.display()
    );
    let out = as_nobody(&[probe.to_str().unwrap()]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "user 65534 ran {} as root",
        probe.display()
    );
    let script = format!("echo x > {}", node.display());
    let out = as_nobody(&["/bin/sh", "-c", &script]);
    assert!(
        !out.status.success(),
        "user 65534 wrote the device node {}",
        node.display()
    );
}

/// An OCI layout at `layout` (tag `t`) with one layer: the busybox fixture, the setuid-root
/// probe at `/bin/euid-probe`, and a character device 1:3 of mode 0666 at `/node`; its
/// command is `sleep 1000`.
pub fn hostile_image(layout: &Path) -> String {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", fixtures().join("busybox/rootfs"))
        .unwrap();
    let probe = euid_probe();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(probe.len() as u64);
    h.set_mode(0o4755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "bin/euid-probe", probe.as_slice())
        .unwrap();
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
    if !probe_runs_here() {
        return;
    }
    assert_reachable_setuid_runs_as_root();
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
    let suid = std::fs::metadata(diffs[0].join("bin/euid-probe")).unwrap();
    assert_eq!(suid.permissions().mode() & 0o7777, 0o4755);
    assert_unreachable_by_nobody(&diffs[0]);
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "store mode {mode:o}");
}

/// A store left open by an older rind (0755, as it made it) is closed the next time rind
/// opens it; one owned by another user, or a symbolic link, is refused.
#[test]
fn cve_2021_41091_an_existing_open_store_is_tightened_and_a_foreign_one_refused() {
    if !probe_runs_here() {
        return;
    }
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
