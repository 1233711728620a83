//! CVE-2023-28642: a symlinked `/proc` in the image. The runtime mounted procfs wherever the
//! symlink led, and the `/proc` the container and the runtime's later writes used was not the
//! procfs that had the masks and read-only paths, nor, for the LSM label, procfs at all
//! (a regression of CVE-2019-19921's fix). The same holds for `/sys`.
//!
//! rind mounts proc and sysfs only on an ordinary directory reached without a symlink, and
//! refuses otherwise with runc's words ("must be mounted on ordinary directory").

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn a_symlinked_proc_is_refused() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    plant_file(&b, "/fakeproc/self/attr/exec", "");
    plant_file(&b, "/fakeproc/sys/net/ipv4/ip_forward", "0\n");
    plant_symlink(&b, "/proc", "/fakeproc");
    b.config["process"]["apparmorProfile"] = json!("rind-cve-2023-28642");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    let err = rt.run_fails(&b, &unique("cve-28642"));
    assert!(
        err.contains("filesystem \"proc\" must be mounted on ordinary directory"),
        "{err}"
    );
    let read = |f: &str| std::fs::read_to_string(b.rootfs().join(f)).unwrap();
    assert_eq!(read("fakeproc/self/attr/exec"), "");
    assert_eq!(read("fakeproc/sys/net/ipv4/ip_forward"), "0\n");
}

#[test]
fn a_symlinked_sys_is_refused() {
    let rt = Runtime::new();
    let b = bundle("true");
    std::fs::create_dir_all(b.rootfs().join("fakesys")).unwrap();
    plant_symlink(&b, "/sys", "/fakesys");
    let err = rt.run_fails(&b, &unique("cve-28642"));
    assert!(
        err.contains("filesystem \"sysfs\" must be mounted on ordinary directory"),
        "{err}"
    );
}

/// A `/proc` that is a regular file is refused the same way.
#[test]
fn a_proc_that_is_a_file_is_refused() {
    let rt = Runtime::new();
    let b = bundle("true");
    std::fs::remove_dir_all(b.rootfs().join("proc")).unwrap();
    plant_file(&b, "/proc", "");
    let err = rt.run_fails(&b, &unique("cve-28642"));
    assert!(
        err.contains("must be mounted on ordinary directory"),
        "{err}"
    );
}
