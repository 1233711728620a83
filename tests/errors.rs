//! Errors: each bad input fails with exit 1 and one line naming what is wrong, and leaves no
//! state directory, cgroup or process behind.

mod common;

use common::*;
use serde_json::json;

/// Runs `create` of the bundle as a fresh id, asserts exit 1 and that nothing is left;
/// returns stderr.
fn create_fails(rt: &Runtime, b: &Bundle) -> String {
    let id = unique("err");
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr: {err}"
    );
    assert!(err.starts_with("rind: "), "{err}");
    assert_nothing_left(rt, &id);
    err
}

fn assert_nothing_left(rt: &Runtime, id: &str) {
    assert!(!rt.root.path().join(id).exists(), "state dir left for {id}");
    for d in default_cgroup_dirs(id) {
        assert!(!d.exists(), "cgroup left: {}", d.display());
    }
    wait_until(5, "container processes to go", || {
        processes_with_arg(id).is_empty()
    });
}

#[test]
fn config_json_with_a_syntax_error_is_refused_with_its_position() {
    let rt = Runtime::new();
    let b = Bundle::new();
    std::fs::write(
        b.path().join("config.json"),
        "{\"ociVersion\": \"1.2.0\",\n  \"process\": {",
    )
    .unwrap();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("parse") && err.contains("config.json"),
        "{err}"
    );
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn config_json_with_a_wrong_type_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["args"] = json!("sh -c true");
    b.write();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("config.json") && err.contains("invalid type"),
        "{err}"
    );
}

#[test]
fn a_missing_config_json_is_named() {
    let rt = Runtime::new();
    let b = Bundle::new();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains(&format!("{}/config.json", b.path().display()))
            && err.contains("no such file or directory"),
        "{err}"
    );
}

#[test]
fn a_missing_rootfs_is_named() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["root"]["path"] = json!("no-such-rootfs");
    b.write();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("no-such-rootfs") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn invalid_ids_are_refused_before_anything_is_made() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    let long = "x".repeat(256);
    for id in ["", ".", "a\nb", "semi;colon", long.as_str()] {
        let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), id]);
        assert!(err.contains("invalid container id"), "{id:?}: {err}");
    }
    let entries: Vec<_> = std::fs::read_dir(rt.root.path())
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn a_duplicate_id_fails_even_after_the_first_container_stopped() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    b.write();
    let id = unique("dupstop");
    rt.ok(&["run", "--keep", "--bundle", b.path().to_str().unwrap(), &id]);
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        rt.status(&id),
        "stopped",
        "the first container is untouched"
    );
}

#[test]
fn a_missing_binary_fails_create_with_no_such_file() {
    let rt = Runtime::new();
    for args in [json!(["/no/such/binary"]), json!(["no-such-binary"])] {
        let mut b = Bundle::new();
        b.config["process"]["args"] = args.clone();
        b.write();
        let err = create_fails(&rt, &b);
        assert!(err.contains("no such file or directory"), "{args}: {err}");
        assert!(
            err.contains("no-such-binary") || err.contains("/no/such/binary"),
            "{err}"
        );
    }
}

#[test]
fn a_non_executable_binary_fails_create_with_permission_denied() {
    let rt = Runtime::new();
    for target in ["/etc/passwd", "/etc"] {
        let mut b = Bundle::new();
        b.config["process"]["args"] = json!([target]);
        b.write();
        let err = create_fails(&rt, &b);
        assert!(err.contains("permission denied"), "{target}: {err}");
        assert!(err.contains(target), "{err}");
    }
}

#[test]
fn an_unknown_capability_is_named() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_MAKE_COFFEE"));
    b.write();
    let err = create_fails(&rt, &b);
    assert!(err.contains("CAP_MAKE_COFFEE"), "{err}");
}

#[test]
fn a_bind_mount_with_a_missing_source_names_the_path_and_leaves_nothing() {
    let rt = Runtime::new();
    let missing = std::env::temp_dir().join(unique("rind-missing-source"));
    let mut b = Bundle::new();
    b.add_bind(&missing, "/data", &[]);
    b.write();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains(missing.to_str().unwrap()) && err.contains("no such file or directory"),
        "{err}"
    );
}

#[test]
fn a_failing_mount_names_the_step_and_the_target() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.add_mount(
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                       "options": ["size=not-a-size"]}),
    );
    b.write();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("mount tmpfs on /data") && err.contains("invalid argument"),
        "{err}"
    );
}

#[test]
fn a_cwd_that_is_not_a_directory_is_named() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["cwd"] = json!("/etc/passwd");
    b.write();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("/etc/passwd") && err.contains("not a directory"),
        "{err}"
    );
}

