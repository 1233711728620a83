//! The container's filesystem view: pivot_root and --no-pivot, the read-only root, the spec's
//! mounts (kernel filesystems, tmpfs, binds with their flags and recursive attributes),
//! targets created inside the rootfs only, and mounts refused inside /proc. Propagation is in
//! mount_propagation.rs.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

fn mountinfo_of(rt: &Runtime, b: &mut Bundle, script: &str) -> (Vec<MountEntry>, String) {
    b.config["process"]["args"] =
        json!(["sh", "-c", format!("{script}; cat /proc/self/mountinfo")]);
    let out = rt.output_of(b);
    (parse_mountinfo(&out), out)
}

/// Mount points a container built from the default spec has (and nothing else).
fn expected_mount_point(p: &str) -> bool {
    p == "/"
        || ["/proc", "/dev", "/sys"]
            .iter()
            .any(|d| p == *d || p.starts_with(&format!("{d}/")))
}

fn check_no_host_mounts(entries: &[MountEntry], b: &Bundle, marker: &HostMount) {
    assert!(!entries.is_empty());
    for m in entries {
        assert!(
            expected_mount_point(&m.mount_point),
            "host mount visible inside: {m:?}"
        );
        assert_ne!(m.mount_point, marker.0.to_str().unwrap());
    }
    let root = mount_at(entries, "/").expect("a root mount");
    assert!(
        root.root.ends_with(&format!(
            "{}/rootfs",
            b.path().file_name().unwrap().to_str().unwrap()
        )),
        "/ is the bundle's rootfs: {root:?}"
    );
}

#[test]
fn pivot_root_leaves_no_host_mount_visible() {
    let rt = Runtime::new();
    let host = TempDir::new("marker");
    let marker = HostMount::tmpfs(&host.path().join("m"));
    let mut b = Bundle::new();
    let script = format!("test -e {} && echo HOST-VISIBLE", marker.0.display());
    let (entries, out) = mountinfo_of(&rt, &mut b, &script);
    assert!(!out.contains("HOST-VISIBLE"), "{out}");
    check_no_host_mounts(&entries, &b, &marker);
}

#[test]
fn no_pivot_moves_the_rootfs_to_slash_and_hides_host_mounts() {
    let rt = Runtime::new();
    let host = TempDir::new("marker");
    let marker = HostMount::tmpfs(&host.path().join("m"));
    let mut b = Bundle::new();
    std::fs::write(b.rootfs().join("in-rootfs"), "yes\n").unwrap();
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        format!(
            "cat /in-rootfs; test -e {} && echo HOST-VISIBLE; cat /proc/self/mountinfo",
            marker.0.display()
        )
    ]);
    b.write();
    let id = unique("nopivot");
    let out = rt.run(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("yes"), "{text}");
    assert!(!text.contains("HOST-VISIBLE"), "{text}");
    check_no_host_mounts(&parse_mountinfo(&text), &b, &marker);
}

#[test]
fn readonly_root_refuses_writes_and_writable_root_accepts_them() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("touch /new-file 2>&1; echo rc=$?");
    b.config["root"]["readonly"] = json!(true);
    let out = rt.output_of(&b);
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!b.rootfs().join("new-file").exists());

    let mut b = Bundle::sh("touch /new-file && echo made");
    b.config["root"]["readonly"] = json!(false);
    assert_eq!(rt.output_of(&b).trim(), "made");
    assert!(b.rootfs().join("new-file").exists());
}

