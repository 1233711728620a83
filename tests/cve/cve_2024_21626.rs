//! CVE-2024-21626: a working directory that leads out of the container through a descriptor
//! the runtime left open (`/proc/self/fd/N`). runc leaked its cgroup directory fd into init and
//! `exec`; `chdir` followed the magic link to a host directory, and the program started there:
//! `../../..` was the host's root. rind's state-directory lock (fd 3 of `exec`) and cgroup
//! directory (fd 6) were found to work the same way.
//!
//! Each attack is tried for every N from 3 to 20, through each way a cwd reaches a process:
//! `exec --cwd`, `exec --process`, `process.cwd` of the container (create), and a plain `exec`
//! after the container replaced its own working directory with a symlink to the magic link.
//! The attacker's program reads a file that exists only on the host and writes a file beside
//! it; the host is reached if either works. A refused cwd (exec or create failing) is a pass.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::attacker;
use crate::common::*;

/// The host's side of the attack: a secret in a directory the container cannot see, and a
/// copy in the runtime's state root (where a leaked state-directory fd leads through `..`,
/// even once its mount was detached from the container's view by pivot_root).
struct HostTarget {
    dir: TempDir,
    state_root: PathBuf,
    secret: String,
}

impl HostTarget {
    fn new(rt: &Runtime) -> Self {
        let dir = TempDir::new("cve-2024-21626-host");
        let secret = unique("host-only-secret");
        std::fs::write(dir.path().join("secret"), &secret).unwrap();
        let state_root = rt.root.path().to_path_buf();
        std::fs::write(state_root.join(".cve-secret"), &secret).unwrap();
        HostTarget {
            dir,
            state_root,
            secret,
        }
    }

    /// The attacker's shell script: read and write beside the working directory's parent (a
    /// container's state directory is one below the state root), then climb to the root the
    /// working directory leads to and do the same by the host path.
    fn script(&self) -> String {
        let host = self.dir.path().strip_prefix("/").unwrap().display();
        format!(
            "cat ../.cve-secret 2>/dev/null; echo escaped > ../.cve-written 2>/dev/null; \
             cd ../../../../../../../../../../../../ 2>/dev/null; \
             cat {host}/secret 2>/dev/null; echo escaped > {host}/written 2>/dev/null; \
             echo attempted"
        )
    }

    /// Fails the test if `output` (stdout of the attacker) or the host shows that it got out.
    fn assert_not_reached(&self, how: &str, output: &str) {
        assert!(
            !output.contains(&self.secret),
            "{how}: the container read a host file: {output}"
        );
        for written in [
            self.dir.path().join("written"),
            self.state_root.join(".cve-written"),
        ] {
            assert!(
                !written.exists(),
                "{how}: the container wrote a host file: {}",
                written.display()
            );
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running container whose process sleeps, with `/work` as its cwd (made in the rootfs).
fn running_container(rt: &Runtime) -> (Bundle, String) {
    let mut b = Bundle::sh("sleep 1000");
    std::fs::create_dir_all(b.rootfs().join("work")).unwrap();
    b.config["process"]["cwd"] = json!("/work");
    let id = unique("c21626");
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    (b, id)
}

#[test]
fn exec_cwd_through_any_descriptor_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostTarget::new(&rt);
    let (_b, id) = running_container(&rt);
    for n in 3..=20 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = rt.run(&["exec", "--cwd", &cwd, &id, "sh", "-c", &host.script()]);
        host.assert_not_reached(&format!("exec --cwd {cwd}"), &text(&out.stdout));
    }
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_process_file_with_a_magic_link_cwd_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostTarget::new(&rt);
    let (b, id) = running_container(&rt);
    for n in 3..=20 {
        let mut process = b.config["process"].clone();
        process["args"] = json!(["sh", "-c", host.script()]);
        process["cwd"] = json!(format!("/proc/self/fd/{n}"));
        let file = b.path().join(format!("process-{n}.json"));
        std::fs::write(&file, process.to_string()).unwrap();
        let out = rt.run(&["exec", "--process", file.to_str().unwrap(), &id]);
        host.assert_not_reached(&format!("exec --process, cwd fd {n}"), &text(&out.stdout));
    }
    rt.ok(&["delete", "--force", &id]);
}

/// The container itself turns its working directory into a magic link; the admin then runs a
/// plain `exec` (or an engine's `exec --process` with the container's own cwd).
#[test]
fn a_cwd_the_container_replaced_by_a_magic_link_never_leads_exec_out() {
    let rt = Runtime::new();
    let host = HostTarget::new(&rt);
    let (b, id) = running_container(&rt);
    for n in 3..=20 {
        // The container's own step: what its process could do at any time.
        let swap = format!("rm -rf /work && ln -sfn /proc/self/fd/{n} /work");
        rt.ok(&["exec", "--cwd", "/", &id, "sh", "-c", &swap]);
        let out = rt.run(&["exec", &id, "sh", "-c", &host.script()]);
        host.assert_not_reached(&format!("plain exec, /work -> fd {n}"), &text(&out.stdout));

        let mut process = b.config["process"].clone();
        process["args"] = json!(["sh", "-c", host.script()]);
        let file = b.path().join("process.json");
        std::fs::write(&file, process.to_string()).unwrap();
        let out = rt.run(&["exec", "--process", file.to_str().unwrap(), &id]);
        host.assert_not_reached(
            &format!("exec --process, /work -> fd {n}"),
            &text(&out.stdout),
        );
    }
    rt.ok(&["delete", "--force", &id]);
}

/// A bundle whose process runs the attacker's script from `cwd`, where `prepare` may plant a
/// symlink in the rootfs first.
fn attacker_bundle(host: &HostTarget, cwd: &str, no_pid_ns: bool) -> Bundle {
    let mut b = Bundle::sh(&host.script());
    b.config["process"]["cwd"] = json!(cwd);
    if no_pid_ns {
        // Init then reaches its program without the exec stub (as rind itself, sealed).
        b.drop_namespace("pid");
    }
    b
}

fn run_attack(rt: &Runtime, host: &HostTarget, b: &Bundle, how: &str) {
    let id = unique("c21626");
    let out = rt.run_bundle(b, &id);
    host.assert_not_reached(how, &text(&out.stdout));
    let _ = rt.run(&["delete", "--force", &id]);
}

#[test]
fn a_container_cwd_through_any_descriptor_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostTarget::new(&rt);
    for no_pid_ns in [false, true] {
        for n in 3..=20 {
            let cwd = format!("/proc/self/fd/{n}");
            let b = attacker_bundle(&host, &cwd, no_pid_ns);
            run_attack(
                &rt,
                &host,
                &b,
                &format!("create, cwd {cwd}, no pid ns: {no_pid_ns}"),
            );
        }
    }
}

