//! The seccomp profile of a real `create`: cached by the text of config.json's
//! `linux.seccomp`, and what a cache hit must still do (enforce the filter, hand a NOTIFY
//! listener to its agent) and must never do (accept a profile that failed once).

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use common::*;

/// The compiled filters in the runtime's cache, with their modification times.
fn cached(rt: &Runtime) -> Vec<(PathBuf, std::time::SystemTime)> {
    let Ok(dir) = std::fs::read_dir(rt.root.path().join(".seccomp-cache")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = dir
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bpf"))
        .map(|p| {
            let t = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, t)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_filter_from_the_cache_is_enforced_like_a_fresh_one() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("mkdir /tmp/made 2>&1; echo rc=$?; pwd");
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    let first = rt.output_of(&b);
    let after_first = cached(&rt);
    assert_eq!(after_first.len(), 1, "one filter cached: {after_first:?}");
    let second = rt.output_of(&b);
    // The same file, not compiled and stored again: the second run was a hit.
    assert_eq!(cached(&rt), after_first);
    for out in [&first, &second] {
        assert!(
            out.contains("Permission denied"),
            "EACCES from the filter: {out}"
        );
        assert!(out.contains("rc=1"), "{out}");
        assert!(out.ends_with("/\n"), "other syscalls work: {out}");
    }
}

#[test]
fn a_profile_that_fails_is_refused_every_time_and_never_cached() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]
    });
    b.write();
    let bundle = b.path().to_str().unwrap().to_string();
    for _ in 0..2 {
        let id = unique("badprofile");
        let err = rt.fails(&["run", "--bundle", &bundle, &id]);
        assert!(err.contains("SCMP_ACT_BOGUS"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    assert_eq!(cached(&rt), Vec::new());
    // A profile the compiler refuses after a clean parse (an errnoRet over 16 bits): also
    // never cached, also on the second try.
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]
    });
    b.write();
    for _ in 0..2 {
        let err = rt.fails(&["run", "--bundle", &bundle, &unique("badrule")]);
        assert!(err.contains("errnoRet 70000 does not fit"), "{err}");
    }
    assert_eq!(cached(&rt), Vec::new());
}

#[test]
fn a_notify_profile_hands_its_listener_to_the_agent_also_from_the_cache() {
    let rt = Runtime::new();
    let dir = TempDir::new("agent");
    let path = dir.path().join("agent.sock");
    let socket = UnixListener::bind(&path).unwrap();
    let mut b = Bundle::sh("pwd");
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": path,
        "listenerMetadata": "hello agent",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]
    });
    for round in ["compiled", "cached"] {
        let id = unique("notify");
        rt.create(&b, &id);
        let (state, listener) = seccomp_agent_accept(&socket);
        rt.ok(&["delete", "--force", &id]);
        assert_eq!(state["metadata"], "hello agent", "{round}: {state}");
        assert_eq!(state["state"]["id"], id.as_str(), "{round}: {state}");
        assert_eq!(state["fds"], serde_json::json!(["seccompFd"]), "{round}");
        // A seccomp listener: anon_inode:seccomp notify.
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap();
        assert!(
            link.to_string_lossy().contains("seccomp"),
            "{round}: {}",
            link.display()
        );
        assert_eq!(cached(&rt).len(), 1, "{round}");
    }
}
