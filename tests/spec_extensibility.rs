//! The runtime spec's extensibility rule: "Runtimes that are reading or processing this
//! configuration file MUST NOT generate an error if they encounter an unknown property"
//! (config.md). runtime-tools' `misc_props` checks it; engines add properties before runtimes
//! know them.

mod common;

use common::*;
use serde_json::json;

fn bundle_with_unknown_properties() -> Bundle {
    let mut b = Bundle::sh("echo ran; cat /proc/self/status | grep ^NoNewPrivs");
    b.config["vendorExtension"] = json!({"nested": [1, 2, 3]});
    b.config["process"]["futureKnob"] = json!(true);
    b.config["linux"]["somethingNew"] = json!("x");
    b.config["mounts"][0]["extraField"] = json!(1);
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "newerFlag": "x",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "comment": "ignored"}]
    });
    b
}

#[test]
fn unknown_properties_are_ignored_and_the_known_ones_still_apply() {
    let rt = Runtime::new();
    let mut b = bundle_with_unknown_properties();
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "echo ran; grep ^NoNewPrivs /proc/self/status; mkdir /tmp/x 2>/dev/null || echo mkdir denied"
    ]);
    let out = rt.output_of(&b);
    assert!(out.starts_with("ran\n"), "{out}");
    // The properties beside the unknown ones were read: no_new_privs and the seccomp rule.
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("mkdir denied"), "{out}");
}

#[test]
fn debug_names_each_ignored_property() {
    let rt = Runtime::new();
    let b = bundle_with_unknown_properties();
    b.write();
    let id = unique("ext");
    let out = rt.run(&[
        "--debug",
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for name in [
        "vendorExtension",
        "process.futureKnob",
        "linux.somethingNew",
        "mounts.0.extraField",
        "linux.seccomp.newerFlag",
        "linux.seccomp.syscalls.0.comment",
    ] {
        assert!(
            err.contains(&format!("unknown property {name:?} ignored")),
            "{name} not named: {err}"
        );
    }
}

#[test]
fn a_known_property_with_a_wrong_value_is_still_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.config["process"]["noNewPrivileges"] = json!("yes");
    b.write();
    let err = rt.fails(&[
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique("ext"),
    ]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("config.json"), "{err}");
}