#[test]
fn a_container_cwd_symlinked_to_a_magic_link_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostTarget::new(&rt);
    for n in 3..=20 {
        let b = attacker_bundle(&host, "/work", false);
        let link: PathBuf = b.rootfs().join("work");
        std::os::unix::fs::symlink(Path::new(&format!("/proc/self/fd/{n}")), &link).unwrap();
        run_attack(
            &rt,
            &host,
            &b,
            &format!("create, /work -> /proc/self/fd/{n}"),
        );
    }
}

/// What a process holds when the container could first name a path: `exec`'s process, and a
/// created container's init, keep nothing of the runtime's but what they need, and nothing
/// that is a directory.
#[test]
fn exec_and_init_hold_no_directory_of_the_runtime() {
    let rt = Runtime::new();
    let (_b, id) = running_container(&rt);
    let out = rt.ok(&["exec", &id, "ls", "/proc/self/fd/"]);
    let fds: Vec<&str> = out.split_whitespace().collect();
    // ls's own listing descriptor is 3; nothing else beyond stdio.
    assert_eq!(fds, ["0", "1", "2", "3"], "{out}");
    rt.ok(&["delete", "--force", &id]);

    // A created container without the exec stub (no PID namespace): init is rind itself until
    // start, and what it holds is visible from the host.
    let mut b = Bundle::sh("true");
    b.drop_namespace("pid");
    let id = unique("c21626");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let dir = format!("/proc/{pid}/fd");
    let mut held = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let target = std::fs::read_link(entry.path()).unwrap();
        let n: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
        let meta = std::fs::metadata(entry.path());
        assert!(
            !meta.is_ok_and(|m| m.is_dir()),
            "init holds fd {n}, a directory: {}",
            target.display()
        );
        held.push(format!("{n} -> {}", target.display()));
    }
    // stdio, the channel and exec.fifo.
    assert_eq!(held.len(), 5, "{held:?}");
    assert!(held.iter().any(|h| h.ends_with("exec.fifo")), "{held:?}");
    rt.ok(&["delete", "--force", &id]);
}

/// The race: the cwd is a directory on a volume another container writes, which swaps it for
/// a symlink to `/proc/self/fd/N` and back, again and again. A runtime that checks the path
/// when it prepares the root filesystem and follows it later with `chdir` enters the magic
/// link whenever the swap falls between the two.
#[test]
fn a_cwd_swapped_for_a_magic_link_during_create_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostTarget::new(&rt);
    let shared = TempDir::new("cve-2024-21626-volume");
    std::fs::create_dir(shared.path().join("work")).unwrap();
    for n in 3..=12 {
        std::os::unix::fs::symlink(
            format!("/proc/self/fd/{n}"),
            shared.path().join(format!("fd{n}")),
        )
        .unwrap();
    }
    let mut a = Bundle::new();
    attacker::install(&a.rootfs());
    a.add_bind(shared.path(), "/shared", &[]);
    a.config["process"]["args"] = json!(["/attacker", "swap", "9", "/shared"]);
    a.write();
    let swapper = unique("c21626");
    rt.ok(&[
        "run",
        "-d",
        "--bundle",
        a.path().to_str().unwrap(),
        &swapper,
    ]);

    let mut v = Bundle::sh(&host.script());
    v.add_bind(shared.path(), "/shared", &[]);
    v.config["process"]["cwd"] = json!("/shared/work");
    v.write();
    // Long enough to win on a runtime that enters the cwd by path (a build from before the
    // fix lost within 70 runs, about 3 s, in 5 of 6 tries).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(7);
    let (mut runs, mut started) = (0, 0);
    while std::time::Instant::now() < deadline {
        let id = unique("c21626");
        let out = rt.run_bundle(&v, &id);
        let stdout = text(&out.stdout);
        started += usize::from(stdout.contains("attempted"));
        host.assert_not_reached(&format!("run {runs} with a swapped cwd"), &stdout);
        let _ = rt.run(&["delete", "--force", &id]);
        runs += 1;
    }
    let swapped = shared.path().join("swapped");
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !swapped.exists() && std::time::Instant::now() < limit {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let swaps = std::fs::read_to_string(&swapped).unwrap_or_default();
    eprintln!("{runs} runs, {started} reached their program; swapper: {swaps}");
    assert!(
        swaps.starts_with("done"),
        "the swapper did not run: {swaps:?}"
    );
    rt.ok(&["delete", "--force", &swapper]);
}
