//! CVE-2025-52881: procfs writes (and reads) redirected by the rootfs. The runtime writes
//! sysctls, `oom_score_adj`, LSM labels and more under `/proc`, and reads `setgroups`; through
//! a path, whatever the image or the container put at `/proc` decides where that goes. A
//! symlink to another procfs's `sys/fs/lease-break-time` turned a namespaced sysctl into a write
//! to the host's.
//!
//! rind reaches procfs only through a descriptor on a verified procfs root, without following
//! a symlink or crossing a mount (`linux/procfs.rs`).

use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

const LEASE: &str = "/proc/sys/fs/lease-break-time";

/// A value for the bait sysctl that differs from the host's lease-break-time.
fn bait(host: &HostValue) -> String {
    (host.original.parse::<u64>().unwrap() + 1234).to_string()
}

fn assert_host_untouched(host: &HostValue, out: &Output) {
    let (now, same) = host.unchanged();
    assert!(
        same,
        "the host's {LEASE} went from {} to {now}: {}",
        host.original,
        both(out)
    );
}

/// The reproduction: no procfs at `/proc`, one at `/p`, and in the image
/// `/proc/sys/net/ipv4/tcp_keepalive_time -> /p/sys/fs/lease-break-time`. A network sysctl
/// (allowed: the container has its own network namespace) must not become a write to the
/// host's `fs.lease-break-time`.
#[test]
fn a_sysctl_symlinked_into_another_procfs_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostValue::new(LEASE);
    let mut b = bundle("cat /p/sys/net/ipv4/tcp_keepalive_time");
    drop_mounts(&mut b, &["/proc"]);
    b.add_mount(json!({"destination": "/p", "type": "proc", "source": "proc"}));
    b.config["linux"]["sysctl"] = json!({"net.ipv4.tcp_keepalive_time": bait(&host)});
    plant_symlink(
        &b,
        "/proc/sys/net/ipv4/tcp_keepalive_time",
        "/p/sys/fs/lease-break-time",
    );
    let out = rt.run_bundle(&b, &unique("cve-52881"));
    assert_host_untouched(&host, &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("sysctl net.ipv4.tcp_keepalive_time"),
        "a sysctl with no procfs at /proc must be refused: {}",
        both(&out)
    );
}

/// The same through a bind of the host's `/proc/sys` (outside `/proc`, so the spec may ask
/// for it) instead of a second procfs.
#[test]
fn a_sysctl_symlinked_into_a_bind_of_the_hosts_proc_sys_never_reaches_the_host() {
    let rt = Runtime::new();
    let host = HostValue::new(LEASE);
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/proc"]);
    b.add_bind(std::path::Path::new("/proc/sys"), "/hostsys", &["rbind"]);
    b.config["linux"]["sysctl"] = json!({"net.ipv4.tcp_keepalive_time": bait(&host)});
    plant_symlink(
        &b,
        "/proc/sys/net/ipv4/tcp_keepalive_time",
        "/hostsys/fs/lease-break-time",
    );
    let out = rt.run_bundle(&b, &unique("cve-52881"));
    assert_host_untouched(&host, &out);
    assert!(!out.status.success(), "{}", both(&out));
}

/// With the container's own procfs at `/proc` (the normal case) a symlink cannot be there:
/// the sysctl lands in the container's network namespace and the host keeps its value.
#[test]
fn a_sysctl_goes_to_the_containers_namespace() {
    let rt = Runtime::new();
    let host = HostValue::new("/proc/sys/net/ipv4/tcp_keepalive_time");
    let mut b = bundle("cat /proc/sys/net/ipv4/tcp_keepalive_time");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.tcp_keepalive_time": "7301"});
    let (out, _) = rt.outputs_of(&b);
    assert_eq!(out.trim(), "7301");
    assert_eq!(host.unchanged().0, host.original);
}

/// A `/proc` that is not procfs at all: the image's own directory holding a fake `sys` tree.
/// The write must be refused, not land in the fake file.
#[test]
fn a_fake_proc_sys_tree_in_the_image_takes_no_write() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/proc"]);
    plant_file(&b, "/proc/sys/net/ipv4/tcp_keepalive_time", "7200\n");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.tcp_keepalive_time": "7301"});
    let out = rt.run_bundle(&b, &unique("cve-52881"));
    let fake =
        std::fs::read_to_string(b.rootfs().join("proc/sys/net/ipv4/tcp_keepalive_time")).unwrap();
    assert_eq!(
        fake, "7200\n",
        "the runtime wrote into the image's fake file"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not the root of a procfs"),
        "{}",
        both(&out)
    );
}

/// A tmpfs (or anything else but procfs) on `/proc` is refused before it is mounted.
#[test]
fn a_tmpfs_on_proc_is_refused() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/proc"]);
    b.add_mount(json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}));
    let err = rt.run_fails(&b, &unique("cve-52881"));
    assert!(
        err.contains("only a proc filesystem may be mounted on /proc"),
        "{err}"
    );
}

/// Binds of the host's `/proc/sys` over the container's are refused (a mount inside /proc).
#[test]
fn a_bind_of_the_hosts_proc_sys_over_the_containers_is_refused() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    b.add_bind(std::path::Path::new("/proc/sys"), "/proc/sys", &["rbind"]);
    let err = rt.run_fails(&b, &unique("cve-52881"));
    assert!(err.contains("mounts inside /proc are not allowed"), "{err}");
}

/// Runs `rind args...` with supplementary groups 4 and 27 (as an engine running as root with
/// groups of its own would), output through files.
fn run_with_groups(rt: &Runtime, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new("groups-out");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut cmd = Command::new(rind_bin());
    cmd.arg("--root")
        .arg(rt.root.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    // SAFETY: setgroups is async-signal-safe and touches nothing but the child's credentials.
    unsafe {
        cmd.pre_exec(|| {
            let groups: [libc::gid_t; 2] = [4, 27];
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// A read redirected the same way: an image with `/proc/self -> /fake` and `/fake/setgroups`
/// saying "deny" made the runtime skip `setgroups`, so the container's user kept the caller's
/// supplementary groups.
#[test]
fn a_fake_proc_self_setgroups_does_not_keep_the_callers_groups() {
    let rt = Runtime::new();
    let mut b = bundle("id -G");
    drop_mounts(&mut b, &["/proc"]);
    plant_file(&b, "/fake/setgroups", "deny\n");
    plant_symlink(&b, "/proc/self", "/fake");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let out = run_with_groups(
        &rt,
        &[
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &unique("cve"),
        ],
    );
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1000",
        "the container's user kept the caller's groups"
    );
}

/// The same for `exec`, which joins the container's mount namespace: a container that mounted
/// a tmpfs with a fake `self/setgroups` over its `/proc` must not make an exec'd process keep
/// the caller's groups.
#[test]
fn exec_into_a_container_with_a_fake_proc_does_not_keep_the_callers_groups() {
    let rt = Runtime::new();
    let mut b = bundle(
        "mount -t tmpfs fake /proc && mkdir /proc/self && echo deny > /proc/self/setgroups \
         && touch /ready && sleep 60",
    );
    b.add_capability("CAP_SYS_ADMIN");
    let id = unique("cve");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    wait_until(10, "the container's fake /proc", || {
        b.rootfs().join("ready").exists()
    });
    let out = run_with_groups(&rt, &["exec", "--user", "1000:1000", &id, "id", "-G"]);
    rt.ok(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1000",
        "the exec'd process kept the caller's groups"
    );
}
