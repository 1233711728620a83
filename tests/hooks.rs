//! Lifecycle hooks: each runs at its point, in order, where the spec says (runtime namespace,
//! container namespaces before pivot_root, inside the container), with the state on stdin;
//! timeouts and failures abort create and leave nothing, except poststart and poststop, whose
//! failures are only reported.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A host hook: /bin/sh running `script` with a minimal PATH.
fn host_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["PATH=/usr/bin:/bin"]})
}

/// The commands a recording hook runs: save the state, note the mount namespace, append the
/// phase to the order file. `dir` is the log directory as the hook sees it.
fn record(phase: &str, dir: &str) -> String {
    format!(
        "cat > {dir}/{phase}.json; readlink /proc/self/ns/mnt > {dir}/{phase}.mnt; \
         echo {phase} >> {dir}/order"
    )
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .trim()
        .to_string()
}

fn state_of(dir: &Path, phase: &str) -> Value {
    serde_json::from_str(&read(dir, &format!("{phase}.json")))
        .unwrap_or_else(|e| panic!("{phase} state: {e}"))
}

#[test]
fn every_hook_runs_at_its_point_in_order_with_the_state() {
    let rt = Runtime::new();
    let log = TempDir::new("hooks");
    let l = log.path().to_str().unwrap();
    let mut b = Bundle::sh("echo program >> /hooks/order");
    b.add_bind(log.path(), "/hooks", &[]);
    let in_container = |phase: &str| {
        json!({"path": "/bin/sh", "env": ["PATH=/bin:/usr/bin"], "args": ["sh", "-c",
            format!("{}; if test -e {l}; then echo visible > /hooks/host-path; fi", record(phase, "/hooks"))]})
    };
    b.config["hooks"] = json!({
        "prestart": [host_hook(&record("prestart", l))],
        "createRuntime": [host_hook(&record("createRuntime", l))],
        "createContainer": [host_hook(&record("createContainer", l))],
        "startContainer": [in_container("startContainer")],
        "poststart": [host_hook(&record("poststart", l))],
        "poststop": [host_hook(&record("poststop", l))],
    });
    let id = unique("hooks");
    rt.create(&b, &id);
    assert_eq!(
        read(log.path(), "order"),
        "prestart\ncreateRuntime\ncreateContainer"
    );
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let container_mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .unwrap()
        .to_string_lossy()
        .into_owned();

    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    wait_until(5, "poststart hook", || {
        log.path().join("poststart.json").exists()
    });
    rt.ok(&["delete", &id]);

    let order = read(log.path(), "order");
    let lines: Vec<&str> = order.lines().collect();
    let at = |p: &str| {
        lines
            .iter()
            .position(|l| *l == p)
            .unwrap_or_else(|| panic!("{p} did not run: {order}"))
    };
    assert!(at("prestart") < at("createRuntime"), "{order}");
    assert!(at("createRuntime") < at("createContainer"), "{order}");
    assert!(at("createContainer") < at("startContainer"), "{order}");
    assert!(at("startContainer") < at("program"), "{order}");
    assert!(at("createContainer") < at("poststart"), "{order}");
    assert_eq!(*lines.last().unwrap(), "poststop", "{order}");
    assert_eq!(lines.len(), 7, "each hook ran once: {order}");

    for (phase, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = state_of(log.path(), phase);
        assert_eq!(s["id"], id.as_str(), "{phase}: {s}");
        assert_eq!(s["status"], status, "{phase}: {s}");
        assert_eq!(s["bundle"], b.path().to_str().unwrap(), "{phase}: {s}");
        if phase != "poststop" {
            assert_eq!(s["pid"].as_i64(), Some(pid), "{phase}: {s}");
        }
    }

    // Where each ran: prestart and createRuntime in the runtime's mount namespace,
    // createContainer in the container's (host paths still visible, since it wrote to the log
    // directory by its host path), startContainer in the container after pivot_root.
    assert_eq!(read(log.path(), "prestart.mnt"), host_ns("mnt"));
    assert_eq!(read(log.path(), "createRuntime.mnt"), host_ns("mnt"));
    assert_eq!(read(log.path(), "createContainer.mnt"), container_mnt);
    assert_eq!(read(log.path(), "startContainer.mnt"), container_mnt);
    assert!(
        !log.path().join("host-path").exists(),
        "startContainer ran before pivot_root: it saw {l}"
    );
}

