//! Where runc's own integration suite (tests/integration/*.bats of runc 1.1.5, run by
//! scripts/runc-suite.sh) found rind not to be a drop-in: device rules that did not hold, hangs
//! on frozen cgroups, exit codes and words that scripts read, flags and keys runc takes. Each
//! test here checks one of those on rind alone, so that it fails when the fix goes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits for `child` for up to `secs` seconds; kills it and returns None when it takes longer.
fn wait_or_kill(mut child: Child, secs: u64) -> Option<std::process::Output> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A detached container running `sleep`, with an optional absolute `cgroupsPath`, and, as in
/// runc's default spec, no cgroup namespace (`/proc/self/cgroup` shows host paths).
fn sleeping(rt: &Runtime, cgroups_path: Option<&str>) -> (String, Bundle) {
    let mut b = Bundle::sh("sleep 1000");
    b.drop_namespace("cgroup");
    if let Some(p) = cgroups_path {
        b.config["linux"]["cgroupsPath"] = json!(p);
    }
    let id = unique("rc");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    (id, b)
}

/// The directory of `controller` (v1) or the unified one (v2) for an absolute cgroups path.
fn host_cgroup_dir(controller: &str, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if cgroup_v2() {
        Path::new("/sys/fs/cgroup").join(rel)
    } else {
        Path::new("/sys/fs/cgroup").join(controller).join(rel)
    }
}

// ---- device rules ----

/// `linux.devices` makes a node; only `linux.resources.devices` grants access to it. rind used
/// to add an allow rule for every listed device, so a deny-all rule did not hold for it: not
/// for init, and not for `exec` (runc's "runc run/update [device cgroup deny]").
#[test]
fn a_listed_device_stays_denied_by_a_deny_all_rule_for_init_and_exec() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true 2>/tmp/err </dev/fuse; sleep 1000");
    b.config["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
    b.add_tmpfs("/tmp");
    let id = unique("deny");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = rt.run(&["exec", &id, "sh", "-c", "true </dev/fuse"]);
    assert_eq!(out.status.code(), Some(1), "exec opened it: {out:?}");
    assert!(
        text(&out.stderr).contains("Operation not permitted")
            || text(&out.stdout).contains("Operation not permitted"),
        "{out:?}"
    );
    wait_until(10, "init tried the device", || {
        rt.run(&["exec", &id, "cat", "/tmp/err"]).stdout.len() > 1
    });
    let init = text(&rt.run(&["exec", &id, "cat", "/tmp/err"]).stdout);
    assert!(init.contains("Operation not permitted"), "init: {init}");
}

/// The counterpart: an allow rule for the device lifts the denial (the open then fails for
/// want of a driver, or works), so the denial above came from the device rules.
#[test]
fn a_device_allowed_by_a_rule_is_not_denied() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true </dev/fuse; echo done");
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
    ]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
    let (out, err) = rt.outputs_of(&b);
    assert!(out.contains("done"), "{out} {err}");
    assert!(!err.contains("Operation not permitted"), "{err}");
}

/// runc's tests write access "rwa"; runc reads an access set by r, w and m alone.
#[test]
fn device_access_rwa_is_accepted() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("echo ran");
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwa"},
    ]);
    assert!(rt.output_of(&b).contains("ran"));
}

// ---- freezer ----

