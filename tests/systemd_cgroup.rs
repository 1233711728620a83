//! `--systemd-cgroup` on a host where systemd is not PID 1 (this one): without the flag rind
//! never connects to systemd's socket; with it, rind connects, and a missing or silent systemd
//! is one clear error line that leaves no container behind. The driver itself is tested
//! against a real systemd in a VM guest (scripts/vm-systemd-test.sh, docs/systemd.md).

mod common;

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;

/// Runs `script` with sh in a private mount namespace where /run/systemd is a fresh tmpfs,
/// with `$RIND` and `$ROOT` set. Returns (status, stdout+stderr).
fn in_private_run_systemd(rt: &Runtime, script: &str) -> (i32, String) {
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "set -e; mkdir -p /run/systemd; mount -t tmpfs tmpfs /run/systemd; {script}"
        ))
        .env("RIND", rind_bin())
        .env("ROOT", rt.root.path())
        .output()
        .expect("run unshare");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// A socket that counts the connections made to it and closes each at once (read the first
/// bytes, so that a client that wrote its authentication sees the close).
fn recording_socket(path: &Path) -> Arc<AtomicUsize> {
    let listener = UnixListener::bind(path).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            c.fetch_add(1, Ordering::SeqCst);
            let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf);
        }
    });
    count
}

#[test]
fn without_the_flag_no_connection_is_made_to_systemd() {
    require_root();
    let rt = Runtime::new();
    let dir = TempDir::new("sdsock");
    let sock = dir.path().join("private");
    let count = recording_socket(&sock);
    let b = Bundle::sh("true");
    b.write();
    let id = unique("nosd");
    let id2 = unique("sd");
    let (status, text) = in_private_run_systemd(
        &rt,
        &format!(
            "touch /run/systemd/private; mount --bind {sock} /run/systemd/private; \
             \"$RIND\" --root \"$ROOT\" run --bundle {b} {id}; echo plain-ok; \
             \"$RIND\" --root \"$ROOT\" --systemd-cgroup run --bundle {b} {id2} || echo sd-failed",
            sock = sock.display(),
            b = b.path().display(),
        ),
    );
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("plain-ok"), "{text}");
    // The recorder works: the run with the flag reached it (and failed there) ...
    assert!(text.contains("sd-failed"), "{text}");
    assert!(text.contains("--systemd-cgroup:"), "{text}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "{text}");
    // ... and no container or state is left by the failed one.
    assert!(!rt.root.path().join(&id2).exists());
    assert!(default_cgroup_dirs(&id2).iter().all(|d| !d.exists()));
}

#[test]
fn without_systemd_the_error_is_one_line_that_says_so() {
    require_root();
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    let id = unique("nosystemd");
    let (status, text) = in_private_run_systemd(
        &rt,
        &format!(
            "\"$RIND\" --root \"$ROOT\" --systemd-cgroup run --bundle {} {id}",
            b.path().display()
        ),
    );
    assert_eq!(status, 1, "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(
        text.contains("cannot reach systemd at /run/systemd/private")
            && text.contains("is systemd the init?"),
        "{text}"
    );
    assert!(!rt.root.path().join(&id).exists());
}

#[test]
fn a_cgroups_path_not_in_slice_prefix_name_form_is_refused_naming_it() {
    require_root();
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["linux"]["cgroupsPath"] = serde_json::json!("/machine/c1");
    b.write();
    let id = unique("badpath");
    let out = rt.run(&[
        "--systemd-cgroup",
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(
        text.contains("\"/machine/c1\"") && text.contains("slice:prefix:name"),
        "{text}"
    );
}

/// rind's D-Bus client against the reference implementation: a private dbus-daemon. Proves the
/// authentication, the marshalling of a call, the parsing of a reply (`as`) and of an error
/// reply, which the systemd guest then relies on.
#[test]
fn the_dbus_client_talks_to_a_real_dbus_daemon() {
    use rind::cgroups::systemd::dbus::{Call, Conn, DbusError};
    if !require_tool("dbus-daemon") {
        return;
    }
    let dir = TempDir::new("dbusd");
    let sock = dir.path().join("bus");
    let mut daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address=unix:path={}", sock.display()))
        .spawn()
        .expect("start dbus-daemon");
    // The socket file appears at bind(), before listen(): until then a connect is refused.
    wait_until(10, "dbus-daemon listening", || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    let result = std::panic::catch_unwind(|| {
        let mut conn = Conn::connect(&sock, true).expect("connect, Hello, AddMatch");
        let bus = |member| Call {
            destination: Some("org.freedesktop.DBus"),
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member,
            body: vec![],
        };
        let names = conn.call(&bus("ListNames")).expect("ListNames");
        let text = format!("{names:?}");
        assert!(text.contains("org.freedesktop.DBus"), "{text}");
        match conn.call(&bus("NoSuchMethod")) {
            Err(DbusError::Reply { name, .. }) => {
                assert_eq!(name, "org.freedesktop.DBus.Error.UnknownMethod")
            }
            other => panic!("want an error reply, got {other:?}"),
        }
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
