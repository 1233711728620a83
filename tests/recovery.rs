//! A runtime that dies in the middle of `create` leaves a container that `delete --force`
//! removes completely: process, cgroup and state.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[test]
fn delete_force_cleans_up_after_a_runtime_killed_mid_create() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    // A createRuntime hook that blocks keeps `create` in the middle, with init alive.
    let marker = b.path().join("hook-started");
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 60", marker.display())]
    }]});
    b.write();
    let id = unique("crash");
    let mut create = rt
        .command(&["create", "--bundle", b.path().to_str().unwrap(), &id])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let hook_pid = loop {
        if let Some(pid) = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(Duration::from_millis(10));
    };
    create.kill().unwrap();
    create.wait().unwrap();
    // The orphaned hook is this test's to end.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(hook_pid),
        nix::sys::signal::Signal::SIGKILL,
    );

    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(rt.root.path().join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0, "the state names init before the hooks run");
    let cgroup_dirs: Vec<String> = match &state["cgroup"] {
        c if c["version"] == "v2" => vec![c["dir"].as_str().unwrap().to_string()],
        c => c["controllers"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
    };
    assert!(cgroup_dirs.iter().all(|d| std::path::Path::new(d).exists()));

    rt.ok(&["delete", "--force", &id]);
    assert!(!rt.root.path().join(&id).exists(), "state left behind");
    for d in &cgroup_dirs {
        assert!(!std::path::Path::new(d).exists(), "cgroup {d} left behind");
    }
    let gone = Instant::now() + Duration::from_secs(5);
    while pid_exists(pid)
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(Instant::now() < gone, "init {pid} survived delete --force");
        std::thread::sleep(Duration::from_millis(10));
    }
}
