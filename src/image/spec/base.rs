//! The secure default runtime spec an image's container starts from.
//!
//! It is the shared default spec that `rind spec` writes (`crate::spec::default`: runc's mounts,
//! namespaces, masked and read-only paths and rlimits), with the differences images need. The
//! capabilities are the set containerd and Docker grant by default, because images are built
//! expecting them (package managers chown and setuid); runc's `spec` template keeps only
//! three, which breaks most images.

use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{Value, json};

/// The capabilities granted by default (containerd's `oci.defaultUnixCaps`).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Masked on top of runc's list (`crate::spec::default::MASKED_PATHS`), as containerd does:
/// RAPL energy counters leak what other tenants compute.
pub const EXTRA_MASKED_PATHS: &[&str] = &["/sys/devices/virtual/powercap"];

/// The default seccomp profile for image containers: Docker's default profile for the
/// default capability set, from the seccomp module (`crate::linux::seccomp`). This is the one
/// place to change or drop it; [`super::config_to_spec`] puts it into `linux.seccomp`.
pub fn default_seccomp() -> Option<LinuxSeccomp> {
    let caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    Some(crate::linux::seccomp::default_profile_for(&caps))
}

/// The base spec as JSON: the shared default spec (`crate::spec::default::default_spec`, what
/// `rind spec` writes) with the image-container differences: [`DEFAULT_CAPS`] without ambient
/// capabilities, a writable root, only `PATH` in the environment, [`EXTRA_MASKED_PATHS`], and
/// no seccomp profile yet ([`base_spec`] adds the one for these capabilities).
pub(crate) fn base_json() -> Value {
    let mut v = crate::spec::default::default_spec(false);
    v["process"]["capabilities"] = json!({
        "bounding": DEFAULT_CAPS,
        "effective": DEFAULT_CAPS,
        "permitted": DEFAULT_CAPS
    });
    v["process"]["env"] =
        json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    v["root"]["readonly"] = json!(false);
    if let Some(masked) = v["linux"]["maskedPaths"].as_array_mut() {
        for p in EXTRA_MASKED_PATHS {
            if !masked.iter().any(|m| m == p) {
                masked.push(json!(p));
            }
        }
    }
    if let Some(linux) = v["linux"].as_object_mut() {
        linux.remove("seccomp");
    }
    v
}

/// runc's default spec with the default capabilities and, when the hook provides one, the
/// default seccomp profile.
pub fn base_spec() -> Spec {
    let mut v = base_json();
    if let Some(s) = default_seccomp()
        && let Ok(s) = serde_json::to_value(s)
    {
        v["linux"]["seccomp"] = s;
    }
    // The JSON above is fixed and is checked by a unit test, so this cannot fail at run time.
    serde_json::from_value(v).expect("the base spec is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_spec_parses_and_keeps_runc_lists() {
        let s = base_spec();
        let linux = s.linux().as_ref().unwrap();
        use crate::spec::default::{MASKED_PATHS, READONLY_PATHS};
        let masked = linux.masked_paths().as_ref().unwrap();
        for p in MASKED_PATHS.iter().chain(EXTRA_MASKED_PATHS) {
            assert!(masked.iter().any(|m| m == p), "{p} is not masked");
        }
        assert_eq!(
            linux.readonly_paths().as_ref().unwrap().len(),
            READONLY_PATHS.len()
        );
        assert_eq!(s.root().as_ref().unwrap().readonly(), Some(false));
        assert!(linux.seccomp().is_some());
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), DEFAULT_CAPS.len());
        assert!(caps.ambient().is_none());
    }
}
