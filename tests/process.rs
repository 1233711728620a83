//! The container process: program lookup, environment, cwd, user and groups, umask,
//! capabilities, no_new_privs, rlimits, oom_score_adj, HOME, hostname, domainname, sysctls.

mod common;

use caps::Capability;
use common::*;
use serde_json::{Value, json};

/// A capability set as the kernel's bit mask, printed as names in assertion messages.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Caps(u64);

impl std::fmt::Debug for Caps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = caps::all()
            .into_iter()
            .filter(|c| self.0 & (1u64 << c.index()) != 0)
            .map(|c| c.to_string())
            .collect();
        write!(f, "{names:?}")
    }
}

fn set_of(names: &[&str]) -> Caps {
    Caps(
        names
            .iter()
            .map(|n| 1u64 << n.parse::<Capability>().unwrap().index())
            .fold(0, |a, b| a | b),
    )
}

/// The capability set in a `Cap*:` line of /proc/<pid>/status.
fn decode(status: &str, key: &str) -> Caps {
    let hex = status_field(status, key).unwrap_or_else(|| panic!("{key} in {status}"));
    Caps(u64::from_str_radix(hex, 16).unwrap())
}

struct CapSpec {
    bounding: &'static [&'static str],
    effective: &'static [&'static str],
    inheritable: &'static [&'static str],
    permitted: &'static [&'static str],
    ambient: &'static [&'static str],
}

fn caps_bundle(c: &CapSpec, uid: u32) -> Bundle {
    let mut b = Bundle::sh("grep -E '^(Cap|NoNewPrivs)' /proc/self/status");
    b.config["process"]["user"] = json!({"uid": uid, "gid": uid});
    b.config["process"]["capabilities"] = json!({
        "bounding": c.bounding, "effective": c.effective, "inheritable": c.inheritable,
        "permitted": c.permitted, "ambient": c.ambient,
    });
    b
}

/// What the kernel leaves after execve of a file without file capabilities: the bounding
/// and inheritable sets as set; ambient only where also permitted and inheritable. For root
/// permitted = effective = bounding | inheritable, cut to the permitted set under
/// no_new_privs (the default spec's); for others permitted = effective = ambient.
fn check_caps(status: &str, c: &CapSpec, uid: u32) {
    let nnp = status_field(status, "NoNewPrivs") == Some("1");
    let ambient = Caps(set_of(c.ambient).0 & set_of(c.permitted).0 & set_of(c.inheritable).0);
    assert_eq!(decode(status, "CapBnd"), set_of(c.bounding), "{status}");
    assert_eq!(decode(status, "CapInh"), set_of(c.inheritable), "{status}");
    assert_eq!(decode(status, "CapAmb"), ambient, "{status}");
    let after_exec = if uid == 0 && nnp {
        Caps((set_of(c.bounding).0 | set_of(c.inheritable).0) & set_of(c.permitted).0)
    } else if uid == 0 {
        Caps(set_of(c.bounding).0 | set_of(c.inheritable).0)
    } else {
        ambient
    };
    assert_eq!(decode(status, "CapPrm"), after_exec, "{status}");
    assert_eq!(decode(status, "CapEff"), after_exec, "{status}");
}

