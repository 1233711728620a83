//! The runtime spec (`config.json`): loading it with clear errors, checking it before anything
//! is created, and the defaults `rind spec` writes.

pub mod default;
mod validate;

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};

pub use validate::validate;

/// A spec that cannot be read or run.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: crate::error::Cause,
    },
    #[error("parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config.json: {0}")]
    Invalid(String),
    #[error("config.json: {0} is not supported by rind")]
    Unsupported(String),
}

/// Fields outside the OCI runtime spec that engines send in practice and rind accepts
/// (without acting on them). Any other unknown field is an error.
pub const ACCEPTED_EXTENSIONS: &[&str] = &[];

/// Reads and parses `<bundle>/config.json` for a new container. A field rind does not know is
/// an error that names it: a spec is never half-understood.
pub fn load(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| SpecError::Read {
        path: path.clone(),
        cause: e.into(),
    })?;
    parse_strict(&bytes).map_err(|message| SpecError::Parse { path, message })
}

/// Parses spec JSON, refusing fields the spec types do not know (apart from
/// [`ACCEPTED_EXTENSIONS`]). One pass: serde reports each field it would have ignored.
pub fn parse_strict(bytes: &[u8]) -> Result<Spec, String> {
    let mut unknown: Option<String> = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<Spec, _> = serde_ignored::deserialize(&mut de, |path| {
        // serde_ignored marks each Option it passes through with a `?` segment.
        let p = path
            .to_string()
            .split('.')
            .filter(|seg| *seg != "?")
            .collect::<Vec<_>>()
            .join(".");
        if unknown.is_none() && !ACCEPTED_EXTENSIONS.contains(&p.as_str()) {
            unknown = Some(p);
        }
    });
    let spec = match parsed.and_then(|s| de.end().map(|()| s)) {
        Ok(spec) => spec,
        Err(_) => return parse(bytes),
    };
    match unknown {
        Some(field) => Err(format!(
            "unknown field {field:?}: rind does not know it, and will not run a spec it does not fully understand"
        )),
        None => Ok(spec),
    }
}

/// Parses spec JSON. serde's "unknown variant `X`, expected one of ..." lists every variant;
/// the list is cut so the error stays one readable line. When the seccomp section is what
/// failed, the seccomp checker's message (naming the field) is used instead.
pub fn parse(bytes: &[u8]) -> Result<Spec, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        if let Some(msg) = seccomp_message(bytes) {
            return msg;
        }
        let msg = e.to_string();
        match (msg.find(", expected one of"), msg.rfind(" at line ")) {
            (Some(cut), Some(at)) if cut < at => format!("{}{}", &msg[..cut], &msg[at..]),
            (Some(cut), _) => msg[..cut].to_string(),
            _ => msg,
        }
    })
}

/// A precise message for a broken `linux.seccomp`, if that is what is broken. Only runs after
/// a parse failure, so a valid spec is parsed once.
fn seccomp_message(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let seccomp = value.get("linux")?.get("seccomp")?;
    crate::linux::seccomp::check_profile_value(seccomp)
        .err()
        .map(|e| format!("linux.seccomp: {e}"))
}

/// The absolute path of the container's root filesystem (`root.path`, relative to the bundle
/// when not absolute).
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::Invalid("root is missing".into()))?;
    let path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(path),
        Ok(_) => Err(SpecError::Invalid(format!(
            "root.path {} is not a directory",
            path.display()
        ))),
        Err(e) => Err(SpecError::Invalid(format!(
            "root.path {}: {}",
            path.display(),
            crate::error::Cause::from(e)
        ))),
    }
}

/// The device rules to apply to the container's cgroup: the spec's own, then (as runc does)
/// access to the devices every container gets, mknod of any device, and each device listed in
/// `linux.devices`.
pub fn device_rules(spec: &Spec) -> Vec<LinuxDeviceCgroup> {
    let linux = spec.linux().as_ref();
    let mut rules: Vec<LinuxDeviceCgroup> = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    use LinuxDeviceType::{B, C};
    rules.push(rule(C, None, None, "m"));
    rules.push(rule(B, None, None, "m"));
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        rules.push(rule(C, Some(major), Some(minor), "rwm"));
    }
    rules.push(rule(C, Some(136), None, "rwm")); // /dev/pts/*
    rules.push(rule(C, Some(10), Some(200), "rwm")); // /dev/net/tun
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let typ = match d.typ() {
            LinuxDeviceType::U => C,
            t => t,
        };
        if matches!(typ, C | B) {
            rules.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variant_error_is_one_short_line() {
        let json = br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_NOT_A_THING"]}}}"#;
        let msg = parse(json).unwrap_err();
        assert!(msg.contains("CAP_NOT_A_THING"), "{msg}");
        assert!(!msg.contains("expected one of"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn unknown_fields_are_named() {
        let json = br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "frobnicate":true},"linux":{"namespaces":[{"type":"pid","extra":1}]}}"#;
        let msg = parse_strict(json).unwrap_err();
        assert!(msg.contains("\"process.frobnicate\""), "{msg}");
        let ok = br#"{"ociVersion":"1.0.2","annotations":{"any.key":"v"}}"#;
        assert!(parse_strict(ok).is_ok());
    }

    #[test]
    fn device_rules_deny_first_then_allow_defaults_and_listed_devices() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }))
        .unwrap();
        let rules = device_rules(&spec);
        assert!(!rules[0].allow());
        let text: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
        assert!(text.contains(&"c 1:3 rwm".to_string()), "{text:?}");
        assert!(text.contains(&"c 10:229 rwm".to_string()), "{text:?}");
        assert!(text.contains(&"c 136:* rwm".to_string()), "{text:?}");
    }
}
