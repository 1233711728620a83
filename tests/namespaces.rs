//! Namespaces: which ones a container gets, joining existing ones by path, and what each new
//! one changes inside (user id maps, time offsets, pid 1, the cgroup root).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use common::*;
use serde_json::json;

const ALL: &[&str] = &["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"];

/// Prints `name ns-link` for each namespace of the shell that runs the script.
fn ns_script() -> String {
    ALL.iter()
        .map(|n| format!("echo {n} $(readlink /proc/self/ns/{n});"))
        .collect()
}

fn parse_ns(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn inside_namespaces(rt: &Runtime, b: &mut Bundle) -> BTreeMap<String, String> {
    b.config["process"]["args"] = json!(["sh", "-c", ns_script()]);
    let got = parse_ns(&rt.output_of(b));
    assert_eq!(got.len(), ALL.len(), "{got:?}");
    got
}

#[test]
fn default_namespaces_are_new_and_the_others_are_the_hosts() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let inside = inside_namespaces(&rt, &mut b);
    for n in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_ne!(inside[n], host_ns(n), "{n} should be new");
    }
    for n in ["user", "time"] {
        assert_eq!(inside[n], host_ns(n), "{n} is not in the spec");
    }
}

#[test]
fn a_namespace_missing_from_the_spec_is_shared_with_the_host() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.set_namespaces(&["mount"]);
    b.config["hostname"] = json!(null);
    b.config["linux"]["sysctl"] = json!(null);
    let inside = inside_namespaces(&rt, &mut b);
    assert_ne!(inside["mnt"], host_ns("mnt"));
    for n in ["pid", "net", "ipc", "uts", "cgroup", "user", "time"] {
        assert_eq!(inside[n], host_ns(n), "{n} should be the host's");
    }
}

