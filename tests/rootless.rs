//! Rootless rind: an ordinary user (made for each test, with subordinate ranges) runs
//! containers through `setpriv`, without capabilities. See docs/rootless.md.

mod common;
mod rootless_support;

use std::os::unix::fs::MetadataExt;

use serde_json::json;

use rootless_support::TestUser;

/// The output's lines, each split into its words.
fn words(out: &std::process::Output) -> Vec<Vec<String>> {
    text(out)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn spec_rootless_writes_what_runc_writes() {
    if !common::require_tool("runc") {
        return;
    }
    let Some(u) = TestUser::new() else {
        return;
    };
    let ours = common::TempDir::new("rl-spec-rind");
    let theirs = common::TempDir::new("rl-spec-runc");
    for d in [&ours, &theirs] {
        std::os::unix::fs::chown(d.path(), Some(u.uid), Some(u.gid)).unwrap();
    }
    u.rind_ok(&[
        "spec",
        "--rootless",
        "--bundle",
        ours.path().to_str().unwrap(),
    ]);
    let mut runc = u.command(std::path::Path::new("runc"), &["spec", "--rootless"]);
    runc.current_dir(theirs.path());
    let out = u.output(runc);
    assert!(out.status.success(), "runc spec --rootless: {out:?}");
    let read = |d: &common::TempDir| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.path().join("config.json")).unwrap())
            .unwrap()
    };
    let (ours, theirs) = (read(&ours), read(&theirs));
    for field in ["uidMappings", "gidMappings"] {
        assert_eq!(
            ours["linux"][field], theirs["linux"][field],
            "linux.{field}"
        );
    }
    assert_eq!(ours["linux"]["uidMappings"][0]["hostID"], u.uid);
    assert_eq!(ours["linux"]["gidMappings"][0]["hostID"], u.gid);
    assert_eq!(ours["mounts"], theirs["mounts"], "mounts");
    assert_eq!(ours["linux"].get("resources"), None);
    assert_eq!(theirs["linux"].get("resources"), None);
    // The namespaces: runc 1.1's default has no cgroup namespace; rind's has one.
    let types = |v: &serde_json::Value| -> Vec<String> {
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .filter(|t| t != "cgroup")
            .collect()
    };
    assert_eq!(types(&ours), types(&theirs));
}

#[test]
fn run_maps_the_callers_own_ids_and_matches_runc() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let b =
        u.bundle("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups");
    let id = common::unique("rl-run");
    let out = u.rind(&["run", "--bundle", b.path(), &id]);
    assert!(out.status.success(), "{out:?}");
    let ours = text(&out);
    let want = format!(
        "0\n0\n{:>10} {:>10} {:>10}\n{:>10} {:>10} {:>10}\ndeny\n",
        0, u.uid, 1, 0, u.gid, 1
    );
    assert_eq!(ours, want);
    // The state went under $XDG_RUNTIME_DIR/rind, and the container is gone from it.
    assert!(u.state_root().is_dir());
    assert!(!u.state_root().join(&id).exists());
    // runc, as the same user on the same bundle, prints the same.
    if !common::require_tool("runc") {
        return;
    }
    let runc_root = u.xdg.join("runc-test");
    let c = u.command(
        std::path::Path::new("runc"),
        &[
            "--root",
            runc_root.to_str().unwrap(),
            "run",
            "--bundle",
            b.path(),
            &id,
        ],
    );
    let out = u.output(c);
    assert!(out.status.success(), "runc: {out:?}");
    assert_eq!(text(&out), ours, "runc's output");
}

