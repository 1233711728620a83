//! Root filesystem cases where runc's own integration suite (runc 1.1.5) found rind behaving
//! differently: each is run with rind and with runc on the same bundle, and both must agree.

mod common;

use std::process::Output;

use serde_json::json;

use common::*;

/// A bundle like runc's tests use: `sh -c script`, without rind's default seccomp profile
/// (runc's `spec` has none).
fn bundle(script: &str) -> Bundle {
    let mut b = Bundle::sh(script);
    b.config["linux"].as_object_mut().unwrap().remove("seccomp");
    b
}

fn rind_run(rt: &Runtime, b: &Bundle, flags: &[&str]) -> Output {
    b.write();
    let id = unique("c");
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--bundle", b.path().to_str().unwrap(), &id]);
    rt.run(&args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// With `--no-pivot` the host's procfs stayed in the container's mount namespace, which let
/// a process in a new user namespace mount a fresh, unmasked procfs. runc unmounts the host's
/// procfs and sysfs mounts first; so does rind: `mount` is refused in both.
#[test]
fn no_pivot_leaves_no_procfs_to_mount() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    b.config["process"]["args"] = json!([
        "unshare",
        "-mrpf",
        "sh",
        "-euxc",
        "mount -t proc none /proc && echo mounted"
    ]);
    for set in ["bounding", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SETFCAP"));
    }
    let check = |who: &str, out: &Output| {
        assert!(
            !out.status.success() && text(out).contains("mount: permission denied"),
            "{who}: {}",
            text(out)
        );
    };
    check("rind", &rind_run(&rt, &b, &["--no-pivot"]));
    if let Some(theirs) = runc_run(&b, &["--no-pivot"]) {
        check("runc", &theirs);
    }
}

/// A read-only `/dev` tmpfs: runc mounts it writable, makes the nodes, `/dev/pts` and the
/// console, and makes it read-only after; rind failed ("create /dev/pts: read-only file
/// system").
#[test]
fn a_read_only_dev_is_made_read_only_after_its_content() {
    let rt = Runtime::new();
    let mut b = bundle("grep '^tmpfs /dev ' /proc/mounts; ls /dev/pts/ptmx; touch /dev/x");
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    let check = |who: &str, out: &Output| {
        let t = text(out);
        assert!(t.contains("tmpfs /dev tmpfs ro,"), "{who}: {t}");
        assert!(t.contains("/dev/pts/ptmx"), "{who}: {t}");
        assert!(t.contains("Read-only file system"), "{who}: {t}");
    };
    check("rind", &rind_run(&rt, &b, &[]));
    if let Some(theirs) = runc_run(&b, &[]) {
        check("runc", &theirs);
    }
}

/// A container in the host's PID namespace with the host's `/proc` bound in (runc's "rootless
/// with host pidns" case): a bind of a procfs may go on `/proc`.
#[test]
fn a_bind_of_the_hosts_proc_may_go_on_proc() {
    let rt = Runtime::new();
    let mut b = bundle("test -e /proc/1/status && echo hello");
    b.drop_namespace("pid");
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["type"] == "proc" {
            *m = json!({"destination": "/proc", "type": "none", "source": "/proc",
                "options": ["rbind", "nosuid", "nodev", "noexec"]});
        }
    }
    let ours = rind_run(&rt, &b, &[]);
    assert!(
        ours.status.success() && text(&ours).contains("hello"),
        "{}",
        text(&ours)
    );
    // Anything else on /proc is still refused, a bind of a directory that is not procfs too.
    let other = TempDir::new("not-proc");
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/proc" {
            m["source"] = json!(other.path());
        }
    }
    let err = rt.run_fails(&b, &unique("c"));
    assert!(
        err.contains("only a proc filesystem may be mounted on /proc"),
        "{err}"
    );
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/proc" {
            m["source"] = json!("/proc");
        }
    }
    if let Some(theirs) = runc_run(&b, &[]) {
        assert!(
            theirs.status.success() && text(&theirs).contains("hello"),
            "runc: {}",
            text(&theirs)
        );
    }
}

/// A user-namespaced container whose bind mount sources its root cannot reach (mode 0700,
/// owned by the host's root): runc opens the sources before init enters the namespace, and
/// rind's runtime clones them for init.
#[test]
fn bind_sources_out_of_the_containers_reach_are_mounted_in_a_user_namespace() {
    let rt = Runtime::new();
    let sources = TempDir::new("sources");
    let mut b = bundle("stat -c %n /tmp/mount-1/foo.txt /tmp/mount-2/foo.txt");
    b.add_user_namespace(100000, 100000, 65536);
    for i in 1..=2 {
        let dir = sources.path().join(format!("inaccessible-{i}"));
        std::fs::create_dir_all(dir.join("dir")).unwrap();
        std::fs::write(dir.join("dir/foo.txt"), "").unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        b.add_bind(&dir.join("dir"), &format!("/tmp/mount-{i}"), &[]);
    }
    // The sources' parent must be reachable by the mapped root for runc's open to be needed
    // at all; the 0700 directories are what it cannot pass.
    std::fs::set_permissions(
        sources.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let check = |who: &str, out: &Output| {
        assert!(
            out.status.success() && text(out).contains("/tmp/mount-2/foo.txt"),
            "{who}: {}",
            text(out)
        );
    };
    check("rind", &rind_run(&rt, &b, &[]));
    if let Some(theirs) = runc_run(&b, &[]) {
        check("runc", &theirs);
    }
}