#[test]
fn joining_by_path_shares_the_other_containers_namespaces() {
    let rt = Runtime::new();
    let mut a = Bundle::sh("sleep 1000");
    a.config["hostname"] = json!("container-a");
    let id_a = unique("joina");
    rt.create(&a, &id_a);
    let pid_a = rt.state(&id_a)["pid"].as_i64().unwrap();
    let ns_a = |n: &str| {
        std::fs::read_link(format!("/proc/{pid_a}/ns/{n}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };

    let mut b = Bundle::new();
    b.set_namespaces(&["pid", "mount"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    for (typ, file) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
        ns.push(json!({"type": typ, "path": format!("/proc/{pid_a}/ns/{file}")}));
    }
    b.config["hostname"] = json!(null);
    b.config["process"]["args"] = json!(["sh", "-c", format!("{} hostname", ns_script())]);
    let out = rt.output_of(&b);
    let inside = parse_ns(&out);
    for n in ["net", "ipc", "uts"] {
        assert_eq!(inside[n], ns_a(n), "{n} should be container A's");
        assert_ne!(inside[n], host_ns(n));
    }
    assert_ne!(inside["pid"], ns_a("pid"), "B has its own pid namespace");
    assert_ne!(inside["mnt"], ns_a("mnt"));
    assert!(
        out.lines().any(|l| l == "container-a"),
        "B sees A's hostname: {out}"
    );
}

#[test]
fn joining_a_pid_namespace_runs_beside_the_other_init() {
    let rt = Runtime::new();
    let a = Bundle::sh("sleep 1000");
    let id_a = unique("pida");
    rt.create(&a, &id_a);
    rt.ok(&["start", &id_a]);
    let pid_a = rt.state(&id_a)["pid"].as_i64().unwrap();

    let mut b = Bundle::sh("echo pid=$$; ps -o pid,args");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "pid");
    ns.push(json!({"type": "pid", "path": format!("/proc/{pid_a}/ns/pid")}));
    let out = rt.output_of(&b);
    assert!(!out.contains("pid=1\n"), "B is not init there: {out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("sleep 1000")),
        "B sees A's init as pid 1: {out}"
    );
}

#[test]
fn pid_namespace_makes_the_process_pid_1() {
    let rt = Runtime::new();
    let b = Bundle::sh("echo $$; cat /proc/self/stat | cut -d' ' -f4");
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    assert_eq!(lines[1], "1", "cat's parent is pid 1: {out}");
}

#[test]
fn network_namespace_has_only_loopback() {
    let rt = Runtime::new();
    let b = Bundle::sh("tail -n +3 /proc/net/dev | cut -d: -f1");
    let out = rt.output_of(&b);
    let ifaces: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(ifaces, vec!["lo"]);
}

#[test]
fn loopback_is_up_in_every_new_network_namespace() {
    // Init unshares the network namespace and brings `lo` up: right after the clone (also
    // inside a new user namespace), or after joining another namespace by path (here the UTS
    // namespace of this test, the host's).
    let rt = Runtime::new();
    let script = "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; \
                  ping -c 1 -W 2 127.0.0.1 >/dev/null && echo pong";
    let plain = Bundle::sh(script);
    let mut userns = Bundle::sh(script);
    userns.add_user_namespace(100000, 100000, 65536);
    let mut joined = Bundle::sh(script);
    for ns in joined.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "uts" {
            ns["path"] = json!(format!("/proc/{}/ns/uts", std::process::id()));
        }
    }
    // A `net.*` sysctl that concerns lo: init makes sure lo is up before it writes one.
    let mut sysctl = Bundle::sh(&format!(
        "{script}; cat /proc/sys/net/ipv4/conf/lo/forwarding"
    ));
    sysctl.config["linux"]["sysctl"] = json!({"net.ipv4.conf.lo.forwarding": "1"});
    for (what, mut b) in [
        ("clone", plain),
        ("clone, userns", userns),
        ("after a join", joined),
        ("clone, net sysctl", sysctl),
    ] {
        // busybox ping needs a raw socket.
        for set in ["bounding", "effective", "permitted"] {
            b.config["process"]["capabilities"][set] = json!(["CAP_NET_RAW"]);
        }
        let out = rt.output_of(&b);
        let words: Vec<&str> = out.split_whitespace().collect();
        // operstate is "unknown" for lo when up ("down" when not); IFF_UP is bit 0 of flags.
        assert_eq!(words.first(), Some(&"unknown"), "{what}: {out}");
        let flags = u32::from_str_radix(words[1].trim_start_matches("0x"), 16).unwrap();
        assert_eq!(flags & 1, 1, "{what}: lo is up: {out}");
        assert!(words.contains(&"pong"), "{what}: {out}");
        if what.ends_with("sysctl") {
            assert_eq!(
                words.last(),
                Some(&"1"),
                "{what}: the sysctl is applied: {out}"
            );
        }
    }
}

#[test]
fn a_new_network_namespace_belongs_to_the_containers_user_namespace() {
    // Init unshares the network namespace after the clone made the user namespace: the user
    // namespace must own it, or the container could not configure its own network or mount
    // its sysfs.
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.add_user_namespace(100000, 100000, 65536);
    let id = unique("netowner");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let net = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    // NS_GET_USERNS: a descriptor of the user namespace that owns the namespace.
    // SAFETY: an ioctl on a live descriptor; it returns a new descriptor or -1.
    let owner = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&net), 0xb701) };
    assert!(
        owner >= 0,
        "NS_GET_USERNS: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `owner` is a fresh descriptor nobody else owns.
    let owner = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(owner) };
    let owner_ino = owner.metadata().unwrap().ino();
    let user_ino = std::fs::metadata(format!("/proc/{pid}/ns/user"))
        .unwrap()
        .ino();
    rt.ok(&["delete", "--force", &id]);
    assert_eq!(
        owner_ino, user_ino,
        "the container's user namespace owns its network namespace"
    );
    let host_user = std::fs::metadata("/proc/self/ns/user").unwrap().ino();
    assert_ne!(owner_ino, host_user);
}

