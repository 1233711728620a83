//! /dev inside the container: the default nodes, `linux.devices`, the standard symlinks,
//! devpts, and the masked and read-only paths of the default spec.

mod common;

use common::*;
use serde_json::json;

/// `path major:minor mode type` for each path, as busybox stat prints it (major and minor in
/// hex).
fn stat_lines(paths: &[&str]) -> String {
    paths
        .iter()
        .map(|p| format!("stat -c '%n %t:%T %a %F %u:%g' {p};"))
        .collect()
}

#[test]
fn default_devices_have_the_right_numbers_and_mode_0666() {
    let rt = Runtime::new();
    let want = [
        ("/dev/null", "1:3"),
        ("/dev/zero", "1:5"),
        ("/dev/full", "1:7"),
        ("/dev/random", "1:8"),
        ("/dev/urandom", "1:9"),
        ("/dev/tty", "5:0"),
    ];
    let paths: Vec<&str> = want.iter().map(|(p, _)| *p).collect();
    let b = Bundle::sh(&stat_lines(&paths));
    let out = rt.output_of(&b);
    for (path, numbers) in want {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{path} ")))
            .unwrap_or_else(|| panic!("{path} missing: {out}"));
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[1], numbers, "{line}");
        assert_eq!(f[2], "666", "{line}");
        assert!(line.contains("character special file"), "{line}");
    }
}

#[test]
fn default_devices_behave_like_the_real_ones() {
    let rt = Runtime::new();
    let b = Bundle::sh(
        "echo x > /dev/null && echo null-ok; \
         head -c 4 /dev/zero | od -An -tx1; \
         head -c 16 /dev/urandom | wc -c; \
         dd if=/dev/zero of=/dev/full bs=1 count=1 2>&1 || true",
    );
    let (out, err) = rt.outputs_of(&b);
    assert!(out.contains("null-ok"), "{out}");
    assert!(out.contains("00 00 00 00"), "{out}");
    assert!(out.lines().any(|l| l.trim() == "16"), "{out}");
    assert!(
        format!("{out}{err}").contains("No space left on device"),
        "/dev/full: {out} {err}"
    );
}

/// A spec with no device rules of its own (as ctr writes them) still gets the default device
/// policy: a node the container makes for a host device outside the defaults (here /dev/kmsg,
/// 1:11, which needs no capability to write) cannot be opened. Before, the container's cgroup
/// kept its parent's "allow every device".
#[test]
fn without_device_rules_in_the_spec_only_the_default_devices_open() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "mknod /tmp/kmsg c 1 11 && echo made; \
         (echo rind-device-test > /tmp/kmsg) 2>&1 && echo opened; \
         echo x > /dev/null && echo null-ok",
    );
    b.config["linux"]["resources"] = json!(null);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = json!(["CAP_MKNOD"]);
    }
    b.write();
    let (out, err) = rt.outputs_of(&b);
    assert!(
        out.contains("made"),
        "mknod is allowed (c *:* m): {out} {err}"
    );
    assert!(
        !out.contains("opened"),
        "a host device outside the defaults opened: {out}"
    );
    assert!(out.contains("Operation not permitted"), "{out} {err}");
    assert!(out.contains("null-ok"), "{out}");
}

#[test]
fn spec_devices_are_created_with_mode_and_owner() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(&format!(
        "{} echo hi > /dev/mynull && echo write-ok",
        stat_lines(&["/dev/mynull", "/dev/sub/myzero"])
    ));
    // The owner (uid 1000) may write it; root without CAP_DAC_OVERRIDE could not.
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
         "fileMode": 0o640, "uid": 1000, "gid": 100},
        {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5},
    ]);
    let out = rt.output_of(&b);
    assert!(
        out.contains("/dev/mynull 1:3 640 character special file 1000:100"),
        "{out}"
    );
    assert!(
        out.contains("/dev/sub/myzero 1:5 666 character special file 0:0"),
        "{out}"
    );
    assert!(
        out.contains("write-ok"),
        "the device cgroup allows it: {out}"
    );
}

