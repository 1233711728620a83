//! Checks made on a spec before anything is created. Every known property rind cannot honour
//! is refused here with a clear error (unknown properties are ignored when the file is parsed,
//! as the runtime spec requires: see `spec::parse_config`).

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::SpecError;
use crate::linux::idmap;
use crate::linux::namespaces::NamespacePlan;
use crate::linux::sysctl;

/// Validates a spec for `create`/`run` and returns its namespace plan.
pub fn validate(spec: &Spec) -> Result<NamespacePlan, SpecError> {
    let invalid = |m: &str| Err(SpecError::Invalid(m.to_string()));
    let unsupported = |m: &str| Err(SpecError::Unsupported(m.to_string()));

    let Some(process) = spec.process() else {
        return invalid("process is missing");
    };
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return invalid("process.args must name a program"),
    }
    if !process.cwd().is_absolute() {
        return invalid(&format!(
            "process.cwd {:?} must be an absolute path",
            process.cwd()
        ));
    }
    for kv in process.env().iter().flatten() {
        if !kv.contains('=') {
            return invalid(&format!("process.env entry {kv:?} is not KEY=VALUE"));
        }
    }
    if process
        .selinux_label()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        return unsupported("process.selinuxLabel (SELinux)");
    }
    if process.scheduler().is_some() {
        return unsupported("process.scheduler");
    }
    if process.exec_cpu_affinity().is_some() {
        return unsupported("process.execCPUAffinity");
    }
    if process.io_priority().is_some() {
        return unsupported("process.ioPriority");
    }

    let plan = NamespacePlan::from_spec(spec).map_err(|e| SpecError::Invalid(e.to_string()))?;
    if let Some(linux) = spec.linux() {
        if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
            return unsupported("linux.mountLabel (SELinux)");
        }
        if linux.intel_rdt().is_some() {
            return unsupported("linux.intelRdt");
        }
        if linux.memory_policy().is_some() {
            return unsupported("linux.memoryPolicy");
        }
        if let Some(p) = linux.personality()
            && p.flags().as_ref().is_some_and(|f| !f.is_empty())
        {
            return invalid(&format!(
                "linux.personality flags {:?}: the runtime spec defines none",
                p.flags().as_deref().unwrap_or_default()
            ));
        }
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return unsupported("linux.netDevices");
        }
        if let Some(sysctls) = linux.sysctl() {
            sysctl::validate(sysctls, |t| plan.is_private(t))
                .map_err(|e| SpecError::Invalid(e.to_string()))?;
        }
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !plan.is_private(LinuxNamespaceType::Uts)
    {
        return invalid("hostname needs a private UTS namespace");
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty())
        && !plan.is_private(LinuxNamespaceType::Uts)
    {
        return invalid("domainname needs a private UTS namespace");
    }
    idmap::validate(spec, &plan).map_err(SpecError::Invalid)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
        });
        merge(&mut base, extra);
        serde_json::from_value(base).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn minimal_spec_is_valid() {
        assert!(validate(&spec(serde_json::json!({}))).is_ok());
    }

    #[test]
    fn relative_cwd_is_refused() {
        let e = validate(&spec(serde_json::json!({"process": {"cwd": "tmp"}}))).unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
    }

    #[test]
    fn hostname_without_uts_namespace_is_refused() {
        let e = validate(&spec(serde_json::json!({"hostname": "x"}))).unwrap_err();
        assert!(e.to_string().contains("UTS"), "{e}");
    }

    #[test]
    fn empty_args_are_refused() {
        let e = validate(&spec(serde_json::json!({"process": {"args": []}}))).unwrap_err();
        assert!(e.to_string().contains("process.args"), "{e}");
    }

    #[test]
    fn unsupported_fields_are_named() {
        let e = validate(&spec(serde_json::json!({"linux": {"intelRdt": {}}}))).unwrap_err();
        assert!(e.to_string().contains("intelRdt"), "{e}");
    }
}
