//! Readonly paths keep the nosuid, nodev and noexec flags of the mount they come from (runc's
//! behaviour; podman's /proc/sys is the usual case).

mod common;

use common::*;

#[test]
fn readonly_proc_sys_keeps_nosuid_nodev_noexec() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6");
    b.config["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys"]);
    // podman's /proc mount; rind's default spec (like runc's) gives /proc no options.
    b.config["mounts"][0] = serde_json::json!({"destination": "/proc", "type": "proc",
        "source": "proc", "options": ["nosuid", "noexec", "nodev"]});
    let out = rt.output_of(&b);
    let flags: Vec<&str> = out.trim().split(',').collect();
    for want in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(
            flags.contains(&want),
            "/proc/sys mount flags {out:?} lack {want}"
        );
    }
}
