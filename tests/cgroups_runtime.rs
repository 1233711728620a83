//! cgroups through the runtime: the spec's limits in the container's cgroup files (seen from
//! the host and from inside), the default device rules, where `cgroupsPath` puts the cgroup,
//! and that delete removes it from every hierarchy. Works on v1 (hybrid) and v2 hosts.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;

/// The cgroup of this test process in each hierarchy, keyed like rind's state: the controller
/// names of a v1 hierarchy (`memory`, `name=systemd`, ...) and "" for the unified one.
fn own_cgroups() -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
    {
        let mut f = line.splitn(3, ':');
        let (_, names, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        for name in names.split(',') {
            out.insert(name.to_string(), PathBuf::from(path));
        }
    }
    out
}

/// Every (hierarchy key, directory) of a container from its stored state ("" = unified).
fn keyed_dirs(rt: &Runtime, id: &str) -> Vec<(String, PathBuf)> {
    let paths: rind::cgroups::CgroupPaths =
        serde_json::from_value(rt.stored_state(id)["cgroup"].clone()).unwrap();
    match paths {
        rind::cgroups::CgroupPaths::V1 {
            controllers,
            unified,
        } => controllers
            .into_iter()
            .chain(unified.map(|u| (String::new(), u)))
            .collect(),
        rind::cgroups::CgroupPaths::V2 { dir } => vec![(String::new(), dir)],
    }
}

/// The directory of `controller` in the container's cgroup (the one directory on v2).
fn dir_of(rt: &Runtime, id: &str, controller: &str) -> PathBuf {
    keyed_dirs(rt, id)
        .into_iter()
        .find(|(k, _)| k == controller || (cgroup_v2() && k.is_empty()))
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("no {controller} directory"))
}

/// Empty cgroup directories that rind made as parents of a container's cgroup (it removes only
/// the container's own): removed, deepest first, when the test ends, even when it fails.
struct RemoveDirs(Vec<PathBuf>);

impl Drop for RemoveDirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Asserts that each named pid is in the container's cgroup in every hierarchy.
fn assert_in_every_hierarchy(rt: &Runtime, id: &str, pids: &[(&str, i64)]) {
    let dirs = rt.cgroup_dirs(id);
    assert!(!dirs.is_empty());
    for d in &dirs {
        let procs = read_trim(&d.join("cgroup.procs"));
        let procs: Vec<i64> = procs.lines().map(|l| l.parse().unwrap()).collect();
        for (what, pid) in pids {
            assert!(
                procs.contains(pid),
                "{what} pid {pid} not in {}: {procs:?}",
                d.display()
            );
        }
    }
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn memory_and_pids_limits_show_on_the_host_and_inside() {
    let v2 = cgroup_v2();
    let (mem_file, pids_file) = if v2 {
        ("memory.max", "pids.max")
    } else {
        ("memory/memory.limit_in_bytes", "pids/pids.max")
    };
    let out = TempDir::new("cg-out");
    let mut b = Bundle::sh(&format!(
        "cat /sys/fs/cgroup/{mem_file} /sys/fs/cgroup/{pids_file} > /out/inside.tmp; \
         mv /out/inside.tmp /out/inside; sleep 1000"
    ));
    b.add_bind(out.path(), "/out", &[]);
    let limit = 64 * 1024 * 1024;
    b.config["linux"]["resources"]["memory"] = json!({"limit": limit});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 32});
    let rt = Runtime::new();
    let id = unique("limits");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    wait_until(10, "the container to report its limits", || {
        out.path().join("inside").exists()
    });
    let inside = read_trim(&out.path().join("inside"));
    assert_eq!(inside, format!("{limit}\n32"));

    let mem = dir_of(&rt, &id, "memory");
    let pids = dir_of(&rt, &id, "pids");
    let (mem_host, pids_host) = if v2 {
        ("memory.max", "pids.max")
    } else {
        ("memory.limit_in_bytes", "pids.max")
    };
    assert_eq!(read_trim(&mem.join(mem_host)), limit.to_string());
    assert_eq!(read_trim(&pids.join(pids_host)), "32");
    // init is in that cgroup (by its host pid).
    let pid = rt.state(&id)["pid"].as_i64().unwrap().to_string();
    let procs = read_trim(&pids.join("cgroup.procs"));
    assert!(procs.lines().any(|p| p == pid), "{pid} not in {procs}");

    let dirs = rt.cgroup_dirs(&id);
    rt.ok(&["delete", "--force", &id]);
    for d in dirs {
        assert!(!d.exists(), "left after delete: {}", d.display());
    }
}

#[test]
fn delete_removes_the_cgroup_in_every_hierarchy() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("cgdel");
    rt.create(&b, &id);
    let dirs = rt.cgroup_dirs(&id);
    assert_eq!(dirs, default_cgroup_dirs(&id));
    if !cgroup_v2() {
        assert!(dirs.len() > 3, "one per v1 hierarchy: {dirs:?}");
    }
    for d in &dirs {
        assert!(d.is_dir(), "{}", d.display());
    }
    rt.ok(&["delete", &id]);
    for d in &dirs {
        assert!(!d.exists(), "left after delete: {}", d.display());
    }
}

