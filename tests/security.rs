//! Properties that keep a container from reaching the host through the runtime itself.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

/// What `/proc/<pid>/exe` points at, and that it cannot be opened for writing.
fn assert_exe_is_sealed(pid: i64) {
    let exe = format!("/proc/{pid}/exe");
    let target = std::fs::read_link(&exe).unwrap();
    assert_ne!(target, rind_bin(), "{exe} is the host's rind binary");
    // Two seals are possible: a read-only overlayfs view refuses the open with EROFS; a memfd
    // (the exec stub, or rind's copy where overlayfs cannot stack on the binary's filesystem)
    // is sealed against writes. ETXTBSY alone proves nothing: it lasts only while it runs.
    match std::fs::OpenOptions::new().write(true).open(&exe) {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
        other => {
            assert!(
                target.to_string_lossy().starts_with("/memfd:"),
                "{exe} -> {} is neither read-only nor a memfd (open for writing: {other:?})",
                target.display()
            );
            let f = std::fs::File::open(&exe).unwrap();
            // SAFETY: F_GET_SEALS on an open descriptor.
            let seals =
                unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::F_GET_SEALS) };
            assert!(
                seals >= 0 && seals & libc::F_SEAL_WRITE != 0,
                "{exe}: memfd seals {seals:#x} lack F_SEAL_WRITE"
            );
        }
    }
}

/// CVE-2019-5736, the attack itself: the container's program is a script whose interpreter is
/// `/proc/self/exe`. Had init executed it while `/proc/self/exe` was rind's binary, the kernel
/// would run the host binary as a container process. Through the exec stub it runs the stub
/// again (a loop of execs, harmless), never the host binary.
#[test]
fn a_proc_self_exe_interpreter_never_runs_the_host_binary() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.config["process"]["args"] = serde_json::json!(["/evil"]);
    b.write();
    let id = unique("cve");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    rt.ok(&["start", &id]);
    // Until its first execve, init is a copy of rind and its exe link says so, harmlessly;
    // `start` can return before that (under TCG, well before). Its command line is rind's,
    // naming the container, until then.
    wait_until(10, "init's first execve", || {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| !String::from_utf8_lossy(&c).contains(id.as_str()))
            .unwrap_or(true)
    });
    for _ in 0..20 {
        if let Ok(t) = std::fs::read_link(format!("/proc/{pid}/exe")) {
            assert_ne!(t, rind_bin(), "the container ran the host's rind binary");
            assert!(
                t.to_string_lossy().starts_with("/memfd:rind-exec-stub"),
                "{}",
                t.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_exe_is_sealed(pid);
    rt.ok(&["delete", "--force", &id]);
}

/// Where the stub is not enough (here: no PID namespace of its own, so processes outside the
/// container could look at init before its execve), rind re-executes itself sealed: init's
/// /proc/<pid>/exe, rind's binary until `start`, cannot be written.
#[test]
fn without_a_private_pid_namespace_init_runs_from_a_sealed_rind() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.drop_namespace("pid");
    b.write();
    let id = unique("exe");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    assert_exe_is_sealed(pid);
    // The sealed view is attached to no mount table, so nothing is left behind.
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(!mounts.contains(" overlay "), "{mounts}");
    rt.ok(&["delete", "--force", &id]);
}

/// A seccomp profile may allow execve but deny execveat (an older allow list). Init then
/// reaches its program through the stub's /proc/self/fd path with execve: the container still
/// runs, and still through the stub.
#[test]
fn the_stub_works_under_a_profile_that_denies_execveat() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("readlink /proc/self/exe; echo ran");
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.config["process"]["noNewPrivileges"] = serde_json::json!(true);
    b.write();
    let out = rt.output_of(&b);
    assert!(out.ends_with("ran\n"), "{out}");
    assert!(out.starts_with("/bin/busybox"), "{out}");
}