#[test]
fn lifecycle_and_exec_as_a_user() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let b = u.bundle("echo started > /ready; exec sleep 1000");
    let id = common::unique("rl-life");
    u.rind_ok(&["create", "--bundle", b.path(), &id]);
    let state: serde_json::Value = serde_json::from_str(&u.rind_ok(&["state", &id])).unwrap();
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().unwrap();
    assert!(u.state_root().join(&id).join("state.json").exists());
    u.rind_ok(&["start", &id]);
    let state: serde_json::Value = serde_json::from_str(&u.rind_ok(&["state", &id])).unwrap();
    assert_eq!(state["status"], "running");

    // Its init runs as the user on the host, in a user namespace of its own.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|f| f == u.uid.to_string()),
        "{uid_line}"
    );
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/user")).unwrap();
    assert_ne!(ns(&pid.to_string()), ns("self"));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/uid_map"))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", &u.uid.to_string(), "1"]
    );

    // exec joins it (the user namespace first: an ordinary user has no privilege over the
    // container's other namespaces until it is in the one that owns them).
    let out = u.rind_ok(&["exec", &id, "sh", "-c", "id -u; cat /ready; hostname"]);
    assert_eq!(out, "0\nstarted\nrind\n");
    let code = u.rind(&["exec", &id, "sh", "-c", "exit 7"]).status.code();
    assert_eq!(code, Some(7));

    // list shows it; kill and delete end it.
    assert_eq!(u.rind_ok(&["list", "-q"]).trim(), id);
    u.rind_ok(&["kill", &id, "KILL"]);
    for _ in 0..200 {
        let s: serde_json::Value = serde_json::from_str(&u.rind_ok(&["state", &id])).unwrap();
        if s["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    u.rind_ok(&["delete", &id]);
    assert!(!u.state_root().join(&id).exists());
    // Gone, or a zombie that its new parent has yet to reap.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
}

#[test]
fn kill_all_without_a_cgroup_reaches_the_container() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let b = u.bundle("sleep 1000 & exec sleep 1000");
    let id = common::unique("rl-killall");
    u.rind_ok(&["run", "-d", "--bundle", b.path(), &id]);
    let state: serde_json::Value = serde_json::from_str(&u.rind_ok(&["state", &id])).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let err = u.rind_fails(&["pause", &id]);
    assert!(err.contains("no cgroup of its own"), "{err}");
    u.rind_ok(&["kill", "--all", &id, "KILL"]);
    for _ in 0..200 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    u.rind_ok(&["delete", &id]);
}

#[test]
fn subordinate_ranges_go_through_newuidmap() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let mut b = u.bundle("id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups");
    // Container root is the user; ids 1..=65536 are its subordinate ranges.
    b.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": u.subuid.0, "size": u.subuid.1}]);
    b.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": u.gid, "size": 1},
        {"containerID": 1, "hostID": u.subgid.0, "size": u.subgid.1}]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1001]});
    b.write();
    let id = common::unique("rl-sub");
    let out = u.rind(&["run", "--bundle", b.path(), &id]);
    assert!(out.status.success(), "{out:?}");
    let lines = words(&out);
    let s = |v: u32| v.to_string();
    assert_eq!(
        lines,
        vec![
            vec![s(1000)],
            vec![s(0), s(u.uid), s(1)],
            vec![s(1), s(u.subuid.0), s(u.subuid.1)],
            vec![s(0), s(u.gid), s(1)],
            vec![s(1), s(u.subgid.0), s(u.subgid.1)],
            // newgidmap leaves setgroups allowed: additionalGids work.
            vec!["allow".to_string()],
        ]
    );

    // A process of the container runs as a subordinate uid on the host.
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.write();
    let id = common::unique("rl-sub2");
    u.rind_ok(&["run", "-d", "--bundle", b.path(), &id]);
    let state: serde_json::Value = serde_json::from_str(&u.rind_ok(&["state", &id])).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", state["pid"])).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let host = (u.subuid.0 + 999).to_string();
    assert!(
        uid_line.split_whitespace().skip(1).all(|f| f == host),
        "{uid_line}"
    );
    u.rind_ok(&["delete", "--force", &id]);
}