/// An existing, frozen cgroup: init would join it and never run, and create would wait for it
/// for good. runc refuses with "container's cgroup unexpectedly frozen", and leaves the cgroup.
#[test]
fn create_in_a_frozen_cgroup_is_refused_not_a_hang() {
    /// Thaws and removes the test's cgroup, also when the test fails.
    struct Frozen(PathBuf, &'static str, &'static str);
    impl Drop for Frozen {
        fn drop(&mut self) {
            let _ = std::fs::write(self.0.join(self.1), self.2);
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let rt = Runtime::new();
    let path = format!("/{}", unique("rind-frozen"));
    let mut b = Bundle::sh("true");
    b.config["linux"]["cgroupsPath"] = json!(path);
    b.write();
    let (file, frozen, thawed) = if cgroup_v2() {
        ("cgroup.freeze", "1", "0")
    } else {
        ("freezer.state", "FROZEN", "THAWED")
    };
    let dir = Frozen(host_cgroup_dir("freezer", &path), file, thawed);
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join(file), frozen).unwrap();
    let child = rt
        .command(&[
            "create",
            "--bundle",
            b.path().to_str().unwrap(),
            &unique("fz"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_or_kill(child, 20);
    let still_frozen = std::fs::read_to_string(dir.0.join(file)).unwrap_or_default();
    // A create that hung left its init in the frozen cgroup: thawed, it can go.
    let _ = std::fs::write(dir.0.join(file), thawed);
    let out = out.expect("create hung on the frozen cgroup");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("container's cgroup unexpectedly frozen"),
        "{out:?}"
    );
    assert_eq!(still_frozen.trim(), frozen, "left as it was");
    drop(rt);
    std::fs::remove_dir(&dir.0).expect("the cgroup is left, and empty");
}

/// A paused container refuses exec with runc's words and exit code 255.
#[test]
fn exec_in_a_paused_container_is_refused_with_255() {
    let rt = Runtime::new();
    let (id, _b) = sleeping(&rt, None);
    rt.ok(&["pause", &id]);
    let out = rt.run(&["exec", &id, "true"]);
    rt.ok(&["resume", &id]);
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        text(&out.stderr).contains("cannot exec in a paused container"),
        "{out:?}"
    );
}

/// With --ignore-paused the process waits in the frozen cgroup until `resume`; exec must not
/// hold the container's lock meanwhile, or `resume` waits for it and neither ever returns.
#[test]
fn exec_ignore_paused_waits_for_resume_without_blocking_it() {
    let rt = Runtime::new();
    let (id, _b) = sleeping(&rt, None);
    rt.ok(&["pause", &id]);
    let exec = rt
        .command(&["exec", "--ignore-paused", &id, "echo", "ok"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let resume = rt
        .command(&["resume", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let resumed = wait_or_kill(resume, 20);
    if resumed.is_none() {
        // Unblock whatever is left, so the test cleans up.
        let dirs = rt.cgroup_dirs(&id);
        for d in dirs {
            let _ = std::fs::write(d.join("freezer.state"), "THAWED");
            let _ = std::fs::write(d.join("cgroup.freeze"), "0");
        }
    }
    let out = wait_or_kill(exec, 20);
    assert!(resumed.is_some(), "resume waited for the exec's lock");
    let out = out.expect("exec never returned");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout).trim(), "ok");
}

// ---- cgroups ----

/// runc warns when a container's cgroup already has processes (runc 1.1 runs it anyway).
#[test]
fn a_container_in_a_non_empty_cgroup_gets_a_warning() {
    let rt = Runtime::new();
    let path = format!("/{}", unique("rind-shared"));
    let (_first, _b) = sleeping(&rt, Some(&path));
    let mut b = Bundle::sh("sleep 1000");
    b.config["linux"]["cgroupsPath"] = json!(path);
    b.write();
    let out = rt.run(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique("second"),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stderr).contains("container's cgroup is not empty: 1 process(es) found"),
        "{out:?}"
    );
}

/// runc's words for unified resources on cgroup v1: "invalid configuration".
#[test]
fn unified_resources_on_cgroup_v1_are_an_invalid_configuration() {
    if cgroup_v2() {
        skip("unified resources are valid on cgroup v2");
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["linux"]["resources"]["unified"] = json!({"memory.min": "131072"});
    let err = rt.run_fails(&b, &unique("uni"));
    assert!(err.contains("invalid configuration"), "{err}");
}

/// Go's encoding/json, which runc decodes with, matches keys to fields ignoring case: runc's
/// tests write `linux.resources.CPU` and `update -r` documents with `"CPU"`.
#[test]
fn resource_keys_are_read_ignoring_case_in_the_spec_and_in_update() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000");
    b.config["linux"]["resources"]["Pids"] = json!({"Limit": 42});
    let id = unique("case");
    rt.create(&b, &id);
    let pids = |rt: &Runtime| {
        let dir = rt
            .cgroup_dirs(&id)
            .into_iter()
            .find(|d| d.join("pids.max").exists())
            .expect("a pids directory");
        std::fs::read_to_string(dir.join("pids.max")).unwrap()
    };
    assert_eq!(pids(&rt).trim(), "42");
    let doc = b.path().join("update.json");
    std::fs::write(&doc, r#"{"PIDS": {"limit": 43}}"#).unwrap();
    rt.ok(&["update", "-r", doc.to_str().unwrap(), &id]);
    assert_eq!(pids(&rt).trim(), "43");
}

/// `--memory -1` and `--memory-swap -1` mean unlimited; the parser took them for flags.
#[test]
fn update_takes_minus_one_for_memory_and_swap() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    let id = unique("mem");
    rt.create(&b, &id);
    rt.ok(&["update", "--memory-swap", "-1", &id]);
    rt.ok(&["update", "--memory", "-1", "--memory-swap", "-1", &id]);
    let dir = rt
        .cgroup_dirs(&id)
        .into_iter()
        .find(|d| d.join("memory.limit_in_bytes").exists() || d.join("memory.max").exists())
        .expect("a memory directory");
    let limit = std::fs::read_to_string(dir.join("memory.limit_in_bytes"))
        .or_else(|_| std::fs::read_to_string(dir.join("memory.max")))
        .unwrap();
    assert!(
        limit.trim() == "max" || limit.trim().parse::<u64>().unwrap() > 1 << 60,
        "unlimited: {limit}"
    );
}

/// `exec --cgroup` puts the process in an existing cgroup below the container's, and refuses
/// one above it or a controller the container has no hierarchy for.
#[test]
fn exec_cgroup_joins_a_sub_cgroup_and_stays_below_the_container() {
    let rt = Runtime::new();
    let path = format!("/{}", unique("rind-sub"));
    let (id, _b) = sleeping(&rt, Some(&path));
    let memory = rt
        .cgroup_dirs(&id)
        .into_iter()
        .find(|d| cgroup_v2() || d.starts_with("/sys/fs/cgroup/memory"))
        .expect("a memory directory");
    std::fs::create_dir(memory.join("sub")).unwrap();
    let arg = if cgroup_v2() { "sub" } else { "memory:sub" };
    let out = rt.run(&["exec", "--cgroup", arg, &id, "cat", "/proc/self/cgroup"]);
    let cgroups = text(&out.stdout);
    let want = if cgroup_v2() {
        format!("0::{path}/sub")
    } else {
        format!(":memory:{path}/sub")
    };
    assert!(out.status.success(), "{out:?}");
    assert!(cgroups.lines().any(|l| l.ends_with(&want)), "{cgroups}");
    let out = rt.run(&["exec", "--cgroup", "..", &id, "true"]);
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        text(&out.stderr).contains(" .. is not a sub cgroup path"),
        "{out:?}"
    );
    let out = rt.run(&["exec", "--cgroup", "whaaat:/", &id, "true"]);
    assert!(text(&out.stderr).contains("unknown controller "), "{out:?}");
    let out = rt.run(&["exec", "--cgroup", "nonexistent", &id, "true"]);
    assert!(
        text(&out.stderr).contains("/nonexistent/cgroup.procs: no such file "),
        "{out:?}"
    );
}

/// `events` prints runc's key order (type, id, data), which scripts and runc's tests match as
/// text.
#[test]
fn events_print_type_id_data_in_that_order() {
    let rt = Runtime::new();
    let (id, _b) = sleeping(&rt, None);
    let out = rt.ok(&["events", "--stats", &id]);
    assert!(
        out.starts_with(&format!(r#"{{"type":"stats","id":"{id}","data":{{"#)),
        "{out}"
    );
}

// ---- exec ----

/// runc's exec exits 255 for its own failures, so callers can tell them from the process's
/// code; the process's code passes through.
#[test]
fn exec_runtime_errors_exit_255_and_process_codes_pass_through() {
    let rt = Runtime::new();
    let (id, _b) = sleeping(&rt, None);
    assert_eq!(rt.run(&["exec", &id, "false"]).status.code(), Some(1));
    assert_eq!(
        rt.run(&["exec", &id, "sh", "-c", "exit 42"]).status.code(),
        Some(42)
    );
    for args in [
        vec!["exec", id.as_str(), "no-such-binary"],
        vec!["exec", "no_such_container", "true"],
        vec![
            "exec",
            "--pid-file",
            "/non-existent/directory",
            id.as_str(),
            "true",
        ],
    ] {
        let out = rt.run(&args);
        assert_eq!(out.status.code(), Some(255), "{args:?}: {out:?}");
        assert!(!text(&out.stderr).is_empty(), "{args:?}: says why");
    }
}

/// runc's decoding leaves a missing `user` at uid 0, gid 0.
#[test]
fn exec_process_without_user_runs_as_root() {
    let rt = Runtime::new();
    let (id, b) = sleeping(&rt, None);
    let process = b.path().join("process.json");
    std::fs::write(&process, r#"{"args": ["id", "-u"], "cwd": "/"}"#).unwrap();
    let out = rt.ok(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(out.trim(), "0");
}

/// `--debug --log FILE` on exec writes its debug lines to the file.
#[test]
fn exec_debug_lines_go_to_the_log_file() {
    let rt = Runtime::new();
    let (id, b) = sleeping(&rt, None);
    let log = b.path().join("exec.log");
    let out = rt.run(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "exec",
        &id,
        "true",
    ]);
    assert!(out.status.success(), "{out:?}");
    let logged = std::fs::read_to_string(&log).expect("a log file");
    assert!(logged.contains("level=debug"), "{logged}");
    assert!(
        logged.contains(&format!("exec in container {id}")),
        "{logged}"
    );
    assert!(!text(&out.stderr).contains("debug"), "{out:?}");
}

// ---- hooks ----

/// createContainer hooks run with the container's root filesystem as their working directory,
/// as runc runs them (runc's hooks.bats bind-mounts onto `./lib/...`).
#[test]
fn create_container_hooks_run_in_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    let record = b.path().join("hook-cwd");
    b.config["hooks"] = json!({"createContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", format!("pwd > {}", record.display())]}
    ]});
    rt.output_of(&b);
    let cwd = std::fs::read_to_string(&record).expect("the hook ran");
    assert_eq!(cwd.trim(), b.rootfs().to_str().unwrap());
}

// ---- seccomp ----

fn notify_profile(socket: &Path, names: &[&str]) -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}],
    })
}