/// The container's traces after a failed create: no state, no cgroup, no process.
fn assert_nothing_left(rt: &Runtime, id: &str) {
    assert!(!rt.root.path().join(id).exists(), "state dir left");
    for d in default_cgroup_dirs(id) {
        assert!(!d.exists(), "cgroup left: {}", d.display());
    }
    wait_until(5, "container processes to go", || {
        processes_with_arg(id).is_empty()
    });
}

#[test]
fn a_hook_that_outlives_its_timeout_is_killed_and_fails_create() {
    let rt = Runtime::new();
    let log = TempDir::new("hook-timeout");
    let mut b = Bundle::sh("true");
    let mut hook = host_hook(&format!(
        "echo $$ > {}/pid; exec sleep 30",
        log.path().display()
    ));
    hook["timeout"] = json!(1);
    b.config["hooks"] = json!({"prestart": [hook]});
    b.write();
    let id = unique("timeout");
    let t = Instant::now();
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        err.contains("prestart hook") && err.contains("timed out"),
        "{err}"
    );
    let hook_pid: i64 = read(log.path(), "pid").parse().unwrap();
    assert!(pid_dead(hook_pid), "the hook {hook_pid} was not killed");
    assert_nothing_left(&rt, &id);
}

#[test]
fn a_failing_prestart_hook_aborts_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let log = TempDir::new("hook-fail");
    let mut b = Bundle::sh("true");
    b.config["hooks"] = json!({"prestart": [host_hook(&format!(
        "cat > {}/state.json; echo hook-said-no >&2; exit 3", log.path().display()))]});
    b.write();
    let id = unique("prefail");
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(err.contains("prestart hook /bin/sh"), "{err}");
    assert!(err.contains("exit status 3"), "{err}");
    assert!(err.contains("hook-said-no"), "the hook's last line: {err}");
    let init: i64 = state_of(log.path(), "state")["pid"].as_i64().unwrap();
    assert!(init > 0);
    wait_until(5, "init to die", || pid_dead(init));
    assert_nothing_left(&rt, &id);
}

#[test]
fn a_failing_create_container_hook_aborts_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["hooks"] = json!({"createContainer": [host_hook("exit 4")]});
    b.write();
    let id = unique("ccfail");
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(err.contains("createContainer hook"), "{err}");
    assert!(err.contains("exit status 4"), "{err}");
    assert_nothing_left(&rt, &id);
}

#[test]
fn a_failing_poststart_hook_is_reported_and_the_container_runs_on() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 0.3; exit 5");
    b.config["hooks"] = json!({"poststart": [host_hook("echo poststart-broke >&2; exit 1")]});
    let out = rt.run_bundle(&b, &unique("psfail"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("warning") && err.contains("poststart hook"),
        "{err}"
    );
    assert!(err.contains("poststart-broke"), "{err}");
}

/// `run` hands the spec's hooks from its create to its start and delete: poststart and
/// poststop run, once each, with the container's state.
#[test]
fn run_runs_the_poststart_and_poststop_hooks_of_its_spec() {
    let rt = Runtime::new();
    let log = TempDir::new("runhooks");
    let l = log.path().to_str().unwrap();
    let mut b = Bundle::sh("true");
    b.config["hooks"] = json!({
        "poststart": [host_hook(&record("poststart", l))],
        "poststop": [host_hook(&record("poststop", l))],
    });
    let id = unique("runhooks");
    let out = rt.run_bundle(&b, &id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(log.path(), "order"), "poststart\npoststop");
    assert_eq!(state_of(log.path(), "poststart")["id"], id.as_str());
    assert_eq!(state_of(log.path(), "poststop")["status"], "stopped");
    assert!(!rt.root.path().join(&id).exists());
}