#[test]
fn a_mapping_outside_the_users_ranges_is_refused_before_anything_runs() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let mut b = u.bundle("true");
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    b.write();
    let id = common::unique("rl-badmap");
    let err = u.rind_fails(&["run", "--bundle", b.path(), &id]);
    assert!(
        err.contains("linux.uidMappings") && err.contains("host ids 0-0"),
        "{err}"
    );
    assert!(!u.state_root().join(&id).exists());
    // Somebody else's range is not the user's either.
    let Some(other) = TestUser::new() else {
        return;
    };
    b.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": other.subuid.0, "size": 10}]);
    b.write();
    let err = u.rind_fails(&["run", "--bundle", b.path(), &id]);
    assert!(
        err.contains("linux.uidMappings") && err.contains("/etc/subuid gives"),
        "{err}"
    );
}

#[test]
fn what_needs_privilege_is_refused_naming_the_field() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let id = common::unique("rl-refuse");
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "linux.resources.memory",
            Box::new(|c| c["linux"]["resources"] = json!({"memory": {"limit": 100000000}})),
        ),
        (
            "linux.resources.pids",
            Box::new(|c| c["linux"]["resources"] = json!({"pids": {"limit": 10}})),
        ),
        (
            "process.oomScoreAdj -500",
            Box::new(|c| c["process"]["oomScoreAdj"] = json!(-500)),
        ),
        (
            "linux.sysctl \"kernel.hostname\"",
            Box::new(|c| {
                c["linux"]["sysctl"] = json!({"kernel.hostname": "x"});
            }),
        ),
        (
            "option gid=5: gid 5 is not mapped",
            Box::new(|c| {
                c["mounts"][2]["options"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("gid=5"))
            }),
        ),
        (
            "(/mnt): an id-mapped mount",
            Box::new(|c| {
                c["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/mnt", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "idmap"]}))
            }),
        ),
        (
            "linux.namespaces: a rootless container needs a user namespace",
            Box::new(|c| {
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.retain(|n| n["type"] != "user");
                c["linux"].as_object_mut().unwrap().remove("uidMappings");
                c["linux"].as_object_mut().unwrap().remove("gidMappings");
            }),
        ),
    ];
    for (want, edit) in cases {
        let mut b = u.bundle("true");
        edit(&mut b.config);
        b.write();
        let err = u.rind_fails(&["run", "--bundle", b.path(), &id]);
        assert!(err.contains(want), "want {want:?} in: {err}");
        assert!(
            !err.contains('\n') || err.trim_end().lines().count() == 1,
            "{err}"
        );
        assert!(!u.state_root().join(&id).exists());
    }
    // Raising oom_score_adj is allowed.
    let mut b = u.bundle("cat /proc/self/oom_score_adj");
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.write();
    assert_eq!(text(&u.rind(&["run", "--bundle", b.path(), &id])), "500\n");
}

#[test]
fn directories_and_flags_fail_clearly() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let mut c = u.command(&common::rind_bin(), &["list"]);
    c.env_remove("XDG_RUNTIME_DIR");
    let out = u.output(c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("XDG_RUNTIME_DIR is not set"), "{err}");
    let mut c = u.command(&common::rind_bin(), &["list"]);
    c.env("XDG_RUNTIME_DIR", "/root");
    let out = u.output(c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("XDG_RUNTIME_DIR=/root") && err.contains("not to you"),
        "{err}"
    );
    // --root still works without XDG_RUNTIME_DIR.
    let root = u.home.join("state");
    let mut c = u.command(
        &common::rind_bin(),
        &["--root", root.to_str().unwrap(), "list", "-q"],
    );
    c.env_remove("XDG_RUNTIME_DIR");
    assert!(u.output(c).status.success());
    let err = u.rind_fails(&["--rootless", "false", "list"]);
    assert!(
        err.contains("--rootless false") && err.contains("not root"),
        "{err}"
    );
    let err = u.rind_fails(&["--rootless", "maybe", "list"]);
    assert!(err.contains("want true, false or auto"), "{err}");
    assert!(u.rind(&["--rootless", "true", "list"]).status.success());
}

