//! From a prepared process to its program: the last steps of init and `exec`. Nothing there
//! may fail silently (a failure before `create` returns fails `create`, one after the release
//! fails `start`), an old seccomp profile must not break them, a non-root program can reopen
//! its own stdio and terminal, the working directory is entered before the user switch, and
//! startContainer hooks run as in runc (under the filter, with nothing but stdio).

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;

use common::*;
use serde_json::{Value, json};

/// Docker's default profile without `missing` (from every rule): what a profile written before
/// those syscalls existed looks like. Everything not listed fails with EPERM.
fn old_profile(missing: &[&str]) -> Value {
    let mut p = serde_json::to_value(rind::linux::seccomp::default_profile()).unwrap();
    let rules = p["syscalls"].as_array_mut().unwrap();
    for r in rules.iter_mut() {
        let names = r["names"].as_array_mut().unwrap();
        names.retain(|n| !missing.contains(&n.as_str().unwrap()));
    }
    rules.retain(|r| !r["names"].as_array().unwrap().is_empty());
    p
}

/// runtime-tools' profile has no close_range (and no openat2, clone3, faccessat2); Docker's
/// before 20.10 lack the same.
const NEWER_SYSCALLS: &[&str] = &["close_range", "openat2", "clone3", "faccessat2"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_profile_without_close_range_or_openat2_runs_the_container_and_exec() {
    let rt = Runtime::new();
    for nnp in [false, true] {
        for private_pid in [true, false] {
            let mut b = Bundle::sh("pwd; echo ran");
            b.config["linux"]["seccomp"] = old_profile(NEWER_SYSCALLS);
            b.config["process"]["noNewPrivileges"] = json!(nnp);
            b.config["process"]["cwd"] = json!("/etc");
            if !private_pid {
                b.drop_namespace("pid");
            }
            let out = rt.output_of(&b);
            assert_eq!(out, "/etc\nran\n", "nnp {nnp}, pid namespace {private_pid}");
        }
        let mut b = Bundle::sh("sleep 1000");
        b.config["linux"]["seccomp"] = old_profile(NEWER_SYSCALLS);
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        let id = unique("old");
        rt.create(&b, &id);
        rt.ok(&["start", &id]);
        let out = rt.ok(&["exec", "--cwd", "/tmp", "--user", "1000", &id, "pwd"]);
        assert_eq!(out, "/tmp\n", "exec, nnp {nnp}");
        rt.ok(&["delete", "--force", &id]);
    }
}

/// A file with the execute bit that the kernel cannot execute: every check before `start`
/// passes, and only the execve fails.
fn bundle_with_garbage_program(rt_pid_ns: bool) -> Bundle {
    let mut b = Bundle::new();
    let path = b.rootfs().join("garbage");
    std::fs::write(&path, b"\x01\x02\x03 not a program").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.config["process"]["args"] = json!(["/garbage"]);
    if !rt_pid_ns {
        b.drop_namespace("pid");
    }
    b.write();
    b
}

#[test]
fn a_program_the_kernel_cannot_execute_fails_start_with_the_reason() {
    let rt = Runtime::new();
    // With the exec stub (a PID namespace of its own) and without (init waits itself).
    for pid_ns in [true, false] {
        let b = bundle_with_garbage_program(pid_ns);
        let id = unique("enoexec");
        rt.create(&b, &id);
        let log = rt.root.path().join(format!("{id}.log"));
        let out = rt.run(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "start",
            &id,
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "pid ns {pid_ns}: {err}");
        assert!(err.contains("exec format error"), "pid ns {pid_ns}: {err}");
        assert!(err.contains("/garbage"), "pid ns {pid_ns}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        let logged = std::fs::read_to_string(&log).unwrap();
        let line: Value = serde_json::from_str(logged.trim_end()).unwrap();
        assert_eq!(line["level"], "error", "{logged}");
        assert!(
            line["msg"].as_str().unwrap().contains("exec format error"),
            "{logged}"
        );
        rt.wait_status(&id, "stopped");
        rt.ok(&["delete", &id]);

        // `run` says the same and removes the container.
        let id = unique("enoexec");
        let out = rt.run_bundle(&b, &id);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("exec format error"));
        assert!(!rt.root.path().join(&id).exists());
    }
}

#[test]
fn a_profile_that_forbids_the_execve_fails_create_or_start_never_neither() {
    let rt = Runtime::new();
    for pid_ns in [true, false] {
        let mut b = Bundle::sh("echo ran");
        b.config["process"]["noNewPrivileges"] = json!(true);
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO"}]
        });
        if !pid_ns {
            b.drop_namespace("pid");
        }
        b.write();
        let id = unique("noexec");
        let create = rt.run(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
        let failure = if create.status.success() {
            // Init waits on exec.fifo itself and executes the program after the release.
            assert!(
                !pid_ns,
                "with the exec stub, its execveat is part of create"
            );
            let start = rt.run(&["start", &id]);
            assert_eq!(start.status.code(), Some(1));
            let _ = rt.run(&["delete", "--force", &id]);
            text(&start.stderr)
        } else {
            assert_eq!(create.status.code(), Some(1));
            assert!(!rt.root.path().join(&id).exists());
            text(&create.stderr)
        };
        assert!(
            failure.contains("operation not permitted") && failure.contains("exec"),
            "pid ns {pid_ns}: {failure}"
        );
    }
}

