//! Configs that other tools wrote run with rind exactly as with runc 1.1.5.
//!
//! The corpus (rootfs-fixtures/foreign/configs.sh) is captured at build time from the real
//! tools: `runc spec` (and `--rootless`), and the config.json that podman 4.3, containerd
//! 1.6's ctr and dockerd 20.10 handed to a recording runtime. Each config runs twice, once with
//! rind and once with runc, on fresh copies of the busybox rootfs, with its process replaced by
//! a probe that prints what the container sees: ids, capabilities, no_new_privs and seccomp
//! mode, cwd, umask, hostname, environment, rlimits, oom_score_adj, which namespaces are the
//! host's, every mount (point, options, type, source, superblock options), /dev, the cgroup
//! membership and limits, the device cgroup, whether the root is writable, sysctls, masked
//! paths, what unshare(2) gives, the open descriptors. Exit codes and probe outputs must be the
//! same.
//!
//! Only what cannot be carried from the capture to the test is changed, the same way for both
//! runtimes: `root.path` (a fresh rootfs), `process.args` and `process.terminal`,
//! `linux.cgroupsPath` (a fresh path under the test's own cgroup), the bind sources the engine
//! made for the container (recreated empty, as the file or directory they were), and hooks
//! (dockerd's prestart hook calls back into the dockerd that wrote the config). The seccomp
//! variants replace `linux.seccomp` with a profile older than `close_range`, `clone3` and
//! `faccessat2`: the captured engine profile without the syscalls Docker's profile lacked before
//! 20.10 (many profiles in the wild are that old).

mod common;
mod foreign_support;

use std::fs;
use std::path::Path;

use foreign_support::*;
use serde_json::{Value, json};

const PROBE: &str = r#"
echo "id: $(id)"
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
echo "cwd: $(pwd) umask: $(umask) hostname: $(hostname)"
echo "env:"; env | sort
echo "rlimits:"; ulimit -a
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
echo "ns:"; for n in cgroup ipc mnt net pid pid_for_children time user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo "mounts:"; awk '{ for (i = 7; $i != "-"; i++); print $5, $6, $(i+1), $(i+2), $(i+3) }' /proc/self/mountinfo
echo "dev:"; for d in $(ls -A /dev); do stat -c '%n %F %a %u:%g %t:%T' /dev/$d; done
echo "cgroup:"; cat /proc/self/cgroup
echo "limits:"
for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares memory.max pids.max cpu.max; do
    [ -f /sys/fs/cgroup/$f ] && echo "$f $(cat /sys/fs/cgroup/$f)"
done
[ -f /sys/fs/cgroup/devices/devices.list ] && { echo "devices:"; cat /sys/fs/cgroup/devices/devices.list; }
echo "root: $( (touch /.probe-rw && rm /.probe-rw && echo rw) 2>/dev/null || echo ro)"
echo "sysctl: $(cat /proc/sys/kernel/shm_rmid_forced) $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>&1)"
echo "masked:"
for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats; do
    [ -e $p ] && echo "$p $(head -c 16 $p 2>&1 | wc -c)"
done
for p in /proc/acpi /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do [ -e $p ] && echo "$p $(ls $p 2>&1 | wc -l)"; done
echo "unshare: $(unshare -U true 2>&1; echo rc=$?)"
echo "fds: $(ls /proc/self/fd | tr '\n' ' ')"
exit 7
"#;

/// The captured config `name` with the parts that cannot be carried replaced (see the module
/// comment); `rootfs` and `cgroups` are this run's own.
fn rebase(mut c: Value, binds: &str, rootfs: &Path, cgroups: &str, scratch: &Path) -> Value {
    c["root"]["path"] = json!(rootfs);
    c["process"]["args"] = json!(["sh", "-c", PROBE]);
    c["process"]["terminal"] = json!(false);
    c["linux"]["cgroupsPath"] = json!(cgroups);
    if let Some(o) = c.as_object_mut() {
        o.remove("hooks");
    }
    let kinds: Vec<(&str, &str)> = binds.lines().filter_map(|l| l.split_once(' ')).collect();
    if let Some(mounts) = c["mounts"].as_array_mut() {
        for (i, m) in mounts.iter_mut().enumerate() {
            let dest = m["destination"].as_str().unwrap_or_default().to_string();
            let Some(&(kind, _)) = kinds.iter().find(|(_, d)| *d == dest) else {
                continue;
            };
            if Path::new(m["source"].as_str().unwrap_or_default()).exists() {
                continue;
            }
            let src = scratch.join(format!("bind-{i}"));
            if kind == "dir" {
                fs::create_dir_all(&src).unwrap();
            } else {
                fs::write(&src, "").unwrap();
            }
            m["source"] = json!(src);
        }
    }
    c
}

/// Replaces each namespace link with "host" or "new", and this run's cgroup path with
/// "<cgroup>", so that two runs' outputs compare. One deliberate difference is taken out: the
/// read-only flag of the tmpfs under a v1 `cgroup` mount (a spec that says `ro` gets a
/// read-only tmpfs from rind; runc 1.1.5 leaves it writable; docs/compatibility.md).
fn normalize(out: &str, cgroups: &str) -> String {
    let mut s = String::new();
    let mut in_ns = false;
    for line in out.lines() {
        if line == "ns:" {
            in_ns = true;
        } else if line.ends_with(':') {
            in_ns = false;
        }
        if in_ns && line != "ns:" {
            let (name, link) = line.split_once(' ').unwrap_or((line, ""));
            let host = fs::read_link(format!("/proc/self/ns/{name}"))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let which = match link {
                "" => "absent",
                l if l == host => "host",
                _ => "new",
            };
            s.push_str(&format!("{name} {which}\n"));
            continue;
        }
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() == 5 && f[0] == "/sys/fs/cgroup" && f[2] == "tmpfs" {
            let strip = |o: &str| {
                o.split(',')
                    .filter(|x| *x != "ro" && *x != "rw")
                    .collect::<Vec<_>>()
                    .join(",")
            };
            s.push_str(&format!(
                "{} {} tmpfs {} {}\n",
                f[0],
                strip(f[1]),
                f[3],
                strip(f[4])
            ));
            continue;
        }
        s.push_str(&line.replace(cgroups, "<cgroup>"));
        s.push('\n');
    }
    s
}