#[test]
fn kernel_filesystems_are_mounted_with_the_spec_flags() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let (entries, out) = mountinfo_of(&rt, &mut b, "touch /sys/x 2>&1");
    assert!(out.contains("Read-only file system"), "{out}");
    let get = |p: &str| mount_at(&entries, p).unwrap_or_else(|| panic!("no {p}: {out}"));
    assert_eq!(get("/proc").fstype, "proc");
    let sys = get("/sys");
    assert_eq!(sys.fstype, "sysfs");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(sys.has_option(o), "/sys {o}: {sys:?}");
    }
    let mq = get("/dev/mqueue");
    assert_eq!(mq.fstype, "mqueue");
    assert!(mq.has_option("nodev") && mq.has_option("noexec"), "{mq:?}");
    let pts = get("/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(pts.has_super_option("ptmxmode=666"), "{pts:?}");
    let shm = get("/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    assert!(shm.has_super_option("size=65536k"), "{shm:?}");
}

#[test]
fn tmpfs_size_and_mode_options_apply() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.add_mount(
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "size=1m", "mode=1770"]}),
    );
    let (entries, out) = mountinfo_of(
        &rt,
        &mut b,
        "stat -c mode=%a /data; dd if=/dev/zero of=/data/f bs=1024 count=2048 2>&1",
    );
    assert!(out.contains("mode=1770"), "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    let m = mount_at(&entries, "/data").unwrap();
    assert_eq!(m.fstype, "tmpfs");
    assert!(m.has_option("nosuid"), "{m:?}");
    assert!(m.has_super_option("size=1024k"), "{m:?}");
    assert!(m.has_super_option("mode=1770"), "{m:?}");
}

#[test]
fn cgroup_mount_is_rooted_at_the_container_cgroup() {
    let rt = Runtime::new();
    let v2 = cgroup_v2();
    let procs = if v2 {
        "/sys/fs/cgroup/cgroup.procs"
    } else {
        "/sys/fs/cgroup/pids/cgroup.procs"
    };
    let mut b = Bundle::new();
    let (entries, out) = mountinfo_of(&rt, &mut b, &format!("echo procs: $(cat {procs})"));
    // Inside the cgroup namespace, the container's cgroup is the mount's root and holds pid 1.
    let procs_line = out.lines().find(|l| l.starts_with("procs:")).unwrap();
    assert!(procs_line.split_whitespace().any(|p| p == "1"), "{out}");
    let cg: Vec<&MountEntry> = entries
        .iter()
        .filter(|m| m.fstype.starts_with("cgroup"))
        .collect();
    assert!(!cg.is_empty(), "{out}");
    for m in &cg {
        assert_eq!(m.root, "/", "{m:?}");
        assert!(m.has_option("ro"), "{m:?}");
        assert!(m.mount_point.starts_with("/sys/fs/cgroup"), "{m:?}");
    }
    if v2 {
        assert_eq!(
            mount_at(&entries, "/sys/fs/cgroup").unwrap().fstype,
            "cgroup2"
        );
    } else {
        assert_eq!(
            mount_at(&entries, "/sys/fs/cgroup").unwrap().fstype,
            "tmpfs"
        );
        for c in ["memory", "pids", "devices", "freezer"] {
            let m = mount_at(&entries, &format!("/sys/fs/cgroup/{c}"))
                .unwrap_or_else(|| panic!("no {c} hierarchy: {out}"));
            assert!(m.super_options.iter().any(|o| o == c), "{m:?}");
        }
    }
}

#[test]
fn cgroup_mount_without_cgroup_namespace_binds_the_container_cgroup() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.drop_namespace("cgroup");
    b.config["process"]["args"] = json!(["cat", "/proc/self/mountinfo"]);
    let id = unique("cgbind");
    let out = rt.run_bundle(&b, &id);
    assert!(out.status.success());
    let entries = parse_mountinfo(&String::from_utf8_lossy(&out.stdout));
    let pids = if cgroup_v2() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/pids"
    };
    let m = mount_at(&entries, pids).unwrap();
    assert!(m.root.ends_with(&format!("/{id}")), "{m:?}");
}

#[test]
fn bind_mounts_of_dirs_and_files_honour_ro_and_rw() {
    let rt = Runtime::new();
    let ro = TempDir::new("ro-src");
    let rw = TempDir::new("rw-src");
    let file_dir = TempDir::new("file-src");
    std::fs::write(ro.path().join("hello"), "from-host\n").unwrap();
    let file = file_dir.path().join("single");
    std::fs::write(&file, "one-file\n").unwrap();
    let mut b = Bundle::new();
    b.add_bind(ro.path(), "/ro", &["ro"]);
    b.add_bind(rw.path(), "/rw", &[]);
    b.add_bind(&file, "/etc/single", &[]);
    let (entries, out) = mountinfo_of(
        &rt,
        &mut b,
        "cat /ro/hello; touch /ro/x 2>&1; echo written > /rw/new; cat /etc/single; \
         echo changed > /etc/single",
    );
    assert!(out.contains("from-host"), "{out}");
    assert!(out.contains("touch: /ro/x: Read-only file system"), "{out}");
    assert!(out.contains("one-file"), "{out}");
    assert_eq!(
        std::fs::read_to_string(rw.path().join("new")).unwrap(),
        "written\n"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "changed\n");
    assert!(mount_at(&entries, "/ro").unwrap().has_option("ro"));
    assert!(mount_at(&entries, "/rw").unwrap().has_option("rw"));
    assert!(mount_at(&entries, "/etc/single").is_some(), "{out}");
}

