//! Detached image containers: logs, stop (stop signal, grace period, SIGKILL), --rm by stop, by
//! the monitor and by the next list, rm, list and ps columns, inspect. Run as root with the
//! image fixtures built.

mod common;
mod shell_support;

use std::time::{Duration, Instant};

use serde_json::Value;
use shell_support::{Shell, busybox_ref, images};

const IMG: &str = "busybox";

fn shell() -> Shell {
    Shell::with_image(&busybox_ref(&images()), IMG)
}

#[test]
fn detached_output_goes_to_the_log_and_follow_ends_with_the_container() {
    let sh = shell();
    let name = sh.detach(IMG, &[], "echo one; sleep 0.5; echo two >&2; exit 5");
    let t = Instant::now();
    let log = sh.ok(&["logs", "-f", &name]);
    assert_eq!(log, "one\ntwo\n");
    assert!(t.elapsed() < Duration::from_secs(8));
    sh.wait_for("the exit code", || sh.inspect(&name)["exitCode"] == 5);
    assert_eq!(sh.status(&name).as_deref(), Some("stopped"));
    let log_path = sh.inspect(&name)["logPath"].as_str().unwrap().to_string();
    assert!(log_path.ends_with(&format!("containers/{name}/container.log")));
    sh.ok(&["rm", &name]);

    // A foreground container has no log: its output went to the terminal.
    sh.ok(&["run", "--image", IMG, "--name", "fg", "--", "true"]);
    let err = sh.fails(&["logs", "fg"]);
    assert!(err.contains("foreground"), "{err}");
    sh.ok(&["rm", "fg"]);
    sh.assert_clean();
}

#[test]
fn stop_sends_the_image_stop_signal_and_a_container_that_traps_it_exits_cleanly() {
    let sh = shell();
    // The fixture's StopSignal is SIGQUIT.
    let name = sh.detach(
        IMG,
        &[],
        "trap 'echo got QUIT; exit 0' QUIT; trap 'echo got TERM; exit 1' TERM; echo ready; while :; do sleep 0.1; done",
    );
    sh.wait_log(&name, "ready");
    let t = Instant::now();
    assert_eq!(sh.ok(&["stop", &name]), format!("{name}\n"));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(sh.status(&name).as_deref(), Some("stopped"));
    assert_eq!(sh.ok(&["logs", &name]), "ready\ngot QUIT\n");
    sh.wait_for("the exit code", || sh.inspect(&name)["exitCode"] == 0);
    // Stopping a stopped container is fine.
    sh.ok(&["stop", &name]);
    sh.ok(&["rm", &name]);
    sh.assert_clean();
}

#[test]
fn stop_kills_a_container_that_ignores_the_signal_after_the_grace_period() {
    let sh = shell();
    let name = sh.detach(
        IMG,
        &[],
        "trap '' QUIT TERM; echo ready; while :; do sleep 0.1; done",
    );
    sh.wait_log(&name, "ready");
    let t = Instant::now();
    sh.ok(&["stop", "-t", "1", &name]);
    let took = t.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(sh.status(&name).as_deref(), Some("stopped"));
    sh.wait_for("the exit code", || sh.inspect(&name)["exitCode"] == 137);
    sh.ok(&["rm", &name]);
    sh.assert_clean();
}

#[test]
fn stop_of_a_bundle_container_sends_sigterm_and_rm_leaves_its_bundle() {
    let sh = shell();
    let b = common::Bundle::sh(
        "trap 'echo got TERM > /sig; exit 0' TERM; touch /trapped; while :; do sleep 0.1; done",
    );
    b.write();
    let id = common::unique("bundle");
    sh.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    // A TERM before the shell set its trap would end it without a word (seen on a loaded host).
    sh.wait_for("the container's trap", || {
        b.rootfs().join("trapped").exists()
    });
    sh.ok(&["stop", "-t", "5", &id]);
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("sig")).unwrap(),
        "got TERM\n"
    );
    let listed = sh.list_json();
    let entry = listed.iter().find(|e| e["id"] == id.as_str()).unwrap();
    assert!(entry.get("image").is_none(), "{entry}");
    sh.ok(&["rm", &id]);
    assert!(
        b.rootfs().join("bin/busybox").exists(),
        "rm touched a runc-style bundle"
    );
    sh.assert_clean();
}

#[test]
fn a_detached_rm_container_is_removed_by_stop() {
    let sh = shell();
    let name = sh.detach(IMG, &["--rm"], "sleep 100");
    assert_eq!(sh.bundles(), vec![name.clone()]);
    sh.ok(&["stop", "-t", "1", &name]);
    assert_eq!(sh.status(&name), None);
    sh.assert_clean();
}

#[test]
fn a_detached_rm_container_that_exits_is_removed_by_its_monitor() {
    let sh = shell();
    let name = sh.detach(IMG, &["--rm"], "sleep 0.2");
    // Nothing else runs meanwhile (a run or rm would sweep): the monitor removes it.
    sh.wait_for("the monitor's removal", || sh.bundles().is_empty());
    assert_eq!(sh.status(&name), None);
    sh.assert_clean();
}

