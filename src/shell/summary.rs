//! What `list` adds to runc's columns (the image and the command) and what `inspect` prints.

use std::path::Path;

use oci_spec::runtime::Spec;
use serde::Serialize;
use serde_json::{Value, json};

use super::ShellError;
use super::bundle::{IMAGE_ANNOTATION, IMAGE_ID_ANNOTATION};
use super::record::Record;
use crate::container::{Container, OciState};

/// The image and command of a container, for `list`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Extras {
    /// The image it was run from (`None` for a container made from a runc-style bundle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The process's arguments, from the spec it was created with.
    pub command: Vec<String>,
}

/// The spec a container was created with (`<root>/<id>/config.json`), if readable.
fn saved_spec(c: &Container) -> Option<Spec> {
    crate::spec::parse(&std::fs::read(c.config_path()).ok()?).ok()
}

/// The image (from the annotation rind puts in image containers' specs) and the command.
pub fn extras(c: &Container) -> Extras {
    let command = saved_spec(c)
        .and_then(|s| s.process().as_ref().and_then(|p| p.args().clone()))
        .unwrap_or_default();
    Extras {
        image: c.state.annotations.get(IMAGE_ANNOTATION).cloned(),
        command,
    }
}

/// A command line for a table cell: arguments with spaces are quoted, and the whole is cut to
/// `width` characters with an ellipsis.
pub fn command_cell(args: &[String], width: usize) -> String {
    let line = args
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() <= width {
        line
    } else {
        let cut: String = line.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `inspect`: the OCI state, the image, and a summary of the spec (process, root, network,
/// mounts, resources), plus for an image container its record, log and exit code.
pub fn inspect(root: &Path, id: &str) -> Result<Value, ShellError> {
    let c = Container::read(root, id)?;
    let state: OciState = c.state.oci(c.status());
    let spec = saved_spec(&c);
    let record = Record::for_state(&c.state);
    let cgroup = serde_json::to_value(&c.state.cgroup).unwrap_or(Value::Null);
    drop(c);
    let spec_json = spec
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    let at = |p: &str| spec_json.pointer(p).cloned().unwrap_or(Value::Null);
    let namespaces: Vec<Value> = at("/linux/namespaces")
        .as_array()
        .map(|ns| ns.iter().map(|n| n["type"].clone()).collect())
        .unwrap_or_default();
    let network = if namespaces.iter().any(|n| n == "network") {
        "none"
    } else {
        "host"
    };
    let binds: Vec<Value> = at("/mounts")
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter(|m| m["type"] == "bind")
                .map(|m| {
                    json!({
                        "source": m["source"],
                        "destination": m["destination"],
                        "readonly": m["options"].as_array().is_some_and(|o| o.iter().any(|x| x == "ro")),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let resources = at("/linux/resources");
    let mut out = json!({
        "id": state.id,
        "state": state,
        "image": state.annotations.get(IMAGE_ANNOTATION).map(|name| json!({
            "name": name,
            "id": state.annotations.get(IMAGE_ID_ANNOTATION),
        })),
        "process": {
            "args": at("/process/args"),
            "env": at("/process/env"),
            "cwd": at("/process/cwd"),
            "user": at("/process/user"),
            "terminal": at("/process/terminal"),
        },
        "hostname": at("/hostname"),
        "readonlyRoot": at("/root/readonly"),
        "network": network,
        "namespaces": namespaces,
        "binds": binds,
        "resources": {
            "memory": resources.pointer("/memory/limit"),
            "cpuQuota": resources.pointer("/cpu/quota"),
            "cpuPeriod": resources.pointer("/cpu/period"),
            "pids": resources.pointer("/pids/limit"),
        },
        "cgroup": cgroup,
    });
    if let Some(r) = record {
        let exit = r.exit()?;
        out["rm"] = json!(r.rm);
        out["detached"] = json!(r.detached);
        out["logPath"] = json!(r.log_path());
        out["exitCode"] = json!(exit.as_ref().map(|e| e.code));
        out["finishedAt"] = json!(exit.map(|e| e.finished));
        out["imageReference"] = json!(r.image);
        out["rootfsMode"] = std::fs::read(r.bundle.join("image-root.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|v| v["mode"].clone())
            .unwrap_or(Value::Null);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_cells_quote_and_cut() {
        let args: Vec<String> = ["/bin/sh", "-c", "echo hi"].map(String::from).to_vec();
        assert_eq!(command_cell(&args, 40), "/bin/sh -c \"echo hi\"");
        let cut = command_cell(&args, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
        assert_eq!(command_cell(&[], 10), "");
    }
}