#[test]
fn user_namespace_maps_root_to_the_given_host_ids() {
    let rt = Runtime::new();
    let shared = TempDir::new("userns-shared");
    std::fs::set_permissions(
        shared.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut b = Bundle::sh(
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
         touch /shared/made-inside",
    );
    b.add_user_namespace(100000, 200000, 65536);
    b.add_bind(shared.path(), "/shared", &[]);
    let out = rt.output_of(&b);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        vec!["0", "100000", "65536", "0", "200000", "65536", "0", "0"],
        "{out}"
    );
    let meta = std::fs::metadata(shared.path().join("made-inside")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 200000));
}

#[test]
fn user_namespace_has_a_new_user_ns_and_cannot_reach_host_root_files() {
    let rt = Runtime::new();
    let secret = TempDir::new("userns-secret");
    std::fs::write(secret.path().join("secret"), "x").unwrap();
    std::fs::set_permissions(
        secret.path().join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut b = Bundle::sh(&format!(
        "{} cat /secret/secret && echo READ || echo DENIED",
        ns_script()
    ));
    b.add_user_namespace(100000, 100000, 1000);
    b.add_bind(secret.path(), "/secret", &["ro"]);
    let out = rt.output_of(&b);
    let inside = parse_ns(&out);
    assert_ne!(inside["user"], host_ns("user"));
    assert!(
        out.contains("DENIED"),
        "root inside must not read a host root 0600 file: {out}"
    );
}

#[test]
fn time_namespace_offsets_shift_uptime() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/uptime; cat /proc/self/timens_offsets");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    let offset = 5 * 86400;
    b.config["linux"]["timeOffsets"] = json!({
        "boottime": {"secs": offset, "nanosecs": 0},
        "monotonic": {"secs": 2 * offset},
    });
    let before = host_uptime();
    let out = rt.output_of(&b);
    let after = host_uptime();
    let inside: f64 = out
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("uptime: {out}"));
    assert!(
        inside >= before + offset as f64 && inside <= after + offset as f64 + 1.0,
        "inside {inside}, host {before}..{after}, offset {offset}"
    );
    assert!(
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["monotonic", &(2 * offset).to_string(), "0"]),
        "{out}"
    );
}

fn host_uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn cgroup_namespace_shows_the_container_cgroup_as_root() {
    let rt = Runtime::new();
    let b = Bundle::sh("cat /proc/self/cgroup");
    let out = rt.output_of(&b);
    assert!(!out.is_empty());
    for line in out.lines() {
        assert!(line.ends_with(":/"), "not at the namespace root: {line}");
    }
}

#[test]
fn without_cgroup_namespace_the_host_cgroup_path_shows() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/cgroup");
    b.drop_namespace("cgroup");
    let id = unique("nocgns");
    let out = rt.run_bundle(&b, &id);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // On v1 some hierarchies may be left at the root; the ones rind placed init in end with id.
    assert!(
        text.lines().any(|l| l.ends_with(&format!("/{id}"))),
        "{text}"
    );
}