#[test]
fn a_failing_start_container_hook_fails_start_with_its_reason() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("echo ran");
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}
    ]});
    b.write();
    let id = unique("hook");
    rt.create(&b, &id);
    let err = rt.fails(&["start", &id]);
    assert!(err.contains("startContainer"), "{err}");
    assert!(err.contains("3"), "{err}");
    let _ = rt.run(&["delete", "--force", &id]);
}

/// Runs `rind args` with stdin, stdout and stderr as pipes (as engines pass them), feeding
/// `input`.
fn with_pipes(rt: &Runtime, args: &[&str], input: &str) -> std::process::Output {
    let mut child = rt
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

const REOPEN: &str = "echo out > /dev/stdout && echo err > /dev/stderr && cat /dev/stdin";

#[test]
fn a_non_root_process_can_reopen_its_stdio_pipes() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(REOPEN);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let id = unique("stdio");
    let out = with_pipes(
        &rt,
        &["run", "--bundle", b.path().to_str().unwrap(), &id],
        "in\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\nin\n");
    assert!(text(&out.stderr).contains("err"), "{}", text(&out.stderr));

    let b = Bundle::sh("sleep 1000");
    b.write();
    let id = unique("stdio");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = with_pipes(
        &rt,
        &["exec", "--user", "1000:1000", &id, "sh", "-c", REOPEN],
        "in\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\nin\n");
    rt.ok(&["delete", "--force", &id]);
}

/// A regular file (here: the file the harness captures stdout in) is the caller's, on the
/// host: it is not handed to the container's user (runc would), so the user cannot reopen it.
#[test]
fn a_host_file_given_as_stdio_stays_the_callers() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("echo x > /dev/stdout || echo refused");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let out_file = rt.root.path().join("captured");
    let status = rt
        .command(&[
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &unique("file"),
        ])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let meta = std::fs::metadata(&out_file).unwrap();
    assert_eq!(
        meta.uid(),
        0,
        "the host file was given to the container's user"
    );
    assert!(
        std::fs::read_to_string(&out_file)
            .unwrap()
            .contains("refused")
    );
}

/// runc: the terminal belongs to the process's uid and keeps devpts's `tty` group (gid=5 in
/// the default spec's devpts options).
#[test]
fn the_terminal_of_a_non_root_process_is_the_users_with_the_tty_group() {
    let rt = Runtime::new();
    let script = "stat -c '%u %g' $(tty) && echo x > $(tty) && echo wrote";
    let mut b = Bundle::sh(script);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let id = unique("tty");
    let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    let stdout = text(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.starts_with("1000 5\n"), "{stdout:?}");
    assert!(stdout.contains("wrote"), "{stdout:?}");

    let b = Bundle::sh("sleep 1000");
    b.write();
    let id = unique("tty");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = rt.run(&["exec", "-t", "--user", "1000", &id, "sh", "-c", script]);
    let stdout = text(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.starts_with("1000 5\n"), "{stdout:?}");
    assert!(stdout.contains("wrote"), "{stdout:?}");
    rt.ok(&["delete", "--force", &id]);
}

