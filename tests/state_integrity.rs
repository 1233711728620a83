//! What rind records about a container, and how far it trusts it: a runtime killed at any
//! moment of `create` leaves nothing `delete --force` cannot remove; a rewritten `state.json`
//! cannot turn `kill`, `delete`, `exec`, `pause` or `ps` against a host process or cgroup; and
//! `kill` answers a stopped container as runc does (containerd's shim depends on it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// Sends SIGKILL to a child and reaps it.
fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A host process the test owns, alone in a cgroup of its own (made under the test's own
/// cgroup in the cgroup2 hierarchy), killed and removed on drop. A rind that trusted a forged
/// state file could at worst signal this process or act on this cgroup, never others.
struct HostProcess {
    child: Child,
    cgroup: PathBuf,
}

impl HostProcess {
    fn sleep() -> HostProcess {
        let cgroup = own_v2_cgroup_dir().join(unique("host-cg"));
        std::fs::create_dir(&cgroup).unwrap();
        let child = Command::new("sleep").arg("1000").spawn().unwrap();
        std::fs::write(cgroup.join("cgroup.procs"), child.id().to_string()).unwrap();
        HostProcess { child, cgroup }
    }
    fn pid(&self) -> i64 {
        self.child.id() as i64
    }
    fn start_time(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        rest.split_whitespace().nth(19).unwrap().parse().unwrap()
    }
    /// Alive and not a zombie: nothing has signalled it.
    fn untouched(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none() && !pid_dead(self.pid())
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        kill_child(&mut self.child);
        let _ = std::fs::remove_dir(&self.cgroup);
    }
}

fn rewrite_state(rt: &Runtime, id: &str, edit: impl FnOnce(&mut Value)) {
    let p = rt.root.path().join(id).join("state.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// The cgroup2 directory the test process itself is in, as rind would record it.
fn own_v2_cgroup_dir() -> PathBuf {
    let mounts = rind::cgroups::MountInfo::read_self().unwrap();
    let mount = mounts.unified_mount().expect("a cgroup2 mount");
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup2 line");
    mount.join(rel.trim_start_matches('/'))
}

/// Item 7 of issue 13: with pid and start time in `state.json` rewritten to a host process,
/// no verb signals or joins it; with the cgroup rewritten too, no verb acts on that cgroup.
#[test]
fn a_rewritten_state_file_cannot_aim_any_verb_at_a_host_process() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("forged");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let real_pid = rt.state(&id)["pid"].as_i64().unwrap();
    let saved = std::fs::read(rt.root.path().join(&id).join("state.json")).unwrap();

    let mut host = HostProcess::sleep();
    rewrite_state(&rt, &id, |v| {
        v["pid"] = json!(host.pid());
        v["initStartTime"] = json!(host.start_time());
    });
    // The container reads as stopped: its recorded init is not the container's.
    let st = rt.state(&id);
    assert_eq!(st["status"], "stopped", "{st}");
    assert_eq!(
        st["pid"], 0,
        "state reports a host process as the container's: {st}"
    );
    for sig in ["KILL", "TERM", "0"] {
        let err = rt.fails(&["kill", &id, sig]);
        assert!(err.contains("container not running"), "{err}");
        assert!(err.contains("not the container's"), "{err}");
    }
    // exec's own failures exit 255, as runc's do.
    let out = rt.run(&["exec", &id, "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("stopped"), "{err}");
    let err = rt.fails(&["pause", &id]);
    assert!(err.contains("stopped"), "{err}");
    assert!(host.untouched(), "a verb signalled the host process");
    assert!(!pid_dead(real_pid), "the real init died");

    // Now the cgroup too: the host process's cgroup. No verb acts on it.
    let host_cgroup = host.cgroup.clone();
    let max_before = std::fs::read_to_string(host_cgroup.join("pids.max")).ok();
    rewrite_state(&rt, &id, |v| {
        v["cgroup"] = json!({"version": "v2", "dir": host_cgroup});
    });
    for args in [vec!["kill", "--all", &id, "KILL"], vec!["ps", &id]] {
        let err = rt.fails(&args);
        assert!(
            err.contains("does not carry this container's mark"),
            "{args:?}: {err}"
        );
    }
    rt.fails(&["update", "--pids-limit", "5", &id]);
    rt.fails(&["pause", &id]);
    assert!(
        host.untouched(),
        "a cgroup-wide verb signalled the host process"
    );
    let max_after = std::fs::read_to_string(host_cgroup.join("pids.max")).ok();
    assert_eq!(max_before, max_after, "update wrote the host's cgroup");

    // The true state back (same directory, so the cgroup's mark matches): all is normal.
    std::fs::write(rt.root.path().join(&id).join("state.json"), &saved).unwrap();
    assert_eq!(rt.status(&id), "running");
    rt.ok(&["delete", "--force", &id]);
    assert!(pid_dead(real_pid));
    assert!(host.untouched());
}

/// delete --force of a state whose pid and cgroup are both rewritten to the host's: the state
/// goes, the host process and cgroup stay.
#[test]
fn delete_force_with_a_rewritten_cgroup_touches_neither_host_process_nor_cgroup() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("forged-cg");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let real_pid = rt.state(&id)["pid"].as_i64().unwrap();
    let real_dirs = rt.cgroup_dirs(&id);
    let mut host = HostProcess::sleep();
    let host_cgroup = host.cgroup.clone();
    rewrite_state(&rt, &id, |v| {
        v["pid"] = json!(host.pid());
        v["initStartTime"] = json!(host.start_time());
        v["cgroup"] = json!({"version": "v2", "dir": host_cgroup});
    });
    let out = rt.run(&["delete", "--force", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!rt.root.path().join(&id).exists());
    assert!(host_cgroup.exists(), "delete removed the host's cgroup");
    assert!(
        host.untouched(),
        "delete --force signalled the host process"
    );
    // The real container is now the test's to clean up.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(real_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    wait_until(10, "the real init to exit", || pid_dead(real_pid));
    for d in real_dirs {
        let deadline = Instant::now() + Duration::from_secs(5);
        while d.exists() && std::fs::remove_dir(&d).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// delete --force with a rewritten pid: the host process survives, the container goes.
#[test]
fn delete_force_with_a_rewritten_pid_removes_the_container_and_spares_the_host_process() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("forged-del");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let real_pid = rt.state(&id)["pid"].as_i64().unwrap();
    let dirs = rt.cgroup_dirs(&id);
    let mut host = HostProcess::sleep();
    rewrite_state(&rt, &id, |v| {
        v["pid"] = json!(host.pid());
        v["initStartTime"] = json!(host.start_time());
    });
    let out = rt.run(&["delete", "--force", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("left alone"),
        "no word on the impostor pid: {err}"
    );
    assert!(
        host.untouched(),
        "delete --force signalled the host process"
    );
    // The container itself was in its own cgroup, which delete emptied and removed.
    wait_until(10, "the real init to die", || pid_dead(real_pid));
    for d in dirs {
        assert!(!d.exists(), "cgroup {} left behind", d.display());
    }
    assert!(!rt.root.path().join(&id).exists());
}

/// How long one `create` of `b` takes here (the fastest of three, the first being cold), to
/// scale the sweep of kill delays to it.
fn create_duration(rt: &Runtime, b: &Bundle) -> Duration {
    (0..3)
        .map(|_| {
            let id = unique("timing");
            let t0 = Instant::now();
            rt.create(b, &id);
            let d = t0.elapsed();
            rt.ok(&["delete", "--force", &id]);
            d
        })
        .min()
        .unwrap()
}

/// Everything a container named `id` could have left: its state directory, a cgroup
/// directory in any hierarchy, a process whose command line names it.
fn leftovers(root: &Path, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    if root.join(id).exists() {
        out.push(format!("state directory {}", root.join(id).display()));
    }
    for d in default_cgroup_dirs(id) {
        if d.exists() {
            out.push(format!("cgroup {}", d.display()));
        }
    }
    for pid in processes_with_arg(id) {
        out.push(format!("process {pid}"));
    }
    out
}

/// Item 6 of issue 13: a runtime SIGKILLed during `create`, at every moment from its start to
/// its end, leaves a container that `list` and `state` describe without failing, that
/// `delete --force` removes whole (no state, no cgroup, no process), and whose id is free
/// again. The delays sweep the length of one create, in 40 steps.
#[test]
fn a_create_killed_at_any_moment_leaves_nothing_delete_force_cannot_remove() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    b.write();
    let span = create_duration(&rt, &b) + Duration::from_millis(1);
    let steps = 40u32;
    // What `state` said after each kill: the sweep must have hit create at several stages.
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    for i in 0..=steps {
        let delay = span * i / steps;
        let id = unique("killed");
        let mut create = rt
            .command(&["create", "--bundle", b.path().to_str().unwrap(), &id])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        kill_child(&mut create);

        // list and state describe what is there, without failing or lying.
        let list = rt.run(&["list", "--format", "json"]);
        assert!(
            list.status.success(),
            "delay {delay:?}: list failed: {}",
            String::from_utf8_lossy(&list.stderr)
        );
        // A create killed before init's pid is known reads as `creating` while its orphaned
        // child still holds the lock (until it closes its copy, first thing, once scheduled):
        // wait for that to end before judging.
        let mut state = rt.run(&["state", &id]);
        for _ in 0..100 {
            let creating_without_pid = state.status.success()
                && serde_json::from_slice::<Value>(&state.stdout)
                    .is_ok_and(|v| v["status"] == "creating" && v["pid"] == 0);
            if !creating_without_pid {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            state = rt.run(&["state", &id]);
        }
        if state.status.success() {
            let v: Value = serde_json::from_slice(&state.stdout).unwrap();
            let pid = v["pid"].as_i64().unwrap();
            *seen
                .entry(v["status"].as_str().unwrap().to_string())
                .or_default() += 1;
            match v["status"].as_str().unwrap() {
                "stopped" => assert_eq!(pid, 0, "delay {delay:?}: {v}"),
                // Init was alive when state looked; left alone by a killed runtime, it may
                // be exiting by now (it reads end-of-file on its channel).
                other => assert!(pid > 0, "delay {delay:?}: {other} without an init: {v}"),
            }
        } else {
            let err = String::from_utf8_lossy(&state.stderr);
            assert!(err.contains("does not exist"), "delay {delay:?}: {err}");
            *seen.entry("absent".into()).or_default() += 1;
        }

        let out = rt.run(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "delay {delay:?}: delete --force failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A killed init is reaped by whoever adopted it; give the kernel a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = leftovers(rt.root.path(), &id);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = leftovers(rt.root.path(), &id);
        }
        assert!(left.is_empty(), "delay {delay:?}: left behind: {left:?}");
        // The id is free again.
        rt.create(&b, &id);
        rt.ok(&["delete", "--force", &id]);
    }
    eprintln!("state after the kill, over the sweep: {seen:?}");
    assert!(seen.len() >= 2, "the sweep saw only {seen:?}");
    // And nothing under another name: the temporary directories of killed creates are gone
    // once a delete has run (every round ran one).
    let stray: Vec<_> = std::fs::read_dir(rt.root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".creating-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// Runs rind with `args`, killing it and failing the test if it has not exited within
/// `secs` seconds.
fn run_within(rt: &Runtime, args: &[&str], secs: u64) -> std::process::ExitStatus {
    let mut child = rt
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            kill_child(&mut child);
            panic!("rind {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Init waiting for `start` (still a copy of rind, which it stays without the exec stub: here
/// a startContainer hook rules the stub out) holds no descriptor of the state directory, whose
/// `flock` is the container's lock: with one, a runtime killed during `create` would leave the
/// lock held by its orphaned init, and every later command on the id would wait for init to
/// go. (This test held `create` after init was ready with a FIFO at the pid file's temporary
/// name; the one atomic writer now makes that file with `O_EXCL` under a unique name, so init's
/// descriptors are checked instead.)
#[test]
fn init_waiting_for_start_holds_no_descriptor_of_the_state_directory() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000");
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/true"}]});
    b.write();
    let id = unique("lockheld");
    rt.create(&b, &id);
    let init = rt.state(&id)["pid"].as_i64().unwrap();
    assert!(!pid_dead(init));
    let state_dir = std::fs::canonicalize(rt.root.path().join(&id)).unwrap();
    let fds = std::fs::read_dir(format!("/proc/{init}/fd")).unwrap();
    for fd in fds {
        let target = std::fs::read_link(fd.unwrap().path()).unwrap_or_default();
        // exec.fifo, in that directory, is init's on purpose; the lock is on the directory.
        assert_ne!(target, state_dir, "init holds the state directory open");
    }
    let status = run_within(&rt, &["delete", "--force", &id], 15);
    assert!(status.success());
    wait_until(10, "init to die", || pid_dead(init));
    assert!(!rt.root.path().join(&id).exists());
}

/// runc's answer to a crashed create: `create` of the same id says it exists, `delete --force`
/// clears it, and the id works again. A directory without any state (left by an older rind)
/// counts too.
#[test]
fn a_crashed_create_blocks_its_id_only_until_delete() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    let id = unique("debris");
    // What an older rind left: the directory and an exec.fifo, no state.
    std::fs::create_dir(rt.root.path().join(&id)).unwrap();
    nix::unistd::mkfifo(
        &rt.root.path().join(&id).join("exec.fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    b.write();
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(err.contains("already exists"), "{err}");
    let err = rt.fails(&["state", &id]);
    assert!(err.contains("does not exist"), "{err}");
    rt.ok(&["delete", "--force", &id]);
    assert!(!rt.root.path().join(&id).exists());
    rt.create(&b, &id);
    rt.ok(&["delete", "--force", &id]);
}

/// Issue 14: after the main process exits, containerd's shim sends `kill --all ID KILL` and
/// takes any error for a failure unless it says "container not running". runc: `--all` on a
/// stopped container exits 0; a plain kill fails with that text. Issue 18: signal 0 asks
/// whether init is alive.
#[test]
fn kill_of_a_stopped_container_answers_as_runc_does() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("killstop");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    rt.ok(&["kill", &id, "0"]);
    rt.ok(&["kill", "--all", &id, "0"]);
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["kill", "--all", &id, "KILL"]);
    rt.ok(&["kill", "--all", &id, "TERM"]);
    for sig in ["KILL", "0"] {
        let err = rt.fails(&["kill", &id, sig]);
        assert!(err.contains("container not running"), "{err}");
    }
    rt.ok(&["delete", &id]);
    let err = rt.fails(&["kill", "--all", &id, "KILL"]);
    assert!(err.contains("does not exist"), "{err}");
}

/// The reference for the test above: runc 1.1.5, on the same bundle, answers the same way.
#[test]
fn kill_of_a_stopped_container_runc_answers_the_same() {
    let b = Bundle::sh("sleep 1000");
    b.write();
    if !require_tool("runc") {
        return;
    }
    let runc = "runc";
    let mut config = b.config.clone();
    config["ociVersion"] = json!("1.0.2");
    std::fs::write(
        b.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let root = TempDir::new("runc-root");
    // Output through files: a detached container inherits runc's stdio, and a pipe it holds
    // would never reach end of file.
    let runc_cmd = |args: &[&str]| {
        let err_path = root.path().join(format!(".err-{}", unique("e")));
        let status = Command::new(runc)
            .arg("--root")
            .arg(root.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&err_path);
        (status, stderr)
    };
    let runc_state = |id: &str| {
        Command::new(runc)
            .arg("--root")
            .arg(root.path())
            .args(["state", id])
            .stderr(std::process::Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let rid = unique("runc-killstop");
    let (status, stderr) = runc_cmd(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &rid]);
    assert!(status.success(), "{stderr}");
    assert!(runc_cmd(&["kill", &rid, "0"]).0.success());
    assert!(runc_cmd(&["kill", &rid, "KILL"]).0.success());
    wait_until(10, "runc's container to stop", || {
        runc_state(&rid).contains("\"stopped\"")
    });
    let all = runc_cmd(&["kill", "--all", &rid, "KILL"]);
    let plain = runc_cmd(&["kill", &rid, "KILL"]);
    let zero = runc_cmd(&["kill", &rid, "0"]);
    let _ = runc_cmd(&["delete", "--force", &rid]);
    assert!(
        all.0.success(),
        "runc kill --all of a stopped container: {}",
        all.1
    );
    for (what, (status, stderr)) in [("KILL", plain), ("0", zero)] {
        assert_eq!(status.code(), Some(1), "runc kill {what}");
        assert!(
            stderr.contains("container not running"),
            "runc kill {what}: {stderr}"
        );
    }
}

/// `kill --all` of a stopped container still reaches what is left in its cgroup: without a
/// PID namespace, a child outlives init.
#[test]
fn kill_all_of_a_stopped_container_reaches_what_is_left_in_its_cgroup() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000 & echo $! > /orphan; exit 0");
    b.drop_namespace("pid");
    let id = unique("orphan");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    let mut orphan = None;
    wait_until(10, "the orphan's pid", || {
        orphan = std::fs::read_to_string(b.rootfs().join("orphan"))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        orphan.is_some()
    });
    // The pid is the container's view, which is the host's without a PID namespace.
    let orphan = orphan.unwrap();
    assert!(!pid_dead(orphan), "the orphan died early");
    rt.ok(&["kill", "--all", &id, "KILL"]);
    wait_until(10, "kill --all to reach the orphan", || pid_dead(orphan));
    rt.ok(&["delete", &id]);
}