#[test]
fn json_log_gets_one_error_line_naming_the_problem() {
    let rt = Runtime::new();
    let log = TempDir::new("log");
    let log_file = log.path().join("rind.log");
    let b = Bundle::new(); // no config.json
    let id = unique("jsonlog");
    let err = rt.fails(&[
        "--log",
        log_file.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let text = std::fs::read_to_string(&log_file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "error");
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("config.json") && msg.contains(&id), "{msg}");
    assert!(err.contains(msg), "stderr has the same message: {err}");
    let time = v["time"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
}

#[test]
fn sysctls_outside_the_containers_namespaces_are_refused() {
    let rt = Runtime::new();
    for (key, drop, word) in [
        ("net.ipv4.ip_forward", "network", "network"),
        ("kernel.shmmax", "ipc", "IPC"),
        ("kernel.hostname", "uts", "UTS"),
    ] {
        let mut b = Bundle::sh("true");
        b.drop_namespace(drop);
        if drop == "uts" {
            b.config["hostname"] = json!(null);
        }
        b.config["linux"]["sysctl"] = json!({ key: "1" });
        b.write();
        let err = create_fails(&rt, &b);
        assert!(err.contains(key) && err.contains(word), "{key}: {err}");
    }
}

/// Runs `rind create` for `b` without CAP_SYS_RESOURCE, whatever the test process holds: the
/// child drops it from its bounding set before it executes rind, so rind (root) gets every
/// capability but that one. With `oom_score_adj`, the child first writes that value to its own
/// `oom_score_adj`; written with CAP_SYS_RESOURCE, it becomes the floor below which the kernel
/// refuses any later write made without the capability.
fn create_fails_without_cap_sys_resource(b: &Bundle, oom_score_adj: Option<i32>) -> String {
    use std::os::unix::process::CommandExt;
    // linux/capability.h; libc does not name it.
    const CAP_SYS_RESOURCE: libc::c_ulong = 24;
    let rt = Runtime::new();
    let id = unique("err");
    let mut cmd = rt.command(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let adj = oom_score_adj.map(|v| std::ffi::CString::new(v.to_string()).unwrap());
    // SAFETY: only async-signal-safe calls (open, write, close, prctl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(adj) = &adj {
                let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, adj.as_ptr().cast(), adj.as_bytes().len()) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // stderr through a file: were create to succeed, the waiting init would hold a pipe open.
    let err_path = rt.root.path().join(".err");
    let status = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(status.code(), Some(1), "create should fail: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr: {err}"
    );
    assert_nothing_left(&rt, &id);
    err
}

#[test]
fn an_rlimit_above_the_hard_limit_is_refused_without_cap_sys_resource() {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let mut b = Bundle::new();
    b.config["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]);
    b.write();
    let err = create_fails_without_cap_sys_resource(&b, None);
    assert!(
        err.contains("RLIMIT_NOFILE") && err.contains("not permitted"),
        "{err}"
    );
}

#[test]
fn an_oom_score_adj_below_the_current_one_is_refused_without_cap_sys_resource() {
    let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if current == -1000 {
        skip("this test process's oom_score_adj is already -1000, the lowest");
        return;
    }
    let mut b = Bundle::new();
    b.config["process"]["oomScoreAdj"] = json!(current - 1);
    b.write();
    // Rewriting the current value makes it the floor when the test holds CAP_SYS_RESOURCE; when
    // it does not, the floor is already the current value or above it.
    let err = create_fails_without_cap_sys_resource(&b, Some(current));
    assert!(
        err.contains(&format!("write oom_score_adj {}", current - 1))
            && err.contains("permission denied"),
        "{err}"
    );
}

#[test]
fn a_cgroups_path_that_climbs_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["cgroupsPath"] = json!("../../escape");
    b.write();
    let err = create_fails(&rt, &b);
    assert!(err.contains("../../escape") && err.contains(".."), "{err}");
}

/// `idmap` without mappings of its own takes the container's user namespace: without one, there
/// is nothing to map to, and the mount is refused rather than made plain.
#[test]
fn an_idmap_mount_without_mappings_or_user_namespace_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": "/tmp",
                       "options": ["rbind", "idmap"]}),
    );
    b.write();
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("/data") && err.contains("idmap") && err.contains("has none"),
        "{err}"
    );
}

/// `process.apparmorProfile` is applied as runc applies it (`exec <profile>` to the task's
/// AppArmor exec attribute). On a host without AppArmor the kernel refuses that write, and
/// create fails naming the profile and the file, as runc's does.
#[test]
fn an_apparmor_profile_is_applied_or_the_failure_is_named() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/attr/current");
    b.config["process"]["apparmorProfile"] = json!("unconfined");
    b.write();
    if apparmor {
        // "unconfined" exists wherever AppArmor does.
        let out = rt.output_of(&b);
        assert!(out.contains("unconfined"), "{out}");
        return;
    }
    let err = create_fails(&rt, &b);
    assert!(
        err.contains("AppArmor profile \"unconfined\"") && err.contains("/proc/self/attr/"),
        "{err}"
    );
}

/// `linux.personality` LINUX32: the program runs in the 32-bit execution domain, so busybox's
/// `uname -m` reports i686 (it would say x86_64 without). Flags are refused: the spec defines
/// none.
#[test]
fn personality_linux32_applies_and_flags_are_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("uname -m");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.write();
    assert_eq!(rt.output_of(&b).trim(), "i686");
    b.config["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]});
    b.write();
    let err = create_fails(&rt, &b);
    assert!(err.contains("linux.personality flags"), "{err}");
}
