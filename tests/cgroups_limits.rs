//! Limits applied through the cgroups library have their effect on real processes, on this
//! host's layout (v1 on a hybrid host, v2 in the VM suite). Run as root.

mod cgroups_support;

use std::time::{Duration, Instant};

use cgroups_support::{TestCgroup, cpu_ns, layout, require_root, run_in, unique};
use rind::cgroups::Layout;

const MIB: u64 = 1 << 20;

#[test]
fn memory_limit_oom_kills_a_bigger_allocation_and_counts_it() {
    require_root();
    let t = TestCgroup::new("oom");
    let limit = 32 * MIB;
    // Swap equal to the limit: no room to swap, so the allocation must be OOM-killed.
    t.apply_json(&format!(
        r#"{{"memory":{{"limit":{limit},"swap":{limit}}}}}"#
    ))
    .unwrap();
    assert_eq!(
        t.read("memory", "memory.limit_in_bytes", "memory.max"),
        limit.to_string()
    );
    assert_eq!(t.cg.oom_kill_count().unwrap(), 0);
    let notifier = t.cg.oom_notifier().unwrap();
    assert!(!notifier.wait(Some(Duration::from_millis(50))).unwrap());
    let mut child = run_in(&t, "exec dd if=/dev/zero of=/dev/null bs=67108864 count=1");
    let status = child.wait(Duration::from_secs(20)).expect("dd finished");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "dd should be OOM-killed: {status:?}"
    );
    assert!(t.cg.oom_kill_count().unwrap() >= 1);
    assert!(
        notifier.wait(Some(Duration::from_secs(5))).unwrap(),
        "no OOM notification"
    );
    let stats = t.cg.stats().unwrap();
    assert_eq!(stats.memory.usage.limit, limit);
    if t.is_v2() {
        // memory.events "max": times the usage hit memory.max.
        assert!(stats.memory.usage.failcnt > 0, "{:?}", stats.memory.usage);
    } else {
        // With memory+swap at the same limit, v1 counts the failures in memsw; the peak shows
        // the usage reached the limit.
        assert_eq!(stats.memory.usage.max, limit, "{:?}", stats.memory);
    }
}

#[test]
fn pids_limit_makes_fork_fail() {
    require_root();
    let t = TestCgroup::new("pids");
    t.apply_json(r#"{"pids":{"limit":4}}"#).unwrap();
    assert_eq!(t.read("pids", "pids.max", "pids.max"), "4");
    let mut child = run_in(
        &t,
        "i=0; while [ $i -lt 12 ]; do sleep 5 & i=$((i+1)); done; echo spawned",
    );
    let status = child.wait(Duration::from_secs(10)).expect("shell finished");
    let (out, err) = child.output();
    assert!(
        err.contains("fork"),
        "expected a fork failure, got {status:?} {out:?} {err:?}"
    );
    let current: u64 = t
        .read("pids", "pids.current", "pids.current")
        .parse()
        .unwrap();
    assert!(current <= 4, "pids.current {current}");
    let events = t.read("pids", "pids.events", "pids.events");
    let max: u64 = events.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(max > 0, "pids.events: {events}");
}

#[test]
fn cpu_quota_caps_usage() {
    require_root();
    let t = TestCgroup::new("cpu");
    t.apply_json(r#"{"cpu":{"quota":20000,"period":100000}}"#)
        .unwrap();
    if t.is_v2() {
        assert_eq!(t.read("cpu", "", "cpu.max"), "20000 100000");
    } else {
        assert_eq!(t.read("cpu", "cpu.cfs_quota_us", ""), "20000");
    }
    let _child = run_in(&t, "while :; do :; done");
    let before = cpu_ns(&t);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let used = (cpu_ns(&t) - before) as f64 / 1e9;
    let wall = start.elapsed().as_secs_f64();
    // 20% of one cpu; wide bounds for a busy shared host.
    let share = used / wall;
    assert!(
        share > 0.05 && share < 0.40,
        "used {used:.3}s of cpu in {wall:.3}s"
    );
}

#[test]
fn device_rules_deny_dev_null_and_allow_dev_zero() {
    require_root();
    let t = TestCgroup::new("devices");
    t.apply_json(
        r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}]}"#,
    )
    .unwrap();
    if !t.is_v2() {
        let list = t.read("devices", "devices.list", "");
        assert_eq!(list, "c 1:5 rwm");
    }
    let mut child = run_in(&t, "head -c 3 /dev/zero | wc -c; cat /dev/null; echo rc=$?");
    child.wait(Duration::from_secs(10)).expect("shell finished");
    let (out, err) = child.output();
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["3", "rc=1"],
        "{err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");
}

