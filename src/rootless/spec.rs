//! `rind spec --rootless`: the default spec made runnable by an ordinary user, with the changes
//! runc's `spec --rootless` makes.

use serde_json::{Value, json};

/// Turns the default spec into a rootless one, for a caller with `uid` and `gid`:
///
/// - a new user namespace mapping the caller's uid and gid to root, and no network namespace
///   (a usable one needs a privileged helper such as slirp4netns: the container shares the
///   host's network);
/// - `/sys` bound from the host (read-only) rather than a new sysfs, which the kernel refuses
///   without a network namespace of the container's own;
/// - no `uid=`/`gid=` mount options (the ids they name are not mapped).
///
/// `linux.resources` stays: `rind spec --rootless` drops it as runc does, while `run --image`
/// keeps the limits its flags asked for, which `create` then applies in a delegated cgroup or
/// refuses by name (see `rootless/cgroup.rs`).
pub fn to_rootless(spec: &mut Value, uid: u32, gid: u32) {
    let linux = &mut spec["linux"];
    if let Some(list) = linux["namespaces"].as_array_mut() {
        list.retain(|ns| !matches!(ns["type"].as_str(), Some("network") | Some("user")));
        list.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
                continue;
            }
            if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
                opts.retain(|o| {
                    o.as_str()
                        .is_none_or(|s| !s.starts_with("uid=") && !s.starts_with("gid="))
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default::default_spec;

    #[test]
    fn rootless_spec_maps_the_caller_and_drops_what_needs_privilege() {
        let mut s = default_spec(true);
        to_rootless(&mut s, 1000, 1001);
        assert!(
            s["linux"].get("resources").is_some(),
            "kept for create to judge"
        );
        s["linux"].as_object_mut().unwrap().remove("resources");
        let types: Vec<&str> = s["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(!types.contains(&"network"));
        assert_eq!(types.last(), Some(&"user"));
        assert_eq!(s["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(s["linux"]["gidMappings"][0]["hostID"], 1001);
        assert!(
            s["mounts"][0].get("options").is_none(),
            "no options made up for /proc"
        );
        let text = s["mounts"].to_string();
        assert!(!text.contains("gid=5"), "{text}");
        assert!(text.contains("\"rbind\""), "{text}");
        let parsed: oci_spec::runtime::Spec = serde_json::from_value(s).unwrap();
        assert!(parsed.linux().is_some());
    }
}