#[test]
fn a_failing_poststop_hook_is_reported_and_delete_still_succeeds() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["hooks"] = json!({"poststop": [host_hook("exit 1")]});
    b.write();
    let id = unique("pstopfail");
    rt.ok(&["run", "--keep", "--bundle", b.path().to_str().unwrap(), &id]);
    let dirs = rt.cgroup_dirs(&id);
    let out = rt.run(&["delete", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("poststop hook"), "{err}");
    assert!(!rt.root.path().join(&id).exists());
    for d in dirs {
        assert!(!d.exists(), "cgroup left: {}", d.display());
    }
}

#[test]
fn hooks_get_exactly_their_args_and_env() {
    let rt = Runtime::new();
    let log = TempDir::new("hook-env");
    let mut b = Bundle::sh("true");
    // The fixture's busybox picks its applet by argv[0]: it runs as a shell only if the
    // hook's args[0] ("sh") reaches it as argv[0] rather than the path.
    let busybox = fixtures().join("busybox/rootfs/bin/busybox");
    b.config["hooks"] = json!({"prestart": [{
        "path": busybox,
        "args": ["sh", "-c",
                 format!("echo \"$0|$FOO|${{RIND_TEST_LEAK-unset}}\" > {}/env",
                         log.path().display()),
                 "my-hook-name"],
        "env": ["FOO=bar"],
    }]});
    b.write();
    let out_file = std::fs::File::create(log.path().join("out")).unwrap();
    let status = rt
        .command(&[
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &unique("env"),
        ])
        .env("RIND_TEST_LEAK", "leaked")
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file)
        .status()
        .unwrap();
    assert!(status.success(), "{}", read(log.path(), "out"));
    assert_eq!(read(log.path(), "env"), "my-hook-name|bar|unset");
}

#[test]
fn a_missing_hook_binary_fails_create_with_its_path() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["hooks"] = json!({"createRuntime": [{"path": "/nonexistent/hook"}]});
    b.write();
    let id = unique("nohook");
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(
        err.contains("createRuntime hook /nonexistent/hook") && err.contains("no such file"),
        "{err}"
    );
    assert_nothing_left(&rt, &id);
}

/// runtime-tools' poststart_fail and poststop_fail: "If any poststart hook fails, the runtime
/// MUST log a warning, but the remaining hooks and lifecycle continue as if the hook had
/// succeeded" (the same for poststop). The hooks after a failing one still run, each failure
/// gets its warning, and the container's lifecycle is untouched.
#[test]
fn the_hooks_after_a_failing_poststart_or_poststop_hook_still_run() {
    let rt = Runtime::new();
    let log = TempDir::new("hookfail");
    let l = log.path().to_str().unwrap();
    let mut b = Bundle::sh("exit 3");
    b.config["hooks"] = json!({
        "poststart": [host_hook("exit 1"), host_hook(&format!("echo poststart2 >> {l}/order"))],
        "poststop": [host_hook("exit 2"), host_hook(&format!("echo poststop2 >> {l}/order"))],
    });
    let out = rt.run_bundle(&b, &unique("hookfail"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(read(log.path(), "order"), "poststart2\npoststop2", "{err}");
    for phase in ["poststart", "poststop"] {
        assert!(
            err.lines()
                .any(|line| line.contains("warning") && line.contains(&format!("{phase} hook"))),
            "{phase}: {err}"
        );
    }
}

/// A hook killed by a signal is reported in runc's words, which runc's own tests match:
/// "error running hook" and Go's "signal: <description>".
#[test]
fn a_hook_killed_by_a_signal_is_named_as_runc_names_it() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["hooks"] = json!({"prestart": [host_hook("kill -SYS $$")]});
    b.write();
    let id = unique("hooksig");
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(
        err.contains("prestart hook /bin/sh: error running hook"),
        "{err}"
    );
    assert!(err.contains("signal: bad system call"), "{err}");
    assert_nothing_left(&rt, &id);
}
