use anyhow::Result;
use serde_json::json;

use crate::linux::{mount_options, seccomp};

/// The OCI features document (runtime-spec features.md): only what rind really supports.
pub fn run() -> Result<i32> {
    let caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let mut caps = caps;
    caps.sort();
    let doc = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::spec::SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options::KNOWN_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": seccomp::SUPPORTED_ACTIONS,
                "operators": seccomp::SUPPORTED_OPERATORS,
                "archs": seccomp::SUPPORTED_ARCHES,
                "knownFlags": seccomp::SUPPORTED_FLAGS,
                "supportedFlags": seccomp::SUPPORTED_FLAGS
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.runtime": "rind",
            "org.opencontainers.runtime-spec.features.runtime.version": env!("CARGO_PKG_VERSION")
        }
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(0)
}