#[test]
fn the_user_gains_nothing_on_the_host() {
    let Some(u) = TestUser::new() else {
        return;
    };
    // A root-owned host file, bound read-write into the container: root in the container is
    // the user on the host, who may not write it.
    let victim = common::TempDir::new("rl-victim");
    let file = victim.path().join("secret");
    std::fs::write(&file, "host\n").unwrap();
    std::fs::set_permissions(
        victim.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut b = u.bundle("echo pwned >> /mnt/secret; echo pwned > /mnt2/new; ls -ln /mnt/secret");
    let m = |src: &std::path::Path, dst: &str| json!({"destination": dst, "type": "bind", "source": src, "options": ["rbind", "rw"]});
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(m(&file, "/mnt/secret"));
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(m(victim.path(), "/mnt2"));
    b.write();
    let id = common::unique("rl-nothing");
    let out = u.rind(&["run", "--bundle", b.path(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Permission denied") || err.contains("denied"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host\n");
    assert!(!victim.path().join("new").exists());
    // Host root shows as the overflow id inside: unmapped.
    assert!(text(&out).contains(" 65534 "), "{out:?}");
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), 0);

    // Another user's containers are invisible and out of reach.
    let Some(other) = TestUser::new() else {
        return;
    };
    let ob = other.bundle("exec sleep 1000");
    let oid = common::unique("rl-other");
    other.rind_ok(&["run", "-d", "--bundle", ob.path(), &oid]);
    assert_eq!(u.rind_ok(&["list", "-q"]), "");
    let theirs = other.state_root();
    let err = u.rind_fails(&["--root", theirs.to_str().unwrap(), "kill", &oid, "KILL"]);
    assert!(err.contains("permission denied"), "{err}");
    let err = u.rind_fails(&[
        "--root",
        theirs.to_str().unwrap(),
        "delete",
        "--force",
        &oid,
    ]);
    assert!(err.contains("permission denied"), "{err}");
    let s: serde_json::Value = serde_json::from_str(&other.rind_ok(&["state", &oid])).unwrap();
    assert_eq!(s["status"], "running");
    // Not even a signal by pid.
    let pid = s["pid"].as_i64().unwrap();
    let c = u.command(std::path::Path::new("kill"), &["-9", &pid.to_string()]);
    assert!(!u.output(c).status.success());
    other.rind_ok(&["delete", "--force", &oid]);
}

#[test]
fn image_store_defaults_to_the_users_data_home_and_is_private() {
    let Some(u) = TestUser::new() else {
        return;
    };
    u.rind_ok(&["image", "ls", "-q"]);
    let store = u.home.join(".local/share/rind");
    let md = std::fs::metadata(&store).unwrap();
    assert_eq!(md.uid(), u.uid);
    assert_eq!(md.mode() & 0o777, 0o700);
    let mut c = u.command(&common::rind_bin(), &["image", "ls", "-q"]);
    let data = u.home.join("data");
    c.env("XDG_DATA_HOME", &data);
    assert!(u.output(c).status.success());
    assert!(data.join("rind").is_dir());
}

#[test]
fn a_terminal_works_as_a_user() {
    if !common::require_tool("script") {
        return;
    }
    let Some(u) = TestUser::new() else {
        return;
    };
    let mut b = u.bundle("[ -t 0 ] && [ -t 1 ] && echo on-a-tty; id -u");
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let id = common::unique("rl-tty");
    // script(1) gives rind a terminal of the user's own to proxy.
    let line = format!(
        "{} run --bundle {} {id}",
        common::rind_bin().display(),
        b.path()
    );
    let mut c = u.command(
        std::path::Path::new("script"),
        &["-qec", &line, "/dev/null"],
    );
    // script's input stays open until the end: at end of input script types ^D into its
    // terminal, and a ^D that arrives before rind puts that terminal in raw mode is kept by the
    // line discipline as a NUL byte, which rind then passes on to the container's terminal
    // (echoed as "^@": the flake this test had with /dev/null as input).
    let (input, keep_open) = nix::unistd::pipe().unwrap();
    c.stdin(std::process::Stdio::from(input));
    let out = u.output(c);
    drop(keep_open);
    assert!(out.status.success(), "{out:?}");
    let t = text(&out).replace('\r', "");
    assert!(t.contains("on-a-tty\n0\n"), "{t:?}");
}

/// The host's view of a file in the user's store: the first layer (or container directory)
/// under `under` that has `rel`, with its owner.
fn stored_owner(under: &std::path::Path, rel: &str) -> (u32, u32) {
    for layer in std::fs::read_dir(under).unwrap().flatten() {
        if let Ok(m) = std::fs::symlink_metadata(layer.path().join("diff").join(rel)) {
            return (m.uid(), m.gid());
        }
    }
    panic!("no layer under {} has {rel}", under.display());
}

/// What a store's `containers/` holds (nothing once every container is removed).
fn bundles(u: &TestUser) -> Vec<String> {
    match std::fs::read_dir(u.store().join("containers")) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// An image without opaque directories (which any filesystem can hold): its owners through
/// the subordinate ids, and its root an overlayfs the container mounted itself, or, where
/// overlayfs cannot be mounted in a user namespace on the home's filesystem, a copy.
#[test]
fn an_image_runs_as_a_user_from_its_own_overlayfs_or_a_copy() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let layout = u.layout();
    u.rind_ok(&["image", "pull", "-q", &layout.source("busybox")]);
    let layers = u.store().join("layers/sha256");
    assert_eq!(
        stored_owner(&layers, "home/tester"),
        (u.subuid.0 + 999, u.subgid.0 + 999)
    );
    let out = u.rind(&[
        "--trace",
        "run",
        "--rm",
        "-w",
        "/",
        "--image",
        &layout.stored("busybox"),
        "--",
        "id -u; stat -c '%u:%g' /home/tester /etc/passwd; \
         awk '$5 == \"/\" { print $9 }' /proc/self/mountinfo",
    ]);
    assert!(out.status.success(), "{out:?}");
    let lines = words(&out);
    assert_eq!(
        lines[..3],
        [
            vec!["1000".to_string()],
            vec!["1000:1000".to_string()],
            vec!["0:0".to_string()]
        ]
    );
    // The steps taken in the store's user namespace come back into `--trace`.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("store: make the container's root, as root of a user namespace of its own")
            && err.contains("prepared ")
            && err.contains(" root\n"),
        "{err}"
    );
    let fstype = lines[3][0].as_str();
    eprintln!("root filesystem of a user's image container: {fstype}");
    if u.home_has_user_xattrs() {
        assert_eq!(fstype, "overlay");
    }
    assert!(bundles(&u).is_empty(), "{:?}", bundles(&u));
}

