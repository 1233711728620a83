//! Freezing, signalling and removing cgroups through the library, on this host's layout; and
//! the cgroup v2 code paths (eBPF device filter, cgroup.freeze, cgroup.kill) on the cgroup2
//! mount of a hybrid host. Run as root.

mod cgroups_support;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cgroups_support::{TestCgroup, cpu_ns, layout, require_root, run_in, skip, unique};
use nix::sys::signal::Signal;
use rind::cgroups::{self, CgroupPaths, FreezerState, Layout};

#[test]
fn freeze_stops_cpu_use_and_thaw_resumes_it() {
    require_root();
    let t = TestCgroup::new("freeze");
    let _child = run_in(&t, "while :; do :; done");
    std::thread::sleep(Duration::from_millis(200));
    t.cg.set_freezer(FreezerState::Frozen).unwrap();
    assert_eq!(t.cg.freezer().unwrap(), FreezerState::Frozen);
    let frozen_at = cpu_ns(&t);
    std::thread::sleep(Duration::from_millis(400));
    let while_frozen = cpu_ns(&t) - frozen_at;
    assert!(
        while_frozen < 5_000_000,
        "used {while_frozen} ns while frozen"
    );
    t.cg.set_freezer(FreezerState::Thawed).unwrap();
    assert_eq!(t.cg.freezer().unwrap(), FreezerState::Thawed);
    let thawed_at = cpu_ns(&t);
    std::thread::sleep(Duration::from_millis(400));
    assert!(cpu_ns(&t) - thawed_at > 20_000_000, "no cpu use after thaw");
}

#[test]
fn signal_all_delivers_the_signal_to_every_process() {
    require_root();
    let t = TestCgroup::new("signal");
    let mut child = run_in(&t, "exec sleep 30");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(t.cg.pids().unwrap(), vec![child.pid()]);
    t.cg.signal_all(Signal::SIGTERM).unwrap();
    let status = child.wait(Duration::from_secs(5)).expect("sleep ended");
    assert_eq!(status.signal(), Some(15));
}