/// Init joins the v1 hierarchies itself (and clone3 places it in the cgroup2 one); an exec'd
/// process the same way. Both must then be in the container's cgroup in every hierarchy.
#[test]
fn init_and_an_exec_process_are_in_every_hierarchy() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 1000");
    let id = unique("cgjoin");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let init = rt.state(&id)["pid"].as_i64().unwrap();
    let pid_file = b.path().join("exec.pid");
    rt.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]);
    let exec: i64 = read_trim(&pid_file).parse().unwrap();
    assert_in_every_hierarchy(&rt, &id, &[("init", init), ("exec", exec)]);
    rt.ok(&["delete", "--force", &id]);
}

/// Init joins through `tasks` files the runtime opened for it, so a container whose root is an
/// unprivileged host user lands in every hierarchy too: by the time init joins, it has become
/// that user, which may not open the host's cgroup files itself.
#[test]
fn a_user_namespace_init_is_in_every_hierarchy() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000");
    b.add_user_namespace(100000, 100000, 65536);
    let id = unique("cguserns");
    rt.create(&b, &id);
    let init = rt.state(&id)["pid"].as_i64().unwrap();
    assert_in_every_hierarchy(&rt, &id, &[("init", init)]);
    rt.ok(&["delete", "--force", &id]);
}

/// Most of the cgroup and all of its limits are made after init is cloned, while init sets
/// up. A limit the kernel refuses must still fail `create`, naming the file, and leave no
/// cgroup, no container and no process behind.
#[test]
fn a_limit_the_kernel_refuses_fails_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    // No host has CPU 4095.
    b.config["linux"]["resources"]["cpu"] = json!({"cpus": "4095"});
    b.write();
    let id = unique("cgrefused");
    let err = rt.fails(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(err.contains("cpuset"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for d in default_cgroup_dirs(&id) {
        assert!(!d.exists(), "left behind: {}", d.display());
    }
    assert!(!rt.ok(&["list", "-q"]).lines().any(|l| l == id));
    assert!(
        processes_with_arg(&id).is_empty(),
        "a process of {id} is left"
    );
}

/// A container with CAP_MKNOD and a tmpfs at /tmp that allows device nodes.
fn mknod_bundle(script: &str) -> Bundle {
    let mut b = Bundle::sh(script);
    b.add_capability("CAP_MKNOD");
    b.add_mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "mode=1777"]}),
    );
    b
}

const MKNOD_SCRIPT: &str = "mknod /tmp/sda b 8 0 && echo made; \
    head -c1 /tmp/sda > /dev/null 2>/tmp/err; cat /tmp/err; \
    mknod /tmp/mynull c 1 3 && echo x > /tmp/mynull && echo null-ok";

#[test]
fn default_device_rules_deny_a_device_not_allowed() {
    let rt = Runtime::new();
    let (out, err) = rt.outputs_of(&mknod_bundle(MKNOD_SCRIPT));
    assert!(out.contains("made"), "mknod itself is allowed: {out} {err}");
    assert!(
        out.contains("Operation not permitted"),
        "open denied: {out}"
    );
    assert!(out.contains("null-ok"), "an allowed device opens: {out}");
}