const CAPS: CapSpec = CapSpec {
    bounding: &[
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_RAW",
        "CAP_SETUID",
        "CAP_FOWNER",
    ],
    effective: &["CAP_KILL"],
    inheritable: &["CAP_CHOWN", "CAP_NET_RAW"],
    permitted: &["CAP_CHOWN", "CAP_KILL", "CAP_FOWNER"],
    ambient: &["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
};

#[test]
fn capability_sets_are_exactly_the_specs_for_a_user() {
    let rt = Runtime::new();
    let out = rt.output_of(&caps_bundle(&CAPS, 1000));
    check_caps(&out, &CAPS, 1000);
    assert_eq!(decode(&out, "CapAmb"), set_of(&["CAP_CHOWN"]));
}

#[test]
fn capability_sets_are_exactly_the_specs_for_root() {
    let rt = Runtime::new();
    for nnp in [true, false] {
        let mut b = caps_bundle(&CAPS, 0);
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        let out = rt.output_of(&b);
        check_caps(&out, &CAPS, 0);
    }
}

#[test]
fn inheritable_capabilities_beyond_permitted_are_accepted_as_runc_does() {
    let c = CapSpec {
        inheritable: &["CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"],
        ..CAPS
    };
    let rt = Runtime::new();
    let out = rt.output_of(&caps_bundle(&c, 1000));
    check_caps(&out, &c, 1000);
}

#[test]
fn capability_sets_match_runc() {
    let rt = Runtime::new();
    for uid in [1000, 0] {
        let b = caps_bundle(&CAPS, uid);
        let ours = rt.output_of(&b);
        let Some(theirs) = runc_output(&b) else {
            return;
        };
        assert_eq!(ours, theirs, "uid {uid}");
    }
}

#[test]
fn an_ambient_capability_lets_a_user_use_it() {
    let rt = Runtime::new();
    let script = "touch /tmp/f; chown 0:0 /tmp/f 2>&1 && echo chowned; true";
    let mut b = caps_bundle(&CAPS, 1000);
    b.config["process"]["args"] = json!(["sh", "-c", script]);
    b.add_tmpfs("/tmp");
    assert!(rt.output_of(&b).contains("chowned"));
    let mut b = Bundle::sh(script);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.add_tmpfs("/tmp");
    assert!(rt.output_of(&b).contains("Operation not permitted"));
}

#[test]
fn no_new_privileges_sets_the_flag() {
    let rt = Runtime::new();
    for (on, want) in [(true, "1"), (false, "0")] {
        let mut b = Bundle::sh("cat /proc/self/status");
        b.config["process"]["noNewPrivileges"] = json!(on);
        let out = rt.output_of(&b);
        assert_eq!(status_field(&out, "NoNewPrivs"), Some(want), "{on}");
    }
}

#[test]
fn args_are_found_on_the_containers_path() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    std::fs::create_dir_all(b.rootfs().join("opt/tools")).unwrap();
    std::fs::write(
        b.rootfs().join("opt/tools/greet"),
        "#!/bin/sh\necho hello \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        b.rootfs().join("opt/tools/greet"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.config["process"]["args"] = json!(["greet", "world"]);
    b.config["process"]["env"] = json!(["PATH=/opt/tools:/bin"]);
    assert_eq!(rt.output_of(&b), "hello world\n");
}

#[test]
fn env_is_exactly_the_specs_plus_home() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["args"] = json!(["/usr/bin/env"]);
    b.config["process"]["env"] = json!(["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="]);
    let text = rt.output_of(&b);
    let mut got: Vec<&str> = text.lines().collect();
    got.sort();
    assert_eq!(
        got,
        vec!["EMPTY=", "FOO=bar baz", "HOME=/root", "PATH=/bin:/usr/bin"]
    );
}

#[test]
fn the_runtimes_environment_does_not_leak_in() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["args"] = json!(["/usr/bin/env"]);
    b.write();
    let dir = TempDir::new("envout");
    let out_file = std::fs::File::create(dir.path().join("out")).unwrap();
    let status = rt
        .command(&[
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &unique("leak"),
        ])
        .env("RIND_TEST_LEAK", "leaked")
        .stdout(out_file)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(dir.path().join("out")).unwrap();
    assert!(text.contains("TERM=xterm"), "{text}");
    assert!(!text.contains("RIND_TEST_LEAK"), "{text}");
}

#[test]
fn cwd_is_the_working_directory() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("pwd");
    b.config["process"]["cwd"] = json!("/usr/bin");
    assert_eq!(rt.output_of(&b), "/usr/bin\n");
}

#[test]
fn a_missing_cwd_is_created_in_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("pwd; stat -c %a .");
    b.config["process"]["cwd"] = json!("/work/dir");
    assert_eq!(rt.output_of(&b), "/work/dir\n755\n");
    assert!(b.rootfs().join("work/dir").is_dir());
}

#[test]
fn user_gid_and_additional_gids_are_set() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/status; id");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [100, 5]});
    let out = rt.output_of(&b);
    assert_eq!(status_field(&out, "Uid"), Some("1000\t1000\t1000\t1000"));
    assert_eq!(status_field(&out, "Gid"), Some("1000\t1000\t1000\t1000"));
    assert_eq!(status_field(&out, "Groups"), Some("5 100"));
    assert!(
        out.contains("uid=1000(tester) gid=1000(tester) groups=5(tty),100(users)"),
        "{out}"
    );
}