/// The runtime writes after the filter is in place: NOTIFY on `write` is refused (runc's
/// words), before anything is made.
#[test]
fn notify_on_write_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["linux"]["seccomp"] =
        notify_profile(&b.path().join("agent.sock"), &["mkdir", "write"]);
    let err = rt.run_fails(&b, &unique("nw"));
    assert!(
        err.contains("SCMP_ACT_NOTIFY cannot be used for the write syscall"),
        "{err}"
    );
}

/// NOTIFY with no agent listening: runc's words.
#[test]
fn notify_without_an_agent_says_so_in_runcs_words() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["linux"]["seccomp"] = notify_profile(&b.path().join("no-agent.sock"), &["mkdir"]);
    let err = rt.run_fails(&b, &unique("na"));
    assert!(
        err.contains("failed to connect with seccomp agent"),
        "{err}"
    );
}

/// Profiles written for several architectures are the norm: one that cannot occur on this
/// host is left out, not an error, and the rest of the profile holds.
#[test]
fn a_profile_for_several_architectures_runs_and_holds() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("mkdir /tmp/x 2>&1; echo done");
    b.add_tmpfs("/tmp");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    });
    let out = rt.output_of(&b);
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("done"), "{out}");
}

/// Two conditions of one rule on the same argument are either/or, as runc makes them (its
/// seccomp.bats "-ENOSYS handling"); rind ANDed them, and such a deny rule denied nothing.
#[test]
fn seccomp_conditions_on_one_argument_are_either_or() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("kill -0 1337 2>&1; kill -0 2020 2>&1; kill -0 7 2>&1; echo done");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55, "args": [
            {"index": 0, "value": 1337, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 2020, "op": "SCMP_CMP_EQ"},
        ]}],
    });
    let out = rt.output_of(&b);
    let denied = out.lines().filter(|l| l.contains("No anode")).count();
    assert_eq!(denied, 2, "1337 and 2020 denied, 7 not: {out}");
    assert!(out.contains("done"), "{out}");
}