#[test]
fn dev_has_the_standard_symlinks() {
    let rt = Runtime::new();
    let links = ["fd", "stdin", "stdout", "stderr", "ptmx"];
    let script: String = links
        .iter()
        .map(|l| format!("echo {l} $(readlink /dev/{l});"))
        .collect();
    let b = Bundle::sh(&script);
    let out = rt.output_of(&b);
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        assert!(
            out.lines().any(|l| l == format!("{name} {target}")),
            "/dev/{name} -> {target}: {out}"
        );
    }
}

#[test]
fn devpts_is_a_new_instance_and_ptmx_opens_a_pty() {
    let rt = Runtime::new();
    // Opening /dev/ptmx makes /dev/pts/0 in this instance, whatever the host has.
    let b = Bundle::sh("ls /dev/pts; exec 3<>/dev/ptmx; echo --; ls /dev/pts");
    let out = rt.output_of(&b);
    let (before, after) = out.split_once("--\n").unwrap();
    assert_eq!(before.split_whitespace().collect::<Vec<_>>(), vec!["ptmx"]);
    assert_eq!(
        after.split_whitespace().collect::<Vec<_>>(),
        vec!["0", "ptmx"]
    );
}

#[test]
fn masked_files_read_empty_as_dev_null_and_masked_dirs_are_empty() {
    let rt = Runtime::new();
    // /proc/kcore is not on every kernel; /proc/keys and /proc/timer_list are masked too.
    let files: Vec<&str> = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    assert!(!files.is_empty());
    let mut script = stat_lines(&files);
    for f in &files {
        script.push_str(&format!("echo {f} bytes $(wc -c < {f});"));
    }
    script
        .push_str("echo firmware $(ls -A /sys/firmware | wc -l); touch /sys/firmware/x 2>&1; true");
    let b = Bundle::sh(&script);
    let out = rt.output_of(&b);
    for f in &files {
        assert!(
            out.contains(&format!("{f} 1:3 666 character special file")),
            "{f} masked by /dev/null: {out}"
        );
        assert!(out.contains(&format!("{f} bytes 0")), "{f} empty: {out}");
    }
    assert!(out.contains("firmware 0"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

#[test]
fn every_masked_directory_is_an_empty_read_only_mount_of_its_own() {
    // The first masked directory gets a tmpfs and the others bind it: each must still be a
    // mount at its own path, empty, and refuse writes, also in a container with full
    // capabilities over them (root, the default spec's capabilities).
    let rt = Runtime::new();
    let dirs: Vec<&str> = ["/sys/firmware", "/sys/kernel", "/proc/driver", "/proc/tty"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).is_dir())
        .collect();
    assert!(dirs.len() >= 2, "need two directories to mask: {dirs:?}");
    let script: String = dirs
        .iter()
        .map(|d| {
            format!(
                "echo {d} entries $(ls -A {d} | wc -l); touch {d}/x 2>/dev/null || echo {d} \
                 refused; echo {d} mounts $(cut -d' ' -f5 /proc/self/mountinfo | grep -cx {d});"
            )
        })
        .collect();
    let mut b = Bundle::sh(&script);
    b.config["linux"]["maskedPaths"] = json!(dirs);
    let out = rt.output_of(&b);
    for d in &dirs {
        for want in ["entries 0", "refused", "mounts 1"] {
            assert!(out.contains(&format!("{d} {want}")), "{d} {want}: {out}");
        }
    }
}

#[test]
fn readonly_paths_refuse_writes() {
    let rt = Runtime::new();
    // Files under each read-only path of the default spec, where this kernel has them.
    let files: Vec<&str> = [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/irq/default_smp_affinity",
        "/proc/sysrq-trigger",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).exists())
    .collect();
    let mut script: String = files.iter().map(|f| format!("echo 1 > {f};")).collect();
    script.push_str("cat /proc/sys/kernel/ostype");
    let b = Bundle::sh(&script);
    let (out, err) = rt.outputs_of(&b);
    let all = format!("{out}{err}");
    assert_eq!(
        all.matches("Read-only file system").count(),
        files.len(),
        "every write refused: {all}"
    );
    assert!(out.contains("Linux"), "still readable: {out}");
}

#[test]
fn without_masks_the_same_paths_are_the_kernels() {
    // The counterpart of the two tests above: with empty lists the paths are the real ones,
    // so those tests see the masks, not the kernel.
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "stat -c '%F' /proc/keys; echo 1 > /proc/sys/net/ipv4/ip_forward && \
         cat /proc/sys/net/ipv4/ip_forward",
    );
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = json!(["CAP_NET_ADMIN"]);
    }
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    let out = rt.output_of(&b);
    assert!(out.starts_with("regular"), "{out}");
    assert!(out.ends_with("1\n"), "written in the private netns: {out}");
}

