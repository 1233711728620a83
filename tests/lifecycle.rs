//! The container lifecycle: create, start, state, kill, delete, run and list, with runc's
//! exit codes and state transitions.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[test]
fn create_start_and_delete_move_through_the_states() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("life");
    rt.create(&b, &id);
    let st = rt.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0 && pid_exists(pid));

    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id), "running");
    assert_eq!(
        rt.state(&id)["pid"].as_i64().unwrap(),
        pid,
        "init keeps its pid"
    );

    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.state(&id)["pid"], 0, "a stopped container reports pid 0");
    rt.ok(&["delete", &id]);
    let err = rt.fails(&["state", &id]);
    assert!(err.contains("does not exist"), "{err}");
    assert!(
        !rt.root.path().join(&id).exists(),
        "state directory left behind"
    );
}

/// After `create`, init has already left rind for the exec stub, which waits on exec.fifo;
/// the program runs only after `start`.
#[test]
fn a_created_container_waits_in_the_exec_stub_and_runs_nothing_before_start() {
    let rt = Runtime::new();
    let b = Bundle::sh("touch /ran; sleep 1000");
    let id = unique("stubwait");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        cmdline.starts_with(b"rind: waiting for start on fd "),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().contains("rind-exec-stub"),
        "init's exe: {exe:?}"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !b.rootfs().join("ran").exists(),
        "the program ran before start"
    );

    rt.ok(&["start", &id]);
    wait_until(5, "the program to run", || b.rootfs().join("ran").exists());
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn pid_file_holds_the_host_pid_of_init_before_create_returns() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("pidfile");
    let pid_file = b.path().join("init.pid");
    b.write();
    rt.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, rt.state(&id)["pid"].as_i64().unwrap());
    // The pid is a host pid: its /proc entry shows a pid namespace other than ours.
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    assert_ne!(ns.to_string_lossy(), host_ns("pid"));
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn start_after_init_died_is_a_clear_error_not_a_hang() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("dead");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // init is not our child; wait until it is gone (or a zombie of its reaper).
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.status(&id) != "stopped" {
        assert!(Instant::now() < deadline, "init did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = Instant::now();
    let err = rt.fails(&["start", &id]);
    assert!(t.elapsed() < Duration::from_secs(5), "start hung");
    assert!(err.contains("stopped"), "{err}");
    rt.ok(&["delete", &id]);
}

#[test]
fn run_exits_with_the_container_exit_code() {
    let rt = Runtime::new();
    let b = Bundle::sh("exit 7");
    let out = rt.run_bundle(&b, &unique("code"));
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn run_exits_128_plus_n_when_the_container_is_killed_by_signal_n() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    b.write();
    let id = unique("sig");
    let child = rt
        .command(&["run", "--bundle", b.path().to_str().unwrap(), &id])
        .spawn()
        .unwrap();
    rt.wait_status(&id, "running");
    rt.ok(&["kill", &id, "9"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert!(
        !rt.root.path().join(&id).exists(),
        "run without --keep deletes the container"
    );
}

#[test]
fn run_forwards_signals_to_the_container() {
    let rt = Runtime::new();
    let b = Bundle::sh("trap 'exit 42' TERM; while true; do sleep 0.05; done");
    b.write();
    let id = unique("fwd");
    let child = rt
        .command(&["run", "--bundle", b.path().to_str().unwrap(), &id])
        .spawn()
        .unwrap();
    rt.wait_status(&id, "running");
    // Give sh a moment to install its trap.
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
}

#[test]
fn run_detach_returns_while_the_container_runs() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    b.write();
    let id = unique("detach");
    rt.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(rt.status(&id), "running");
    rt.ok(&["delete", "--force", &id]);
    assert!(!rt.root.path().join(&id).exists());
}

#[test]
fn run_keep_leaves_a_stopped_container_to_delete() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    let id = unique("keep");
    rt.ok(&["run", "--keep", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(rt.status(&id), "stopped");
    rt.ok(&["delete", &id]);
}

#[test]
fn container_output_reaches_run_stdout() {
    let rt = Runtime::new();
    let b = Bundle::sh("echo hello-from-container");
    assert_eq!(rt.output_of(&b).trim(), "hello-from-container");
}

#[test]
fn delete_of_a_running_container_needs_force() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("delrun");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let err = rt.fails(&["delete", &id]);
    assert!(err.contains("not stopped"), "{err}");
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    rt.ok(&["delete", "--force", &id]);
    assert!(
        !pid_exists(pid)
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .contains(") Z")
    );
}

#[test]
fn delete_of_a_created_container_kills_its_init() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("delcreated");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    rt.ok(&["delete", &id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_exists(pid)
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(Instant::now() < deadline, "init {pid} survived delete");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn unknown_ids_exit_1_except_delete_force() {
    let rt = Runtime::new();
    for verb in [
        &["state", "nope"][..],
        &["kill", "nope"],
        &["delete", "nope"],
        &["start", "nope"],
    ] {
        let err = rt.fails(verb);
        assert!(
            err.contains("container nope does not exist"),
            "{verb:?}: {err}"
        );
    }
    rt.ok(&["delete", "--force", "nope"]);
}

#[test]
fn delete_then_delete_force_of_the_same_id_both_succeed() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    let id = unique("twice");
    rt.ok(&["run", "--keep", "--bundle", b.path().to_str().unwrap(), &id]);
    rt.ok(&["delete", &id]);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn duplicate_id_is_refused_and_the_first_container_survives() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("dup");
    rt.create(&b, &id);
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(rt.status(&id), "created");
}

#[test]
fn invalid_ids_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    for id in ["../escape", "a/b", "..", "with space"] {
        let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), id]);
        assert!(err.contains("invalid container id"), "{id}: {err}");
    }
    assert!(!rt.root.path().parent().unwrap().join("escape").exists());
}