#[test]
fn ipc_namespace_hides_host_message_queues() {
    // A System V queue made on the host is invisible in a new IPC namespace.
    // SAFETY: msgget/msgctl with constant arguments.
    let q = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    assert!(q >= 0);
    struct Queue(i32);
    impl Drop for Queue {
        fn drop(&mut self) {
            // SAFETY: removes the queue created above.
            unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
    let _q = Queue(q);
    let host = std::fs::read_to_string("/proc/sysvipc/msg").unwrap();
    assert!(host.lines().count() >= 2, "host queue listed: {host}");
    let rt = Runtime::new();
    let b = Bundle::sh("cat /proc/sysvipc/msg");
    let out = rt.output_of(&b);
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
}

#[test]
fn joining_a_user_namespace_by_path_takes_its_id_maps() {
    let rt = Runtime::new();
    let mut a = Bundle::sh("sleep 1000");
    a.add_user_namespace(100000, 100000, 65536);
    let id_a = unique("usera");
    rt.create(&a, &id_a);
    let pid_a = rt.state(&id_a)["pid"].as_i64().unwrap();

    // B joins A's user and network namespaces; its new mount, IPC, UTS, cgroup and pid
    // namespaces then belong to A's user namespace.
    let mut b = Bundle::sh(&format!("{} cat /proc/self/uid_map; id -u", ns_script()));
    let st = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .unwrap();
    assert!(st.success());
    b.set_namespaces(&["pid", "mount", "ipc", "uts", "cgroup"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user", "path": format!("/proc/{pid_a}/ns/user")}));
    ns.push(json!({"type": "network", "path": format!("/proc/{pid_a}/ns/net")}));
    let out = rt.output_of(&b);
    let inside = parse_ns(&out);
    for n in ["user", "net"] {
        let a_ns = std::fs::read_link(format!("/proc/{pid_a}/ns/{n}")).unwrap();
        assert_eq!(inside[n], a_ns.to_string_lossy(), "{n}: {out}");
    }
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["0", "100000", "65536"]),
        "{out}"
    );
    assert!(out.ends_with("\n0\n"), "root in A's user namespace: {out}");
}

#[test]
fn a_new_time_namespace_without_offsets_is_still_new() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    let inside = inside_namespaces(&rt, &mut b);
    assert_ne!(inside["time"], host_ns("time"));
}

/// runtime-tools' `linux_ns_itype`: a spec with no namespace at all, mounts included. The
/// container inherits the runtime's mount namespace, so its mounts are made there (as runc
/// makes them), beneath a private bind of the rootfs, and it is entered by chroot. The
/// runtime runs in a mount namespace of this test's own whose `/` is shared, so that the test
/// can see that rind left that propagation alone (runc makes it a slave) and the mounts
/// (which outlive the container, as with runc) go away with the namespace.
#[test]
fn without_a_mount_namespace_mounts_are_made_in_the_runtimes_beneath_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "echo mnt $(readlink /proc/self/ns/mnt); test -c /dev/null && echo dev-ok; \
         test -r /proc/self/status && echo proc-ok; echo timer_list $(wc -c < /proc/timer_list); \
         touch /written 2>/dev/null || echo root-read-only",
    );
    b.set_namespaces(&[]);
    b.config["hostname"] = json!(null);
    b.config["linux"]["sysctl"] = json!(null);
    b.config["root"]["readonly"] = json!(true);
    b.write();
    let rootfs = b.rootfs();
    let id = unique("nomnt");
    let script = format!(
        "echo runtime $(readlink /proc/self/ns/mnt); \
         {rind} --root {root} run --bundle {bundle} {id} || echo rind failed; \
         echo root-mount $(awk '$5 == \"/\" {{ print $7 }}' /proc/self/mountinfo); \
         echo rootfs-mounts $(awk -v r={rootfs} 'index($5, r) == 1' /proc/self/mountinfo | wc -l); \
         echo rootfs-shared $(awk -v r={rootfs} '$5 == r && $7 ~ /shared/' /proc/self/mountinfo | wc -l)",
        rind = rind_bin().display(),
        root = rt.root.path().display(),
        bundle = b.path().display(),
        rootfs = rootfs.display(),
    );
    let out = std::process::Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "shared",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    let out =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in: {out}"))
            .to_string()
    };
    assert!(!out.contains("rind failed"), "{out}");
    assert_eq!(
        field("mnt"),
        field("runtime"),
        "the runtime's namespace: {out}"
    );
    for line in ["dev-ok", "proc-ok", "timer_list 0", "root-read-only"] {
        assert!(out.lines().any(|l| l == line), "{line}: {out}");
    }
    assert!(
        field("root-mount").starts_with("shared:"),
        "the propagation of / was changed: {out}"
    );
    let n: usize = field("rootfs-mounts").parse().unwrap();
    assert!(n >= 5, "the rootfs bind, /proc, /dev...: {out}");
    assert_eq!(
        field("rootfs-shared"),
        "0",
        "the rootfs bind is private: {out}"
    );
    // The read-only root was the bind's: the directory itself stays writable.
    std::fs::write(rootfs.join("still-writable"), "x").unwrap();
}