#[test]
fn sigkill_to_a_frozen_cgroup_does_not_hang() {
    require_root();
    let t = TestCgroup::new("killfrozen");
    let mut a = run_in(&t, "exec sleep 30");
    let mut b = run_in(&t, "while :; do :; done");
    std::thread::sleep(Duration::from_millis(100));
    t.cg.set_freezer(FreezerState::Frozen).unwrap();
    let start = Instant::now();
    t.cg.signal_all(Signal::SIGKILL).unwrap();
    for c in [&mut a, &mut b] {
        let status = c.wait(Duration::from_secs(5)).expect("process died");
        assert_eq!(status.signal(), Some(9));
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(t.cg.freezer().unwrap(), FreezerState::Thawed);
    assert!(t.cg.pids().unwrap().is_empty());
}

#[test]
fn destroy_after_sigkill_removes_every_hierarchy_and_can_repeat() {
    require_root();
    let t = TestCgroup::new("destroy");
    let dirs = t.all_dirs();
    assert!(dirs.iter().all(|d| d.is_dir()));
    // A sub-cgroup made by the container itself is removed too.
    let nested = dirs[0].join("nested");
    std::fs::create_dir(&nested).unwrap();
    let mut child = run_in(&t, "exec sleep 30");
    t.cg.signal_all(Signal::SIGKILL).unwrap();
    // Not reaped yet: destroy must cope with the exiting task.
    t.cg.destroy().unwrap();
    t.cg.destroy().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
    assert_eq!(
        child.wait(Duration::from_secs(5)).unwrap().signal(),
        Some(9)
    );
}

#[test]
fn stored_paths_reopen_the_same_cgroup() {
    require_root();
    let t = TestCgroup::new("paths");
    let json = serde_json::to_string(&t.cg.paths()).unwrap();
    let paths: CgroupPaths = serde_json::from_str(&json).unwrap();
    let again = cgroups::from_paths(&paths);
    let child = run_in(&t, "exec sleep 30");
    assert_eq!(again.pids().unwrap(), vec![child.pid()]);
    again.signal_all(Signal::SIGKILL).unwrap();
    match (&paths, layout()) {
        (CgroupPaths::V2 { .. }, Layout::Unified) => {}
        (CgroupPaths::V1 { controllers, .. }, Layout::Hybrid | Layout::Legacy) => {
            assert!(controllers.contains_key("memory"));
        }
        other => panic!("layout and paths disagree: {other:?}"),
    }
}

#[test]
fn relative_path_is_placed_by_runc_rules() {
    require_root();
    let name = unique("placement");
    let cg = cgroups::resolve(Some(std::path::Path::new(&name)), "x").unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    match cg.paths() {
        CgroupPaths::V2 { dir } => {
            let mine = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
            let parent = std::path::Path::new(mine)
                .parent()
                .unwrap_or(std::path::Path::new("/"));
            let want = PathBuf::from("/sys/fs/cgroup")
                .join(parent.strip_prefix("/").unwrap())
                .join(&name);
            assert_eq!(dir, want);
        }
        CgroupPaths::V1 { controllers, .. } => {
            let mine = own
                .lines()
                .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
                .unwrap();
            let want = PathBuf::from("/sys/fs/cgroup/memory")
                .join(mine.trim_start_matches('/'))
                .join(&name);
            assert_eq!(controllers["memory"], want);
        }
    }
}

/// On a hybrid host the cgroup2 mount accepts eBPF device programs, cgroup.freeze and
/// cgroup.kill even without controllers, so the v2 implementation is exercised here directly.
#[test]
fn v2_device_filter_freeze_and_kill_work_on_the_cgroup2_mount() {
    require_root();
    let mounts = rind::cgroups::MountInfo::read_self().unwrap();
    let Some(root) = mounts.unified_mount() else {
        skip("this host has no cgroup2 mount");
        return;
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mine = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .to_string();
    let dir = root.join(mine.trim_start_matches('/')).join(unique("v2"));
    std::fs::create_dir(&dir).unwrap();
    let t = TestCgroup::wrap(cgroups::from_paths(&CgroupPaths::V2 { dir: dir.clone() }));
    let rules = |null: bool| {
        format!(
            r#"{{"devices":[{{"allow":false,"access":"rwm"}},
                {{"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}}{}]}}"#,
            if null {
                r#",{"allow":true,"type":"c","major":1,"minor":3,"access":"r"}"#
            } else {
                ""
            }
        )
    };
    t.apply_json(&rules(false)).unwrap();
    assert_eq!(
        rind::cgroups::bpf::attached_device_programs(&dir).unwrap(),
        1
    );
    let mut child = run_in(&t, "head -c 2 /dev/zero | wc -c; cat /dev/null; echo rc=$?");
    child.wait(Duration::from_secs(10)).expect("shell finished");
    let (out, err) = child.output();
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["2", "rc=1"],
        "{err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");

    // An update replaces the program: reading /dev/null is allowed, writing it is not.
    t.apply_json(&rules(true)).unwrap();
    assert_eq!(
        rind::cgroups::bpf::attached_device_programs(&dir).unwrap(),
        1
    );
    let mut child = run_in(
        &t,
        "cat /dev/null; echo r=$?; echo x > /dev/null; echo w=$?",
    );
    child.wait(Duration::from_secs(10)).expect("shell finished");
    let (out, _) = child.output();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["r=0", "w=1"]);

    let mut busy = run_in(&t, "while :; do :; done");
    t.cg.set_freezer(FreezerState::Frozen).unwrap();
    assert_eq!(t.cg.freezer().unwrap(), FreezerState::Frozen);
    t.cg.signal_all(Signal::SIGKILL).unwrap();
    assert_eq!(
        busy.wait(Duration::from_secs(5)).expect("killed").signal(),
        Some(9)
    );
    assert_eq!(t.cg.freezer().unwrap(), FreezerState::Thawed);
    t.cg.destroy().unwrap();
    t.cg.destroy().unwrap();
    assert!(!dir.exists());
}