#[test]
fn list_shows_containers_as_table_json_and_ids() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let a = unique("lista");
    let c = unique("listc");
    rt.create(&b, &a);
    rt.create(&b, &c);
    rt.ok(&["start", &c]);
    let table = rt.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&a) && l.contains("created")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&c) && l.contains("running")),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert!(
        arr.iter()
            .all(|s| s["pid"].as_i64().unwrap() > 0 && s["ociVersion"].is_string())
    );
    let ids = rt.ok(&["list", "-q"]);
    let mut ids: Vec<&str> = ids.lines().collect();
    ids.sort();
    let mut want = vec![a.as_str(), c.as_str()];
    want.sort();
    assert_eq!(ids, want);
}

#[test]
fn kill_accepts_names_numbers_and_all() {
    let rt = Runtime::new();
    // init traps USR1 and reports it; a second process in the container traps it too.
    let b = Bundle::sh(
        "trap 'echo init-usr1 > /tmp/init; ' USR1; \
         (trap 'echo child-usr1 > /tmp/child; exit 0' USR1; while true; do sleep 0.05; done) & \
         while true; do sleep 0.05; done",
    );
    let id = unique("killall");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    std::thread::sleep(Duration::from_millis(300));
    rt.ok(&["kill", "--all", &id, "SIGUSR1"]);
    let root = b.rootfs();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(root.join("tmp/init").exists() && root.join("tmp/child").exists()) {
        assert!(
            Instant::now() < deadline,
            "kill --all did not reach both processes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = rt.fails(&["kill", &id, "NOTASIGNAL"]);
    assert!(err.contains("unknown signal"), "{err}");
    rt.ok(&["kill", &id, "15"]);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn kill_of_a_stopped_container_is_an_error() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    let id = unique("killstopped");
    rt.ok(&["run", "--keep", "--bundle", b.path().to_str().unwrap(), &id]);
    let err = rt.fails(&["kill", &id, "KILL"]);
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn start_of_a_running_container_is_an_error() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("start2");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let err = rt.fails(&["start", &id]);
    assert!(err.contains("running"), "{err}");
}

#[test]
fn a_container_without_pid_namespace_is_fully_cleaned_up() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000 & sleep 1000");
    b.drop_namespace("pid");
    b.config["linux"]["namespaces"] = json!([{"type": "mount"}]);
    b.config["hostname"] = serde_json::Value::Null;
    let id = unique("nopidns");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    std::thread::sleep(Duration::from_millis(200));
    let st = rt.state(&id);
    let pid = st["pid"].as_i64().unwrap();
    // The background sleep is a separate process in the host pid namespace.
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let child: i64 = children
        .split_whitespace()
        .next()
        .expect("a child process")
        .parse()
        .unwrap();
    rt.ok(&["delete", "--force", &id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_exists(child)
        && !std::fs::read_to_string(format!("/proc/{child}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(
            Instant::now() < deadline,
            "child {child} survived delete --force"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