#[test]
fn in_a_user_namespace_devices_are_bound_from_the_host() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(&format!(
        "{} echo x > /dev/null && echo null-ok",
        stat_lines(&["/dev/null"])
    ));
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    let out = rt.output_of(&b);
    assert!(
        out.contains("/dev/null 1:3 666 character special file"),
        "{out}"
    );
    assert!(out.contains("null-ok"), "{out}");
}

#[test]
fn spec_devices_never_touch_a_dev_bound_from_the_host() {
    // A stand-in for the host's /dev: a null node (the masks bind it) and a regular file where
    // linux.devices asks for a node.
    let host_dev = TempDir::new("host-dev");
    nix::sys::stat::mknod(
        &host_dev.path().join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let precious = host_dev.path().join("mynull");
    std::fs::write(&precious, "host file\n").unwrap();
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /dev/mynull");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    b.add_mount(
        json!({"destination": "/dev", "type": "bind", "source": host_dev.path(),
                       "options": ["rbind"]}),
    );
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3}]);
    assert_eq!(rt.output_of(&b), "host file\n");
    assert!(
        precious.is_file(),
        "the host's file was replaced by a device node"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "host file\n");
}

#[test]
fn a_spec_device_path_that_climbs_out_of_dev_is_refused() {
    let rt = Runtime::new();
    for path in ["/dev/../etc/passwd", "/etc/evil", "/dev"] {
        let mut b = Bundle::sh("true");
        b.config["linux"]["devices"] = json!([
            {"path": path, "type": "c", "major": 1, "minor": 3}]);
        let id = unique("devpath");
        let err = rt.run_fails(&b, &id);
        assert!(err.contains("devices must be under /dev"), "{path}: {err}");
        assert!(
            b.rootfs().join("etc/passwd").is_file(),
            "{path}: /etc/passwd replaced"
        );
        assert!(!rt.root.path().join(&id).exists());
    }
}

/// `linux.resources.devices` is the user's word on access: rind adds its fixed defaults after
/// the spec's rules and nothing for the entries of `linux.devices`. Docker's
/// `--device /dev/full:/dev/full:r` sends a deny-all, then `allow c 1:7 r`, and lists the
/// device; the device must stay read-only, as with runc (the default `rwm` for /dev/full is
/// left out because the spec lists the path itself).
#[test]
fn a_listed_device_gets_only_the_access_the_resource_rules_give() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "head -c 4 /dev/full | wc -c; { echo x > /dev/full; } 2>&1; \
         head -c 2 /dev/zero | wc -c",
    );
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666},
    ]);
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "r"},
    ]);
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines[0], "4", "read is allowed: {out}");
    assert!(
        lines[1].contains("Operation not permitted"),
        "write is refused by the device cgroup (not ENOSPC from the device): {out}"
    );
    assert_eq!(
        lines[2], "2",
        "the defaults still apply to other devices: {out}"
    );
}

/// The host's console (c 5:1) is not among the device rules every container gets: a
/// container's /dev/console is always its pty, bound there, and a root process with CAP_MKNOD
/// could otherwise make a node for the host's console and write to it (runc allows it no
/// access either).
#[test]
fn a_node_for_the_hosts_console_cannot_be_opened() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "mknod /tmp/console c 5 1 && echo made; { head -c 0 < /tmp/console && echo opened; } 2>&1; true",
    );
    b.add_capability("CAP_MKNOD");
    let out = rt.output_of(&b);
    assert!(out.starts_with("made\n"), "{out}");
    assert!(
        out.contains("Operation not permitted") && !out.contains("opened"),
        "{out}"
    );
}
