//! Rootless rind in a delegated cgroup v2 subtree: the container's cgroup is made there, each
//! limit takes effect, and the cgroup's rootless mark keeps a rewritten state from turning a
//! verb against another cgroup. Runs on a pure cgroup v2 host (the VM suite); elsewhere each
//! test records a skip. See docs/rootless.md and docs/security.md.

mod common;
mod rootless_support;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::{Value, json};

use rootless_support::{Delegated, TestUser};

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
}

/// The value of `key` in a flat-keyed cgroup file such as `memory.events`.
fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text:?}"))
}

/// The names of the extended attributes on `dir`.
fn xattr_names(dir: &Path) -> Vec<String> {
    let path = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: a valid path and a buffer of the given length.
    let n = unsafe { libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n >= 0, "listxattr {}", dir.display());
    buf[..n as usize]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn state(u: &TestUser, id: &str) -> Value {
    serde_json::from_str(&u.rind_ok(&["state", id])).unwrap()
}

#[test]
fn a_delegated_cgroup_takes_each_limit() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let Some(d) = Delegated::new(&u) else {
        return;
    };

    // memory.max: an allocation past it is killed by the OOM killer, one below it is not.
    let mut b = u.bundle(
        "dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null; echo big=$?; \
         dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null; echo small=$?; \
         cat /sys/fs/cgroup/memory.max; grep oom_kill /sys/fs/cgroup/memory.events",
    );
    b.config["linux"]["resources"] =
        json!({"memory": {"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024}});
    b.write();
    let id = common::unique("rl-mem");
    let out = u.rind_in(&d, &["run", "--bundle", b.path(), &id]);
    assert!(out.status.success(), "{out:?}");
    let t = text(&out);
    assert!(t.contains("big=137\n"), "{t}");
    assert!(t.contains("small=0\n"), "{t}");
    assert!(t.contains(&format!("{}\n", 16 * 1024 * 1024)), "{t}");
    assert!(keyed(&t, "oom_kill") >= 1, "{t}");
    assert!(!d.container(&id).exists(), "run removed its cgroup");

    // pids.max: forks past it are refused. A failed fork ends a busybox shell (exit 2), so
    // a subshell forks; once the sleeps hold every pid the shell cannot fork a `cat`: it
    // reads the files with builtins.
    let mut b = u.bundle(
        "(i=0; while [ $i -lt 16 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; \
         read m < /sys/fs/cgroup/pids.max; echo $m; \
         read c < /sys/fs/cgroup/pids.current; echo $c; \
         while read k v; do echo \"$k $v\"; done < /sys/fs/cgroup/pids.events",
    );
    b.config["linux"]["resources"] = json!({"pids": {"limit": 6}});
    b.write();
    let id = common::unique("rl-pids");
    let out = u.rind_in(&d, &["run", "--bundle", b.path(), &id]);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<String> = text(&out).lines().map(str::to_string).collect();
    assert_eq!(lines[0], "6", "{lines:?}");
    let current: u64 = lines[1].parse().unwrap();
    assert!((5..=6).contains(&current), "{lines:?}");
    assert!(keyed(&lines[2..].join("\n"), "max") >= 1, "{lines:?}");

    // cpu.max: a busy loop at 10% of a CPU is throttled, as cpu.stat counts; and io.weight
    // (the io controller) is the spec's.
    let mut b = u.bundle("while :; do :; done");
    b.config["linux"]["resources"] = json!({
        "cpu": {"quota": 10000, "period": 100000},
        "blockIO": {"weight": 500}});
    b.write();
    let id = common::unique("rl-cpu");
    u.rind_in_ok(&d, &["run", "-d", "--bundle", b.path(), &id]);
    let cg = d.container(&id);
    assert_eq!(read(&cg, "cpu.max").trim(), "10000 100000");
    // BFQ's file takes the v1 weight as it is; io.weight the converted one (runc's rule:
    // 1 + (500 - 10) * 9999 / 990 = 4950).
    if cg.join("io.bfq.weight").exists() {
        assert!(read(&cg, "io.bfq.weight").contains("500"));
    } else {
        let w = read(&cg, "io.weight");
        assert!(w.contains("default 4950"), "{w}");
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stat = read(&cg, "cpu.stat");
    assert!(keyed(&stat, "nr_throttled") >= 3, "{stat}");
    // 10% of 1.5 s is 150 ms; allow the period's granularity and TCG's slack.
    assert!(keyed(&stat, "usage_usec") < 600_000, "{stat}");
    // The cgroup and its files are the user's: made by rind running as the user.
    assert_eq!(std::fs::metadata(&cg).unwrap().uid(), u.uid);
    // update works there too.
    u.rind_in_ok(&d, &["update", "--pids-limit", "42", &id]);
    assert_eq!(read(&cg, "pids.max").trim(), "42");
    // pause and resume: the cgroup's freezer is the user's.
    u.rind_in_ok(&d, &["pause", &id]);
    assert_eq!(state(&u, &id)["status"], "paused");
    u.rind_in_ok(&d, &["resume", &id]);
    assert_eq!(state(&u, &id)["status"], "running");
    u.rind_in_ok(&d, &["delete", "--force", &id]);
    assert!(!cg.exists());
}

#[test]
fn without_delegation_limits_are_refused_in_a_v2_cgroup_too() {
    let Some(u) = TestUser::new() else {
        return;
    };
    // Delegated only to check that the host is pure cgroup v2 and to have a cgroup the user
    // does not own: its parent.
    let Some(d) = Delegated::new(&u) else {
        return;
    };
    let mut b = u.bundle("true");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    let parent = d.dir.parent().unwrap();
    let rel = parent.strip_prefix("/sys/fs/cgroup").unwrap();
    b.config["linux"]["cgroupsPath"] = json!(format!("/{}/not-yours", rel.display()));
    b.write();
    let id = common::unique("rl-nodeleg");
    let out = u.rind_in(&d, &["run", "--bundle", b.path(), &id]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("linux.resources.pids") && err.contains("not in a cgroup subtree you own"),
        "{err}"
    );
    assert!(!parent.join("not-yours").exists());
}

#[test]
fn the_rootless_mark_keeps_a_rewritten_state_off_other_cgroups() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let Some(d) = Delegated::new(&u) else {
        return;
    };
    let b = u.bundle("exec sleep 1000");
    let (one, two) = (common::unique("rl-mark1"), common::unique("rl-mark2"));
    u.rind_in_ok(&d, &["run", "-d", "--bundle", b.path(), &one]);
    u.rind_in_ok(&d, &["run", "-d", "--bundle", b.path(), &two]);

    // The mark is a user attribute (an ordinary user cannot set trusted.* ones), named after
    // the state directory's inode, valued with the id.
    let names = xattr_names(&d.container(&one));
    let sd = std::fs::metadata(u.state_root().join(&one)).unwrap();
    let want = format!("user.rind.{}-{}", sd.dev(), sd.ino());
    assert_eq!(names, vec![want.clone()], "marks on {}", one);

    // The user's own state rewritten: container one's state names container two's init and
    // cgroup. Two is not one's: kill --all and delete --force of one leave it running.
    let two_state = state(&u, &two);
    let path = u.state_root().join(&one).join("state.json");
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let stored_two: Value = serde_json::from_str(
        &std::fs::read_to_string(u.state_root().join(&two).join("state.json")).unwrap(),
    )
    .unwrap();
    s["pid"] = stored_two["pid"].clone();
    s["initStartTime"] = stored_two["initStartTime"].clone();
    s["cgroup"] = stored_two["cgroup"].clone();
    std::fs::write(&path, s.to_string()).unwrap();
    let out = u.rind_in(&d, &["kill", "--all", &one, "KILL"]);
    let out2 = u.rind_in(&d, &["kill", &one, "KILL"]);
    assert!(
        String::from_utf8_lossy(&out2.stderr).contains("not the container's"),
        "{out2:?}"
    );
    let out3 = u.rind_in(&d, &["delete", "--force", &one]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        state(&u, &two)["status"],
        "running",
        "kill --all: {out:?}\ndelete --force: {out3:?}"
    );
    assert!(common::pid_exists(two_state["pid"].as_i64().unwrap()));
    assert!(d.container(&two).exists());

    // Another user's cgroup that carries this user's mark (set by that user, who owns the
    // directory): not this user's, so not marked.
    let Some(v) = TestUser::new() else {
        return;
    };
    let Some(dv) = Delegated::new(&v) else {
        return;
    };
    let vb = v.bundle("exec sleep 1000");
    let vid = common::unique("rl-markv");
    v.rind_in_ok(&dv, &["run", "-d", "--bundle", vb.path(), &vid]);
    let three = common::unique("rl-mark3");
    u.rind_in_ok(&d, &["run", "-d", "--bundle", b.path(), &three]);
    let sd = std::fs::metadata(u.state_root().join(&three)).unwrap();
    let mark = format!("user.rind.{}-{}", sd.dev(), sd.ino());
    // As v: v may set user attributes on its own cgroup.
    let vcg = dv.container(&vid);
    set_xattr_as(&v, &vcg, &mark, &three);
    let path = u.state_root().join(&three).join("state.json");
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let stored_v: Value = serde_json::from_str(
        &std::fs::read_to_string(v.state_root().join(&vid).join("state.json")).unwrap(),
    )
    .unwrap();
    s["pid"] = stored_v["pid"].clone();
    s["initStartTime"] = stored_v["initStartTime"].clone();
    s["cgroup"] = stored_v["cgroup"].clone();
    std::fs::write(&path, s.to_string()).unwrap();
    let out = u.rind_in(&d, &["kill", &three, "KILL"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not the container's") && err.contains("does not carry"),
        "{out:?}"
    );
    let _ = u.rind_in(&d, &["delete", "--force", &three]);
    assert_eq!(
        serde_json::from_str::<Value>(&v.rind_ok(&["state", &vid])).unwrap()["status"],
        "running"
    );
}

/// Sets a user attribute on `dir` as the user `v` (a child that drops to `v` first).
fn set_xattr_as(v: &TestUser, dir: &Path, name: &str, value: &str) {
    let (uid, gid) = (v.uid, v.gid);
    let path = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let cname = CString::new(name).unwrap();
    // SAFETY: the child of this fork makes only system calls (no allocation) and exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => unsafe {
            let ok = libc::setresgid(gid, gid, gid) == 0
                && libc::setresuid(uid, uid, uid) == 0
                && libc::lsetxattr(
                    path.as_ptr(),
                    cname.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                ) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        },
        nix::unistd::ForkResult::Parent { child } => {
            let st = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(
                st,
                nix::sys::wait::WaitStatus::Exited(child, 0),
                "set {name} on {} as {}",
                dir.display(),
                v.name
            );
        }
    }
}