#[test]
fn update_raises_and_lowers_limits() {
    require_root();
    let t = TestCgroup::new("update");
    let swap = !t.is_v2()
        && t.dir("memory")
            .unwrap()
            .join("memory.memsw.limit_in_bytes")
            .exists();
    let memsw = |limit: u64, total: u64| {
        if swap || t.is_v2() {
            format!(r#"{{"memory":{{"limit":{limit},"swap":{total}}},"cpu":{{"shares":512}}}}"#)
        } else {
            format!(r#"{{"memory":{{"limit":{limit}}},"cpu":{{"shares":512}}}}"#)
        }
    };
    for (limit, total) in [
        (64 * MIB, 128 * MIB),
        (256 * MIB, 512 * MIB),
        (32 * MIB, 64 * MIB),
    ] {
        t.apply_json(&memsw(limit, total)).unwrap();
        assert_eq!(
            t.read("memory", "memory.limit_in_bytes", "memory.max"),
            limit.to_string()
        );
        if swap {
            assert_eq!(
                t.read("memory", "memory.memsw.limit_in_bytes", ""),
                total.to_string()
            );
        }
        if t.is_v2() && t.dir("memory").unwrap().join("memory.swap.max").exists() {
            assert_eq!(
                t.read("memory", "", "memory.swap.max"),
                (total - limit).to_string()
            );
        }
    }
    t.apply_json(r#"{"memory":{"limit":-1}}"#).unwrap();
    let unlimited = t.read("memory", "memory.limit_in_bytes", "memory.max");
    assert!(
        unlimited == "max" || unlimited.parse::<u64>().unwrap() > 1 << 60,
        "{unlimited}"
    );
    t.apply_json(r#"{"cpu":{"shares":2048}}"#).unwrap();
    assert_eq!(
        t.read("cpu", "cpu.shares", "cpu.weight"),
        if t.is_v2() { "174" } else { "2048" }
    );
}

#[test]
fn memory_limit_below_usage_is_a_clear_error() {
    require_root();
    let t = TestCgroup::new("toolow");
    let shm = cgroups_support::tmpfs_dir().join(unique("fill"));
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _cleanup = Remove(shm.clone());
    // tmpfs pages stay charged to the cgroup after the writer exits.
    let mut child = run_in(
        &t,
        &format!("dd if=/dev/zero of={} bs=1048576 count=16", shm.display()),
    );
    assert!(
        child
            .wait(Duration::from_secs(10))
            .expect("dd finished")
            .success()
    );
    let err = if t.is_v2() {
        t.apply_json(r#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#)
            .unwrap_err()
    } else {
        t.apply_json(r#"{"memory":{"limit":4096}}"#).unwrap_err()
    };
    let msg = err.to_string();
    if t.is_v2() {
        assert!(msg.contains("below the current usage"), "{msg}");
    } else {
        assert!(
            msg.starts_with("memory limit too low (current usage "),
            "{msg}"
        );
        assert!(
            msg.contains("write \"4096\" to /sys/fs/cgroup/memory/"),
            "{msg}"
        );
        assert!(
            msg.ends_with("memory.limit_in_bytes: device or resource busy"),
            "{msg}"
        );
    }
}

#[test]
fn hugetlb_limit_is_written_where_the_controller_lives() {
    require_root();
    let t = TestCgroup::new("hugetlb");
    // On a hybrid host hugetlb may live in the cgroup2 mount; enabling it there is a change to
    // the host's root cgroup, undone at the end if this test made it.
    let hybrid_root = std::path::Path::new("/sys/fs/cgroup/unified");
    let restore = layout() == Layout::Hybrid
        && std::fs::read_to_string(hybrid_root.join("cgroup.controllers"))
            .is_ok_and(|c| c.contains("hugetlb"))
        && !std::fs::read_to_string(hybrid_root.join("cgroup.subtree_control"))
            .unwrap()
            .contains("hugetlb");
    let has_2mb = std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    let v2_root = rind::cgroups::MountInfo::read_self()
        .unwrap()
        .unified_mount();
    let on_v2 = v2_root
        .and_then(|r| std::fs::read_to_string(r.join("cgroup.controllers")).ok())
        .is_some_and(|c| c.split_whitespace().any(|w| w == "hugetlb"));
    let supported = has_2mb && (t.dir("hugetlb").is_some() && !t.is_v2() || on_v2);
    let result = t.apply_json(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#);
    if !supported {
        let msg = result.unwrap_err().to_string();
        assert!(msg.contains("hugetlb") || msg.contains("hugepage"), "{msg}");
    } else {
        result.unwrap();
        let file = t.all_dirs().into_iter().find_map(|d| {
            ["hugetlb.2MB.max", "hugetlb.2MB.limit_in_bytes"]
                .iter()
                .map(|f| d.join(f))
                .find(|p| p.exists())
        });
        let file = file.expect("a hugetlb limit file");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap().trim(),
            "4194304",
            "{file:?}"
        );
    }
    drop(t);
    if restore {
        let _ = std::fs::write(hybrid_root.join("cgroup.subtree_control"), "-hugetlb");
    }
}

#[test]
fn network_and_unified_are_applied_or_refused_by_layout() {
    require_root();
    let t = TestCgroup::new("net");
    let net = t.apply_json(r#"{"network":{"classID":1048577}}"#);
    match t.dir("net_cls") {
        Some(d) if !t.is_v2() => {
            net.unwrap();
            assert_eq!(
                std::fs::read_to_string(d.join("net_cls.classid"))
                    .unwrap()
                    .trim(),
                "1048577"
            );
        }
        _ => assert!(net.unwrap_err().to_string().contains("net_cls")),
    }
    let unified = t.apply_json(r#"{"unified":{"pids.max":"9"}}"#);
    if t.is_v2() {
        unified.unwrap();
        assert_eq!(t.read("pids", "", "pids.max"), "9");
        let bad = t
            .apply_json(r#"{"unified":{"../pids.max":"9"}}"#)
            .unwrap_err();
        assert!(bad.to_string().contains("file name"), "{bad}");
        let missing = t
            .apply_json(r#"{"unified":{"pids.nonexistent":"9"}}"#)
            .unwrap_err();
        assert!(missing.to_string().contains("is not a file"), "{missing}");
    } else {
        assert!(unified.unwrap_err().to_string().contains("cgroup v2"));
    }
}

#[test]
fn stats_report_usage_and_limits_in_runc_shape() {
    require_root();
    let t = TestCgroup::new("stats");
    t.apply_json(r#"{"memory":{"limit":268435456},"pids":{"limit":50}}"#)
        .unwrap();
    let mut child = run_in(
        &t,
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 30",
    );
    std::thread::sleep(Duration::from_millis(700));
    let s = t.cg.stats().unwrap();
    assert!(s.cpu.usage.total > 0, "{:?}", s.cpu);
    assert!(s.cpu.usage.user + s.cpu.usage.kernel > 0, "{:?}", s.cpu);
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 50);
    assert_eq!(s.memory.usage.limit, 268435456);
    assert!(s.memory.usage.usage > 0);
    assert!(!s.memory.raw.is_empty());
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["memory"]["usage"]["limit"], 268435456);
    assert_eq!(json["pids"]["current"], 1);
    assert!(json["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    let _ = child.child.kill();
}
