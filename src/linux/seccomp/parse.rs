//! Reads a `linux.seccomp` object from JSON with errors that name the unknown value and
//! where it is, before serde's generic "unknown variant" message can.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::SeccompError;

/// Parses the JSON of a `linux.seccomp` object (the spec's format, as in `config.json`).
pub fn parse_profile(json: &str) -> Result<LinuxSeccomp, SeccompError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| SeccompError::Parse(e.to_string()))?;
    check_profile_value(&value)?;
    serde_json::from_value(value).map_err(|e| SeccompError::Parse(e.to_string()))
}

/// Checks every action, operator, architecture and flag in a `linux.seccomp` JSON value
/// against the runtime spec's names. The first unknown one is the error, with its path,
/// e.g. `unknown action "SCMP_ACT_FOO" at syscalls[2].action`. Other shape errors are left
/// to deserialization.
pub fn check_profile_value(value: &Value) -> Result<(), SeccompError> {
    known::<LinuxSeccompAction>(value.get("defaultAction"), "action", "defaultAction")?;
    for (i, arch) in items(value.get("architectures")) {
        known::<Arch>(Some(arch), "architecture", &format!("architectures[{i}]"))?;
    }
    for (i, flag) in items(value.get("flags")) {
        known::<LinuxSeccompFilterFlag>(Some(flag), "flag", &format!("flags[{i}]"))?;
    }
    for (i, rule) in items(value.get("syscalls")) {
        let at = format!("syscalls[{i}]");
        known::<LinuxSeccompAction>(rule.get("action"), "action", &format!("{at}.action"))?;
        for (j, arg) in items(rule.get("args")) {
            let at = format!("{at}.args[{j}].op");
            known::<LinuxSeccompOperator>(arg.get("op"), "operator", &at)?;
        }
    }
    Ok(())
}

fn items(value: Option<&Value>) -> impl Iterator<Item = (usize, &Value)> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// A string value must deserialize as `T`; anything else is left to the full parse.
fn known<T: DeserializeOwned>(
    value: Option<&Value>,
    kind: &'static str,
    at: &str,
) -> Result<(), SeccompError> {
    match value {
        Some(Value::String(s))
            if serde_json::from_value::<T>(Value::String(s.clone())).is_err() =>
        {
            Err(SeccompError::Unknown {
                kind,
                value: s.clone(),
                at: at.to_string(),
            })
        }
        _ => Ok(()),
    }
}