/// Runs `config` (with the bind kinds `binds`) with `runtime` on a fresh bundle; returns the
/// outcome with a normalized stdout.
fn run_config(runtime: &Path, config: &Value, binds: &str, tag: &str) -> Outcome {
    let dir = common::TempDir::new(&format!("foreign-{tag}"));
    let rootfs = dir.path().join("rootfs");
    copy_tree(&common::fixtures().join("busybox/rootfs"), &rootfs);
    let cgroups = format!(
        "{}/{}",
        own_cgroup_base(),
        common::unique(&format!("rind-foreign-{tag}"))
    );
    let c = rebase(config.clone(), binds, &rootfs, &cgroups, dir.path());
    fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec_pretty(&c).unwrap(),
    )
    .unwrap();
    let root = common::TempDir::new(&format!("foreign-root-{tag}"));
    let mut out = run_bundle(runtime, root.path(), dir.path(), &common::unique(tag));
    let left = remove_cgroup(&cgroups);
    assert!(left.is_empty(), "{tag}: cgroups left behind: {left:?}");
    out.stdout = normalize(&out.stdout, &cgroups);
    out
}

/// Runs `config` with rind and with runc and asserts the same exit code and probe output.
fn same_as_runc(name: &str, config: &Value, binds: &str) {
    let Some(runc) = runc() else { return };
    let theirs = run_config(&runc, config, binds, &format!("{name}-runc"));
    assert_eq!(
        theirs.code,
        Some(7),
        "{name}: runc itself did not run the probe (stdout: {} stderr: {})",
        theirs.stdout,
        theirs.stderr
    );
    let ours = run_config(&common::rind_bin(), config, binds, &format!("{name}-rind"));
    let d = line_diff(&ours.stdout, &theirs.stdout);
    assert!(
        ours.code == theirs.code && d.is_empty(),
        "{name}: rind exited {:?} (runc {:?}); stderr: {}\nprobe lines that differ (- rind, + runc):\n{}",
        ours.code,
        theirs.code,
        ours.stderr,
        d.join("\n")
    );
}

/// The captured config `name` and its bind kinds.
fn captured(name: &str) -> (Value, String) {
    common::require_root();
    let dir = corpus("configs", "configs.sh");
    let config = serde_json::from_slice(&fs::read(dir.join(format!("{name}.json"))).unwrap())
        .unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let binds = fs::read_to_string(dir.join(format!("{name}.binds"))).unwrap_or_default();
    (config, binds)
}

fn check(name: &str) {
    let (config, binds) = captured(name);
    same_as_runc(name, &config, &binds);
}

/// Syscalls that Docker's default profile did not list before 20.10 (2020): a profile written
/// before them makes each one fail with the profile's default errno.
const NEWER_SYSCALLS: &[&str] = &[
    "close_range",
    "clone3",
    "faccessat2",
    "openat2",
    "epoll_pwait2",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    "process_madvise",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "memfd_secret",
    "futex_waitv",
    "process_mrelease",
    "mount_setattr",
    "quotactl_fd",
    "set_mempolicy_home_node",
];

/// The captured config `name` with its seccomp profile made older: every rule loses the
/// syscalls of NEWER_SYSCALLS, and rules left with no syscall go.
fn check_with_older_profile(name: &str) {
    let (mut config, binds) = captured(name);
    let rules = config["linux"]["seccomp"]["syscalls"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("{name} has no seccomp profile"));
    for r in rules.iter_mut() {
        if let Some(names) = r["names"].as_array_mut() {
            names.retain(|n| !NEWER_SYSCALLS.contains(&n.as_str().unwrap_or_default()));
        }
    }
    rules.retain(|r| r["names"].as_array().is_some_and(|n| !n.is_empty()));
    assert_ne!(
        config["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW",
        "{name}: an allow-by-default profile would not exercise the missing syscalls"
    );
    same_as_runc(&format!("{name}-older-profile"), &config, &binds);
}

#[test]
fn runc_spec() {
    check("runc-spec");
}

#[test]
fn runc_spec_rootless() {
    check("runc-spec-rootless");
}

#[test]
fn podman_default() {
    check("podman-default");
}

#[test]
fn podman_restricted() {
    check("podman-restricted");
}

#[test]
fn podman_privileged() {
    check("podman-privileged");
}

#[test]
fn ctr_default() {
    check("ctr-default");
}

#[test]
fn ctr_seccomp_limits() {
    check("ctr-seccomp-limits");
}

#[test]
fn ctr_privileged() {
    check("ctr-privileged");
}

#[test]
fn docker_default() {
    check("docker-default");
}

#[test]
fn docker_restricted() {
    check("docker-restricted");
}

#[test]
fn docker_privileged() {
    check("docker-privileged");
}

#[test]
fn docker_default_with_a_profile_older_than_close_range() {
    check_with_older_profile("docker-default");
}

#[test]
fn podman_default_with_a_profile_older_than_close_range() {
    check_with_older_profile("podman-default");
}

#[test]
fn ctr_seccomp_with_a_profile_older_than_close_range() {
    check_with_older_profile("ctr-seccomp-limits");
}