/// The user's store runs as root of a user namespace with its subordinate ids: an image's
/// owners are kept (the host sees the subordinate ids), its opaque directory and whiteouts
/// work (`user.overlay.*`), the container mounts the overlayfs itself and sees the image as
/// root would, and the files its users write, and the image's layers, go when the container
/// and the image are removed.
#[test]
fn an_image_keeps_its_owners_through_the_users_subordinate_ids() {
    let Some(u) = TestUser::new() else {
        return;
    };
    if !u.home_has_user_xattrs() {
        common::skip("the home's filesystem has no user xattrs (tmpfs before Linux 6.6)");
        return;
    }
    let layout = u.layout();
    let src = layout.source("whiteouts");
    let out = u.rind(&["image", "pull", &src]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("owned by you"),
        "{out:?}"
    );
    let (sub_u, sub_g) = (u.subuid.0, u.subgid.0);
    let layers = u.store().join("layers/sha256");
    // Seen from the host: image id N is subordinate id start + N - 1; root is the user.
    assert_eq!(
        stored_owner(&layers, "opt/data"),
        (sub_u + 1233, sub_g + 5677)
    );
    assert_eq!(
        stored_owner(&layers, "home/fresh"),
        (sub_u + 999, sub_g + 999)
    );
    assert_eq!(stored_owner(&layers, "opt/suid"), (u.uid, u.gid));

    let image = layout.stored("whiteouts");
    let script = "id -u; cat /proc/self/uid_map; \
        stat -c '%n %u:%g %a' /home/fresh /home/fresh/note /opt/data /opt/suid; \
        ls /home; ls /etc/hostname 2>/dev/null || echo no-hostname; \
        awk '$5 == \"/\" { print $9 }' /proc/self/mountinfo";
    let name = common::unique("rlimg");
    let out = u.rind(&[
        "run", "--rm", "-w", "/", "--image", &image, &name, "--", script,
    ]);
    assert!(out.status.success(), "{out:?}");
    let s = |v: u32| v.to_string();
    assert_eq!(
        words(&out),
        vec![
            vec![s(1000)],
            vec![s(0), s(u.uid), s(1)],
            vec![s(1), s(sub_u), s(u.subuid.1)],
            vec!["/home/fresh".into(), "1000:1000".into(), "750".into()],
            vec!["/home/fresh/note".into(), "1000:100".into(), "640".into()],
            vec!["/opt/data".into(), "1234:5678".into(), "600".into()],
            vec!["/opt/suid".into(), "0:0".into(), "4755".into()],
            // The opaque /home hides the lower layer's /home/tester.
            vec!["fresh".into()],
            vec!["no-hostname".into()],
            vec!["overlay".into()],
        ]
    );
    assert!(bundles(&u).is_empty(), "{:?}", bundles(&u));

    // A file the image's user writes lands in the container's upper directory with that
    // user's subordinate id; removing the container removes it.
    // The container also plants symbolic links to the user's own files on the host: removing
    // its upper directory, as root of the store's user namespace, must unlink them, never
    // follow them.
    let keep = u.home.join("keep");
    std::fs::create_dir(&keep).unwrap();
    std::fs::write(keep.join("file"), b"host\n").unwrap();
    u.give(&keep);
    let plant = format!(
        "ln -s {k}/file /home/fresh/to-file && ln -s {k} /home/fresh/to-dir && echo mine > /home/fresh/mine && sleep 1000",
        k = keep.display()
    );
    let name = common::unique("rlkeep");
    u.rind_ok(&["run", "-d", "--image", &image, &name, "--", &plant]);
    let upper = u.store().join("containers").join(&name).join("upper");
    let mine = upper.join("home/fresh/mine");
    let mut tries = 0;
    while !mine.exists() && tries < 200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        tries += 1;
    }
    let m = std::fs::metadata(&mine).unwrap();
    assert_eq!((m.uid(), m.gid()), (sub_u + 999, sub_g + 999));
    assert_eq!(
        u.rind_ok(&["exec", &name, "stat", "-c", "%u", "/home/fresh/mine"]),
        "1000\n"
    );
    assert!(upper.join("home/fresh/to-dir").is_symlink());
    u.rind_ok(&["rm", "-f", &name]);
    assert!(!upper.exists());
    assert_eq!(std::fs::read(keep.join("file")).unwrap(), b"host\n");
    assert!(bundles(&u).is_empty(), "{:?}", bundles(&u));

    // A copy (`image mount` as a user) keeps the owners too, and goes whole.
    let dir = common::TempDir::new("rl-mount");
    std::os::unix::fs::chown(dir.path(), Some(u.uid), Some(u.gid)).unwrap();
    let target = dir.path().join("root");
    let out = u.rind_ok(&["image", "mount", &image, target.to_str().unwrap()]);
    assert!(out.ends_with(" Copy\n"), "{out}");
    let m = std::fs::symlink_metadata(target.join("rootfs/opt/data")).unwrap();
    assert_eq!((m.uid(), m.gid()), (sub_u + 1233, sub_g + 5677));
    // The copy applies the opaque mark as overlayfs does.
    let home: Vec<String> = std::fs::read_dir(target.join("rootfs/home"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(home, vec!["fresh".to_string()]);
    u.rind_ok(&["image", "unmount", target.to_str().unwrap()]);
    assert!(!target.join("rootfs").exists());

    // The image's layers, owned by subordinate ids, go with the image.
    u.rind_ok(&["image", "rm", &image]);
    let out = u.rind_ok(&["image", "prune"]);
    assert!(out.contains("2 layer(s)"), "{out}");
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 0);

    // A limit is refused by name where no cgroup is delegated.
    let err = u.rind_fails(&[
        "run", "--rm", "--memory", "100m", "--image", &src, "--", "true",
    ]);
    assert!(err.contains("linux.resources.memory"), "{err}");
}

