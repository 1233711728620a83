//! CVE-2023-27561: CVE-2019-19921 again (runc 1.0.0-rc95 to 1.1.4 lost the check that `/proc`
//! is not a symlink). Here the image's real `/proc` directory is swapped, over and over, with a
//! symlink to a fake procfs tree while containers are created from it: whichever the runtime
//! finds at each step decides where procfs, its protections and the runtime's procfs writes go.
//!
//! What must hold in every container that starts, whatever the timing: no procfs in it has a
//! writable `/proc/sys` or an unmasked `/proc/keys`, and the fake tree never gets a write.

use std::path::Path;

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

/// For each of /proc and /proc-link that is a procfs in the container: whether its `sys` can
/// be written (the container's own `ip_forward`, rewritten with its value: a write that
/// changes nothing, refused on a read-only `/proc/sys`), and what its `keys` is. Each is
/// entered first, so that the swaps, which go on, cannot move the names under the checks.
const REPORT: &str = "for d in /proc /proc-link; do ( cd $d 2>/dev/null || exit 0; \
    [ \"$(stat -f -c %T .)\" = proc ] || exit 0; \
    v=$(cat sys/net/ipv4/ip_forward); \
    (echo $v > sys/net/ipv4/ip_forward) 2>/dev/null && echo \"WRITABLE $d/sys\"; \
    [ -e keys ] && echo \"KEYS $d $(stat -c '%F|%t:%T' keys)\" ); done; true";

#[test]
fn a_proc_swapped_with_a_symlink_during_create_keeps_its_protection() {
    let rt = Runtime::new();
    let mut b = bundle(REPORT);
    let fake = b.rootfs().join("fakeproc");
    std::fs::create_dir_all(fake.join("sys/net/ipv4")).unwrap();
    std::fs::write(fake.join("sys/net/ipv4/ip_forward"), "0\n").unwrap();
    std::fs::create_dir_all(fake.join("sys/kernel")).unwrap();
    std::fs::write(fake.join("sys/kernel/core_pattern"), "fake\n").unwrap();
    plant_symlink(&b, "/proc-link", "/fakeproc");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.write();
    let mut racer = Racer::start(&b.rootfs().join("proc"), &b.rootfs().join("proc-link"));
    let budget = Budget::new(100, 20);
    let (mut attempts, mut started, mut violations) = (0, 0, Vec::new());
    while budget.more(attempts) {
        attempts += 1;
        let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &unique("p")]);
        if !out.status.success() {
            continue;
        }
        started += 1;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let bad = line.starts_with("WRITABLE")
                || (line.starts_with("KEYS") && !line.ends_with("character special file|1:3"));
            if bad {
                violations.push(line.to_string());
            }
        }
    }
    let swaps = racer.stop();
    eprintln!("{attempts} attempts, {started} started, {swaps} swaps");
    assert!(
        swaps > 0,
        "the attacker never swapped: the race did not run"
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(
        read(&fake.join("sys/net/ipv4/ip_forward")),
        "0\n",
        "the sysctl went into the fake tree"
    );
    violations.sort();
    violations.dedup();
    assert!(violations.is_empty(), "{violations:?}");
}
