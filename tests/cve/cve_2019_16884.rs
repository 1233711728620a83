//! CVE-2019-16884: the LSM label written into something that is not procfs. The runtime
//! confines the program by writing `exec <profile>` to `/proc/self/attr/apparmor/exec` (or
//! `attr/exec`) before `execve`. A volume mounted over `/proc`, an image without procfs at
//! `/proc` but with those files, or (for `exec`) a tmpfs the container mounted over its own
//! `/proc`, took the write, and the program ran unconfined.
//!
//! rind writes the attribute through its verified procfs handle only (`linux/procfs.rs`,
//! `linux/security.rs`). On a host without AppArmor the write is then refused by the kernel
//! and `create` fails, which is also what runc does; the fake files stay untouched either way.

use serde_json::json;

use crate::common::*;
use crate::rootfs_attack::*;

const PROFILE: &str = "rind-cve-2019-16884";
const FAKES: [&str; 2] = ["/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"];

#[test]
fn the_apparmor_label_never_goes_into_fake_proc_files_of_the_image() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/proc"]);
    for f in FAKES {
        plant_file(&b, f, "");
    }
    b.config["process"]["apparmorProfile"] = json!(PROFILE);
    let out = rt.run_bundle(&b, &unique("cve-16884"));
    for f in FAKES {
        let got = std::fs::read_to_string(b.rootfs().join(f.trim_start_matches('/'))).unwrap();
        assert_eq!(
            got,
            "",
            "the label went into the image's {f}: {}",
            both(&out)
        );
    }
    assert!(
        !out.status.success(),
        "the program ran without its AppArmor profile: {}",
        both(&out)
    );
}

/// The original attack: a volume (a bind of a directory with the fake files) on `/proc`.
#[test]
fn a_volume_on_proc_is_refused() {
    let rt = Runtime::new();
    let fake = TempDir::new("fake-proc");
    std::fs::create_dir_all(fake.path().join("self/attr")).unwrap();
    std::fs::write(fake.path().join("self/attr/exec"), "").unwrap();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/proc"]);
    b.add_bind(fake.path(), "/proc", &["rbind"]);
    b.config["process"]["apparmorProfile"] = json!(PROFILE);
    let err = rt.run_fails(&b, &unique("cve-16884"));
    assert!(
        err.contains("only a proc filesystem may be mounted on /proc"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(fake.path().join("self/attr/exec")).unwrap(),
        ""
    );
}

/// `exec` joins the container's mount namespace, where the container decides what `/proc`
/// is: one that covered it with a tmpfs holding the attribute files must not get an exec'd
/// process run unconfined.
#[test]
fn exec_never_writes_the_label_into_a_tmpfs_over_proc() {
    let rt = Runtime::new();
    let mut b = bundle(
        "mount -t tmpfs fake /proc && mkdir -p /proc/self/attr/apparmor \
         && : > /proc/self/attr/exec && : > /proc/self/attr/apparmor/exec \
         && touch /ready && sleep 60",
    );
    b.add_capability("CAP_SYS_ADMIN");
    let id = unique("cve-16884");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    wait_until(10, "the container's fake /proc", || {
        b.rootfs().join("ready").exists()
    });
    let confined = rt.run(&["exec", "--apparmor", PROFILE, &id, "true"]);
    let fakes = rt.run(&[
        "exec",
        &id,
        "cat",
        "/proc/self/attr/exec",
        "/proc/self/attr/apparmor/exec",
    ]);
    rt.ok(&["delete", "--force", &id]);
    assert!(fakes.status.success(), "{}", both(&fakes));
    assert_eq!(
        String::from_utf8_lossy(&fakes.stdout),
        "",
        "the label went into the container's fake files"
    );
    assert!(
        !confined.status.success(),
        "the exec'd program ran without its AppArmor profile: {}",
        both(&confined)
    );
}