/// runc enters the cwd before it drops privileges: a user who could not reach it still
/// starts there.
#[test]
fn exec_as_a_user_who_cannot_reach_the_cwd_starts_in_it() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    std::fs::set_permissions(
        b.rootfs().join("root"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let id = unique("cwd");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = rt.ok(&["exec", "--user", "1000", "--cwd", "/root", &id, "pwd"]);
    assert_eq!(out, "/root\n");
    let err = rt.run(&["exec", "--user", "1000", "--cwd", "/root", &id, "ls"]);
    assert!(!err.status.success(), "the user can list /root after all");
    rt.ok(&["delete", "--force", &id]);
}

/// A startContainer hook runs in the container after the seccomp filter is in place (runc's
/// order, also with no_new_privs, where the filter goes in last).
#[test]
fn start_container_hooks_run_under_the_seccomp_filter() {
    let rt = Runtime::new();
    for nnp in [true, false] {
        let mut b = Bundle::sh("true");
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
        b.config["hooks"] = json!({"startContainer": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "mkdir /hook-made 2>/dev/null; echo $? > /hook-status"]
        }]});
        rt.output_of(&b);
        let status = std::fs::read_to_string(b.rootfs().join("hook-status")).unwrap();
        assert_ne!(
            status.trim(),
            "0",
            "nnp {nnp}: the hook ran without the filter"
        );
        assert!(!b.rootfs().join("hook-made").exists());
    }
}

/// runc's seccomp-notify.bats: a startContainer hook sees exactly stdio (plus the descriptor
/// `ls` opens to list them), with a notify listener in play or not.
#[test]
fn start_container_hooks_get_only_stdio() {
    let rt = Runtime::new();
    let agent = TempDir::new("agent");
    let socket_path = agent.path().join("agent.sock");
    let socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    for notify in [false, true] {
        let mut b = Bundle::sh("true");
        if notify {
            b.config["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": socket_path,
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
            });
        }
        b.config["hooks"] = json!({"startContainer": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "ls /proc/self/fd/ > /hook-fds"]
        }]});
        b.write();
        let id = unique("hookfd");
        rt.create(&b, &id);
        if notify {
            let _listener = seccomp_agent_accept(&socket);
        }
        rt.ok(&["start", &id]);
        let fds = std::fs::read_to_string(b.rootfs().join("hook-fds")).unwrap();
        assert_eq!(
            fds.split_whitespace().collect::<Vec<_>>(),
            ["0", "1", "2", "3"],
            "notify {notify}"
        );
        rt.ok(&["delete", "--force", &id]);
    }
}

/// Runs `rind args` with `file` as its fd 3 (not close-on-exec), as a caller of
/// `--preserve-fds 1` passes it; returns stdout.
fn with_fd_3(rt: &Runtime, args: &[&str], file: &std::path::Path) -> String {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let f = std::fs::File::open(file).unwrap();
    let raw = f.as_raw_fd();
    let mut cmd = rt.command(args);
    // SAFETY: dup2 and fcntl are async-signal-safe; the closure only makes those calls.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it then.
            let r = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.stderr(Stdio::piped()).output().unwrap();
    drop(f);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `--preserve-fds N`: fds 3 .. 3+N reach the program (open, readable), and nothing else does.
#[test]
fn preserved_fds_reach_the_program_and_nothing_else_does() {
    let rt = Runtime::new();
    let file = rt.root.path().join("passed");
    std::fs::write(&file, "passed on\n").unwrap();
    let script = "cat <&3; ls /proc/self/fd/";
    for pid_ns in [true, false] {
        let mut b = Bundle::sh(script);
        if !pid_ns {
            b.drop_namespace("pid");
        }
        b.write();
        let id = unique("preserve");
        let out = with_fd_3(
            &rt,
            &[
                "run",
                "--preserve-fds",
                "1",
                "--bundle",
                b.path().to_str().unwrap(),
                &id,
            ],
            &file,
        );
        // ls lists the fds of its own process: the preserved 3, and its listing's 4.
        assert_eq!(out, "passed on\n0\n1\n2\n3\n4\n", "pid ns {pid_ns}");
    }
    let b = Bundle::sh("sleep 1000");
    b.write();
    let id = unique("preserve");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = with_fd_3(
        &rt,
        &["exec", "--preserve-fds", "1", &id, "sh", "-c", script],
        &file,
    );
    assert_eq!(out, "passed on\n0\n1\n2\n3\n4\n", "exec");
    rt.ok(&["delete", "--force", &id]);
}