#[test]
fn type_bind_without_a_bind_option_is_a_bind_mount() {
    let rt = Runtime::new();
    let src = TempDir::new("typebind-src");
    std::fs::write(src.path().join("f"), "typed\n").unwrap();
    let mut b = Bundle::new();
    b.add_mount(
        json!({"destination": "/typed", "type": "bind", "source": src.path(),
                       "options": ["ro"]}),
    );
    let (entries, out) = mountinfo_of(&rt, &mut b, "cat /typed/f");
    assert!(out.starts_with("typed\n"), "{out}");
    assert!(mount_at(&entries, "/typed").unwrap().has_option("ro"));
}

#[test]
fn nosuid_nodev_noexec_binds_carry_the_flags_and_block_exec_and_devices() {
    let rt = Runtime::new();
    let src = TempDir::new("noexec-src");
    let script = src.path().join("run-me");
    std::fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::sys::stat::mknod(
        &src.path().join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let mut b = Bundle::new();
    b.add_bind(src.path(), "/noexec", &["nosuid", "nodev", "noexec"]);
    b.add_bind(src.path(), "/exec", &[]);
    let (entries, out) = mountinfo_of(
        &rt,
        &mut b,
        "/exec/run-me; /noexec/run-me 2>/dev/null || echo exec-denied; \
         echo x > /exec/null && echo dev-ok; \
         (echo x > /noexec/null) 2>/dev/null || echo dev-denied",
    );
    for word in ["ran", "exec-denied", "dev-ok", "dev-denied"] {
        assert!(out.lines().any(|l| l == word), "{word}: {out}");
    }
    let m = mount_at(&entries, "/noexec").unwrap();
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(m.has_option(o), "{o}: {m:?}");
    }
    assert!(!mount_at(&entries, "/exec").unwrap().has_option("noexec"));
}

#[test]
fn rro_makes_submounts_read_only_and_ro_only_the_top() {
    let rt = Runtime::new();
    let src = TempDir::new("rro-src");
    let _sub = HostMount::tmpfs(&src.path().join("sub"));
    let mut b = Bundle::new();
    b.add_mount(
        json!({"destination": "/r", "type": "bind", "source": src.path(),
                       "options": ["rbind", "rro"]}),
    );
    b.add_mount(
        json!({"destination": "/t", "type": "bind", "source": src.path(),
                       "options": ["rbind", "ro"]}),
    );
    let (entries, out) = mountinfo_of(
        &rt,
        &mut b,
        "touch /r/sub/a 2>&1; touch /t/sub/b && echo top-only",
    );
    assert!(
        out.contains("touch: /r/sub/a: Read-only file system"),
        "{out}"
    );
    assert!(out.contains("top-only"), "{out}");
    assert!(mount_at(&entries, "/r/sub").unwrap().has_option("ro"));
    assert!(mount_at(&entries, "/t").unwrap().has_option("ro"));
    assert!(mount_at(&entries, "/t/sub").unwrap().has_option("rw"));
}

#[test]
fn missing_mount_targets_are_created_in_the_rootfs() {
    let rt = Runtime::new();
    let src = TempDir::new("target-src");
    std::fs::write(src.path().join("f"), "file\n").unwrap();
    let mut b = Bundle::sh("cat /deep/file/target; ls -d /a/b/c");
    b.add_bind(&src.path().join("f"), "/deep/file/target", &["ro"]);
    b.add_mount(json!({"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"}));
    let out = rt.output_of(&b);
    assert_eq!(out, "file\n/a/b/c\n");
    assert!(b.rootfs().join("deep/file/target").is_file());
    assert!(b.rootfs().join("a/b/c").is_dir());
}