#[test]
fn umask_applies_to_created_files() {
    let rt = Runtime::new();
    for (umask, mode) in [
        (Value::Null, "644"),
        (json!(0o077), "600"),
        (json!(0o002), "664"),
    ] {
        let mut b = Bundle::sh("touch /tmp/f; stat -c %a /tmp/f");
        b.add_tmpfs("/tmp");
        if !umask.is_null() {
            b.config["process"]["user"]["umask"] = umask.clone();
        }
        assert_eq!(rt.output_of(&b).trim(), mode, "umask {umask}");
    }
}

#[test]
fn rlimits_below_the_hard_limit_are_set() {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let (soft_want, hard_want) = (hard.min(4096) / 4, hard.min(4096) / 2);
    let rt = Runtime::new();
    let mut b =
        Bundle::sh("ulimit -n; ulimit -c; grep -E 'open files|core file' /proc/self/limits");
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": soft_want, "hard": hard_want},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]);
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], soft_want.to_string(), "{out}");
    assert_eq!(lines[1], "0", "{out}");
    let files: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        files[3..5],
        [soft_want.to_string(), hard_want.to_string()],
        "{out}"
    );
}

#[test]
fn oom_score_adj_is_written() {
    let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let want = (current + 123).min(1000);
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/oom_score_adj");
    b.config["process"]["oomScoreAdj"] = json!(want);
    assert_eq!(rt.output_of(&b).trim(), want.to_string());
}

#[test]
fn home_comes_from_passwd_unless_set() {
    let rt = Runtime::new();
    for (uid, env_home, want) in [
        (1000, None, "/home/tester"),
        (0, None, "/root"),
        (4242, None, "/"),
        (1000, Some("HOME=/custom"), "/custom"),
    ] {
        let mut b = Bundle::sh("echo $HOME");
        b.config["process"]["user"] = json!({"uid": uid, "gid": uid});
        if let Some(h) = env_home {
            b.config["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!(h));
        }
        assert_eq!(rt.output_of(&b).trim(), want, "uid {uid}");
    }
}

#[test]
fn hostname_and_domainname_are_set_inside_only() {
    let host_name = nix::unistd::gethostname().unwrap();
    let host_domain = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let rt = Runtime::new();
    let mut b = Bundle::sh("hostname; cat /proc/sys/kernel/domainname");
    b.config["hostname"] = json!("box-one");
    b.config["domainname"] = json!("example.test");
    assert_eq!(rt.output_of(&b), "box-one\nexample.test\n");
    assert_eq!(nix::unistd::gethostname().unwrap(), host_name);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        host_domain
    );
}

#[test]
fn namespaced_sysctls_are_written_in_the_container_only() {
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    b.config["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": if host_fwd.trim() == "1" { "0" } else { "1" },
        "kernel.shmmni": "1234",
    });
    let out = rt.output_of(&b);
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    assert_eq!(out, format!("{want_fwd}\n1234\n"));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd
    );
}

#[test]
fn a_host_wide_sysctl_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["linux"]["sysctl"] = json!({"vm.swappiness": "10"});
    let id = unique("sysctl");
    let err = rt.run_fails(&b, &id);
    assert!(
        err.contains("vm.swappiness") && err.contains("not namespaced"),
        "{err}"
    );
    assert!(!rt.root.path().join(&id).exists());
}

/// Every container process without a terminal leads a session of its own (runc calls setsid
/// for each): init is pid 1 of its namespace, so its session id is 1, and an exec'd shell's
/// session id is its own pid. Without setsid they would stay in the caller's session, which is
/// outside the PID namespace and reads as 0 there.
#[test]
fn init_and_exec_processes_lead_their_own_sessions() {
    let rt = Runtime::new();
    let b = Bundle::sh("cut -d' ' -f6 /proc/self/stat > /sid; sleep 1000");
    b.write();
    let id = unique("sid");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    wait_until(10, "init wrote its session id", || {
        std::fs::read_to_string(b.rootfs().join("sid")).is_ok_and(|s| s.ends_with('\n'))
    });
    let init_sid = std::fs::read_to_string(b.rootfs().join("sid")).unwrap();
    assert_eq!(init_sid.trim(), "1");
    let out = rt.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo $(cut -d' ' -f6 /proc/self/stat) $$",
    ]);
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields.len(), 2, "{out}");
    assert_eq!(
        fields[0], fields[1],
        "exec'd shell's session id and pid: {out}"
    );
    assert_ne!(fields[0], "0");
    rt.ok(&["delete", "--force", &id]);
}