/// The store's layers hold files of the subordinate ids it was made with: when the user's
/// ranges move, rind refuses the store, naming the old and new maps, rather than give new
/// files owners from the other range.
#[test]
fn a_store_whose_subordinate_ids_moved_is_refused() {
    let Some(mut u) = TestUser::new() else {
        return;
    };
    let layout = u.layout();
    u.rind_ok(&["image", "pull", "-q", &layout.source("busybox")]);
    let old = u.subuid;
    u.move_ranges();
    assert_ne!(old.0, u.subuid.0);
    let err = u.rind_fails(&["image", "pull", "-q", &layout.source("whiteouts")]);
    assert!(
        err.contains(&format!("1-65536 as {}-{}", old.0, old.0 + 65535))
            && err.contains(&format!("1-65536 as {}-{}", u.subuid.0, u.subuid.0 + 65535))
            && err.contains("/etc/subuid"),
        "{err}"
    );
}

/// Without subordinate ids the store's files are the user's (with a warning), opaque
/// directories still work, and an image user the container cannot map is refused by name.
#[test]
fn without_subordinate_ids_an_image_runs_with_squashed_owners() {
    let Some(u) = TestUser::new() else {
        return;
    };
    if !u.home_has_user_xattrs() {
        common::skip("the home's filesystem has no user xattrs (tmpfs before Linux 6.6)");
        return;
    }
    u.drop_ranges();
    let layout = u.layout();
    let out = u.rind(&["image", "pull", &layout.source("whiteouts")]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("owned by you"),
        "{out:?}"
    );
    let layers = u.store().join("layers/sha256");
    assert_eq!(stored_owner(&layers, "opt/data"), (u.uid, u.gid));
    let image = layout.stored("whiteouts");
    let err = u.rind_fails(&["run", "--rm", "--image", &image, "--", "true"]);
    assert!(
        err.contains("process.user.uid 1000 is not mapped") && err.contains("/etc/subuid"),
        "{err}"
    );
    let out = u.rind(&[
        "run",
        "--rm",
        "-u",
        "0",
        "-w",
        "/",
        "--image",
        &image,
        "--",
        "cat /proc/self/uid_map; stat -c '%u:%g' /opt/data; ls /home",
    ]);
    assert!(out.status.success(), "{out:?}");
    let s = |v: u32| v.to_string();
    assert_eq!(
        words(&out),
        vec![
            vec![s(0), s(u.uid), s(1)],
            vec!["0:0".to_string()],
            vec!["fresh".to_string()],
        ]
    );
    assert!(bundles(&u).is_empty(), "{:?}", bundles(&u));
}

#[test]
fn a_new_network_namespace_has_only_loopback() {
    let Some(u) = TestUser::new() else {
        return;
    };
    let mut b = u.bundle("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network"}));
    b.write();
    let id = common::unique("rl-net");
    let out = u.rind(&["run", "--bundle", b.path(), &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out), "lo\n");
}