#[test]
fn an_absolute_symlink_in_the_rootfs_cannot_send_a_mount_target_to_the_host() {
    let rt = Runtime::new();
    let name = unique("rind-escape");
    let host_target = std::env::temp_dir().join(&name);
    let mut b = Bundle::sh("grep -c ' /mnt' /proc/self/mountinfo || true");
    std::os::unix::fs::symlink(&host_target, b.rootfs().join("mnt")).unwrap();
    b.add_mount(json!({"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs"}));
    rt.output_of(&b);
    assert!(
        !host_target.exists(),
        "created on the host: {}",
        host_target.display()
    );
    let inside = b
        .rootfs()
        .join(host_target.strip_prefix("/").unwrap())
        .join("x");
    assert!(
        inside.is_dir(),
        "target not created inside: {}",
        inside.display()
    );

    // A host directory that does exist at the symlink's target stays untouched.
    let existing = TempDir::new("escape-existing");
    let mut b = Bundle::sh("true");
    std::os::unix::fs::symlink(existing.path(), b.rootfs().join("mnt")).unwrap();
    b.add_mount(json!({"destination": "/mnt/y/z", "type": "tmpfs", "source": "tmpfs"}));
    rt.output_of(&b);
    assert_eq!(std::fs::read_dir(existing.path()).unwrap().count(), 0);
}

#[test]
fn a_dotdot_symlink_in_the_rootfs_cannot_climb_out() {
    let rt = Runtime::new();
    let name = unique("rind-climb");
    let mut b = Bundle::sh("true");
    std::os::unix::fs::symlink("../../..", b.rootfs().join("up")).unwrap();
    b.add_mount(
        json!({"destination": format!("/up/{name}/d"), "type": "tmpfs",
                       "source": "tmpfs"}),
    );
    rt.output_of(&b);
    for host in [
        std::path::PathBuf::from("/").join(&name),
        std::env::temp_dir().join(&name),
        b.path().join(&name),
    ] {
        assert!(!host.exists(), "escaped to {}", host.display());
    }
    assert!(b.rootfs().join(&name).join("d").is_dir());
}

#[test]
fn mounts_inside_proc_are_refused_except_the_lxcfs_files() {
    let rt = Runtime::new();
    let src = TempDir::new("proc-src");
    std::fs::write(src.path().join("meminfo"), "MemTotal: 42 kB\n").unwrap();

    let mut b = Bundle::sh("head -1 /proc/meminfo");
    b.add_bind(&src.path().join("meminfo"), "/proc/meminfo", &["ro"]);
    assert_eq!(rt.output_of(&b), "MemTotal: 42 kB\n");

    for (dest, typ) in [
        ("/proc/sys/kernel", "bind"),
        ("/proc/../proc/sys", "bind"),
        ("/proc", "tmpfs"),
    ] {
        let mut b = Bundle::sh("true");
        b.add_mount(
            json!({"destination": dest, "type": typ, "source": src.path(),
                           "options": if typ == "bind" { json!(["bind"]) } else { json!([]) }}),
        );
        let id = unique("procmnt");
        let err = rt.run_fails(&b, &id);
        assert!(err.contains("/proc"), "{dest}: {err}");
        assert!(
            err.contains("not allowed") || err.contains("only a proc"),
            "{dest}: {err}"
        );
        assert!(!rt.root.path().join(&id).exists());
    }
}

#[test]
fn a_symlink_to_proc_in_the_rootfs_does_not_bypass_the_proc_check() {
    let rt = Runtime::new();
    let src = TempDir::new("proc-link-src");
    let mut b = Bundle::sh("ls /proc/sys/kernel >/dev/null && echo real-proc-sys");
    std::os::unix::fs::symlink("/proc", b.rootfs().join("myproc")).unwrap();
    b.add_bind(src.path(), "/myproc/sys", &[]);
    let id = unique("proclink");
    let out = rt.run_bundle(&b, &id);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bind over /proc/sys through a symlink must be refused; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("/proc/sys"), "{stderr}");
    assert!(stderr.contains("not allowed"), "{stderr}");
}