#[test]
fn a_stopped_rm_container_whose_monitor_died_is_listed_then_removed_by_the_next_run() {
    let sh = shell();
    let name = sh.detach(IMG, &["--rm"], "sleep 100");
    let pid = sh.inspect(&name)["state"]["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let cmdline = std::fs::read_to_string(format!("/proc/{ppid}/cmdline")).unwrap();
    assert!(
        cmdline.contains("run"),
        "the container's parent is its monitor: {cmdline:?}"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(ppid), nix::sys::signal::SIGKILL).unwrap();
    sh.ok(&["kill", &name, "KILL"]);
    sh.wait_for("the container to stop", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    });
    assert_eq!(sh.bundles(), vec![name.clone()]);
    // The read-only verbs only look: the container is there, stopped, with its bundle, and
    // its state file is byte for byte what it was.
    let state_file = sh.root.path().join(&name).join("state.json");
    let before = std::fs::read(&state_file).unwrap();
    let listed = sh.ok(&["list", "-q"]);
    assert!(listed.contains(&name), "{listed}");
    for args in [
        &["list"][..],
        &["list", "--format", "json"],
        &["ps"],
        &["state", &name],
    ] {
        sh.ok(args);
        assert_eq!(sh.bundles(), vec![name.clone()], "after {args:?}");
        assert_eq!(
            std::fs::read(&state_file).unwrap(),
            before,
            "after {args:?}"
        );
    }
    assert_eq!(sh.status(&name).as_deref(), Some("stopped"));
    // The next run removes it before it starts its own container.
    sh.ok(&["run", "--image", IMG, "--rm", "--", "true"]);
    assert_eq!(sh.status(&name), None);
    assert!(sh.bundles().is_empty(), "{:?}", sh.bundles());
    sh.assert_clean();
}

#[test]
fn list_and_ps_show_the_image_and_the_command_and_json_keeps_runc_fields() {
    let sh = shell();
    let name = sh.detach(IMG, &["--name", "lister"], "sleep 100");
    assert_eq!(name, "lister");
    let table = sh.ok(&["list"]);
    let header = table.lines().next().unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER", "IMAGE", "COMMAND"
        ]
    );
    let row = table.lines().find(|l| l.starts_with("lister")).unwrap();
    assert!(row.contains("running") && row.contains("busybox"), "{row}");
    assert!(row.contains("/bin/sh -c \"sleep 100\""), "{row}");
    // `ps` without an id is `list`; with an id it stays runc's process listing.
    assert_eq!(sh.ok(&["ps"]).lines().next(), Some(header));
    let pids: Vec<i64> =
        serde_json::from_str(&sh.ok(&["ps", "--format", "json", "lister"])).unwrap();
    assert!(!pids.is_empty());

    let entries = sh.list_json();
    let e = entries.iter().find(|e| e["id"] == "lister").unwrap();
    for field in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(e.get(field).is_some(), "{field} missing: {e}");
    }
    assert_eq!(e["status"], "running");
    assert_eq!(e["image"], "busybox:latest");
    assert_eq!(
        e["command"],
        serde_json::json!(["/bin/sh", "-c", "sleep 100"])
    );
    sh.ok(&["rm", "-f", "lister"]);
    sh.assert_clean();
}

#[test]
fn rm_refuses_a_running_container_and_rm_force_kills_and_removes_it() {
    let sh = shell();
    let name = sh.detach(IMG, &[], "sleep 100");
    let pid = sh.inspect(&name)["state"]["pid"].as_i64().unwrap();
    let err = sh.fails(&["rm", &name]);
    assert!(err.contains("running") && err.contains("-f"), "{err}");
    assert_eq!(sh.status(&name).as_deref(), Some("running"));
    assert_eq!(sh.mounts().len(), 1);
    sh.ok(&["rm", "-f", &name]);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z")
        }
    );
    let err = sh.fails(&["rm", &name]);
    assert!(err.contains("does not exist"), "{err}");
    sh.assert_clean();
}

#[test]
fn inspect_reports_state_image_and_configuration() {
    let sh = shell();
    let host = common::TempDir::new("inspect-vol");
    let v = format!("{}:/data:ro", host.path().display());
    let name = sh.detach(
        IMG,
        &[
            "-e",
            "A=1",
            "-m",
            "32m",
            "--pids-limit",
            "9",
            "--hostname",
            "hh",
            "-v",
            &v,
            "--rm",
        ],
        "sleep 100",
    );
    let i: Value = sh.inspect(&name);
    assert_eq!(i["id"], name.as_str());
    assert_eq!(i["state"]["status"], "running");
    assert_eq!(i["image"]["name"], "busybox:latest");
    assert!(i["image"]["id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        i["process"]["args"],
        serde_json::json!(["/bin/sh", "-c", "sleep 100"])
    );
    assert!(
        i["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&"A=1".into())
    );
    assert_eq!(i["process"]["user"]["uid"], 1000);
    assert_eq!(i["hostname"], "hh");
    assert_eq!(i["network"], "none");
    assert_eq!(i["resources"]["memory"], 32 << 20);
    assert_eq!(i["resources"]["pids"], 9);
    assert_eq!(i["binds"][0]["destination"], "/data");
    assert_eq!(i["binds"][0]["readonly"], true);
    assert_eq!(i["rm"], true);
    assert_eq!(i["detached"], true);
    assert_eq!(i["rootfsMode"], "overlay");
    assert_eq!(i["exitCode"], Value::Null);
    let err = sh.fails(&["inspect", "nobody-here"]);
    assert!(err.contains("does not exist"), "{err}");
    sh.ok(&["stop", "-t", "1", &name]);
    sh.assert_clean();
}