#[test]
fn a_device_rule_in_the_spec_lifts_the_denial() {
    // The counterpart of the test above: allowing b 8:0 changes the error (no such disk, or
    // success), so the denial above came from the device rules.
    let rt = Runtime::new();
    let mut b = mknod_bundle(MKNOD_SCRIPT);
    b.config["linux"]["resources"]["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "b", "major": 8, "minor": 0, "access": "rwm"}));
    let out = rt.output_of(&b);
    assert!(out.contains("made"), "{out}");
    assert!(!out.contains("Operation not permitted"), "{out}");
}

#[test]
fn a_relative_cgroups_path_lands_under_the_runtimes_cgroup() {
    // Declared before the runtime, so the containers are gone before these are removed.
    let mut tops = RemoveDirs(Vec::new());
    let rt = Runtime::new();
    let top = unique("rind-rel");
    let mut b = Bundle::sh("sleep 1000");
    b.config["linux"]["cgroupsPath"] = json!(format!("{top}/inner"));
    let id = unique("rel");
    rt.create(&b, &id);
    let own = own_cgroups();
    let dirs = keyed_dirs(&rt, &id);
    tops.0 = dirs
        .iter()
        .map(|(_, d)| d.parent().unwrap().to_path_buf())
        .collect();
    for (key, dir) in &dirs {
        // On v2 the base is the parent of the runtime's cgroup (as in runc: the runtime's own
        // cgroup holds processes, so it cannot have controllers enabled for children).
        let mut base = own[key.as_str()].clone();
        if cgroup_v2() {
            base = base.parent().map(Path::to_path_buf).unwrap_or(base);
        }
        let want = base.join(&top).join("inner");
        let rel = want.strip_prefix("/").unwrap();
        assert!(
            dir.starts_with("/sys/fs/cgroup") && dir.ends_with(rel),
            "{key}: {} should end with {}",
            dir.display(),
            rel.display()
        );
        assert!(dir.is_dir(), "{}", dir.display());
    }
    rt.ok(&["delete", &id]);
    for (_, d) in &dirs {
        assert!(!d.exists(), "{}", d.display());
    }
}

#[test]
fn a_v1_cpuset_is_copied_down_to_new_directories_and_an_existing_one_is_kept() {
    if cgroup_v2() {
        skip("a cgroup v2 host: no v1 cpuset to copy down");
        return;
    }
    let mut made = RemoveDirs(Vec::new());
    let rt = Runtime::new();
    let own = own_cgroups();
    let base = Path::new("/sys/fs/cgroup/cpuset").join(own["cpuset"].strip_prefix("/").unwrap());
    let cpus = |d: &Path| read_trim(&d.join("cpuset.cpus"));
    let mems = |d: &Path| read_trim(&d.join("cpuset.mems"));
    // A cgroup made beforehand with a narrower set of CPUs than its parent's.
    let kept_top = base.join(unique("rind-cpuset-kept"));
    let kept = kept_top.join("inner");
    std::fs::create_dir_all(&kept).unwrap();
    // rind makes the path in every hierarchy; delete removes only the leaves.
    made.0 = vec![kept.clone(), kept_top.clone()];
    for d in [&kept_top, &kept] {
        std::fs::write(d.join("cpuset.mems"), mems(&base)).unwrap();
    }
    std::fs::write(kept_top.join("cpuset.cpus"), cpus(&base)).unwrap();
    let first = cpus(&base).split([',', '-']).next().unwrap().to_string();
    std::fs::write(kept.join("cpuset.cpus"), &first).unwrap();

    let new_top = unique("rind-cpuset-new");
    for (path, want_cpus) in [
        (format!("{new_top}/inner"), cpus(&base)),
        (
            kept.strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            first.clone(),
        ),
    ] {
        let mut b = Bundle::sh("sleep 1000");
        b.config["linux"]["cgroupsPath"] = json!(path);
        let id = unique("cpuset");
        rt.create(&b, &id);
        let dir = dir_of(&rt, &id, "cpuset");
        made.0.extend(
            keyed_dirs(&rt, &id)
                .into_iter()
                .map(|(_, d)| d.parent().unwrap().to_path_buf()),
        );
        assert_eq!(cpus(&dir), want_cpus, "{path}");
        assert_eq!(mems(&dir), mems(&base), "{path}");
        assert_eq!(
            cpus(dir.parent().unwrap()),
            cpus(&base),
            "{path}: the parent"
        );
        assert_in_every_hierarchy(
            &rt,
            &id,
            &[("init", rt.state(&id)["pid"].as_i64().unwrap())],
        );
        rt.ok(&["delete", "-f", &id]);
    }
}

#[test]
fn an_absolute_cgroups_path_lands_where_asked() {
    let own = own_cgroups();
    // Under this test's own cgroup (the memory one on a hybrid host, the parent of the own
    // cgroup on v2), so that nothing is made outside what the tests may use.
    let base = if cgroup_v2() {
        let o = own[""].clone();
        o.parent().map(Path::to_path_buf).unwrap_or(o)
    } else {
        own["memory"].clone()
    };
    let path = base.join(unique("rind-abs"));
    // Ancestors that do not exist yet in some hierarchy are made by rind; remove them after.
    let mounts: Vec<PathBuf> = default_cgroup_dirs("x")
        .iter()
        .map(|d| mount_root(d))
        .collect();
    let _made = RemoveDirs(
        mounts
            .iter()
            .flat_map(|m| {
                base.ancestors()
                    .map(|a| m.join(a.strip_prefix("/").unwrap()))
                    .filter(|p| !p.exists())
                    .collect::<Vec<_>>()
            })
            .collect(),
    );

    let rt = Runtime::new();
    let mut b = Bundle::sh("sleep 1000");
    b.config["linux"]["cgroupsPath"] = json!(path);
    let id = unique("abs");
    rt.create(&b, &id);
    let dirs = rt.cgroup_dirs(&id);
    for d in &dirs {
        let mount = mount_root(d);
        assert_eq!(
            *d,
            mount.join(path.strip_prefix("/").unwrap()),
            "{}",
            d.display()
        );
        assert!(d.is_dir());
    }
    rt.ok(&["delete", &id]);
    for d in &dirs {
        assert!(!d.exists(), "{}", d.display());
    }
}

/// The mount point of the hierarchy that holds `dir` (a directory of a container made for a
/// one-component id at the hierarchy root or under this test's cgroup).
fn mount_root(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    parse_mountinfo(&text)
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| PathBuf::from(m.mount_point))
        .filter(|mp| dir.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or_else(|| panic!("no cgroup mount holds {}", dir.display()))
}
