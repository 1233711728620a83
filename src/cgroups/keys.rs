//! Key case in `linux.resources`, read as runc reads it.
//!
//! runc decodes `config.json` and `update -r` documents with Go's `encoding/json`, which
//! matches an object key to a struct field exactly if it can and otherwise ignoring case: for
//! runc, `{"CPU": {"Cpus": "0"}}` is `{"cpu": {"cpus": "0"}}`, and runc's own tests write it
//! so. rind follows it for the resources structs (the part `update` also reads), and only
//! when the exact spelling fails: [`fold_spec`] and [`fold_resources`] rewrite such keys to the
//! spec's spelling. The rest of the spec keeps exact names. Differences from Go: case is folded
//! in ASCII only (Go also folds `ſ` to `s` and the Kelvin sign to `k`); when one object holds
//! a key in both spellings, the exact one wins (Go takes the later one in the document).
//! Keys of the maps (`unified`, `rdma`) are data, never folded.

use serde_json::{Map, Value};

/// The shape of a JSON value, as far as key folding needs it.
enum Shape {
    /// A value with no field names inside.
    Leaf,
    /// An object with these fields.
    Object(&'static [(&'static str, Shape)]),
    /// An array of these.
    Array(&'static Shape),
    /// An object whose keys are data, with values of this shape.
    Map(&'static Shape),
}

use Shape::{Array, Leaf, Map as DataMap, Object};

const WEIGHT_DEVICE: Shape = Object(&[
    ("major", Leaf),
    ("minor", Leaf),
    ("weight", Leaf),
    ("leafWeight", Leaf),
]);
const THROTTLE_DEVICE: Shape = Object(&[("major", Leaf), ("minor", Leaf), ("rate", Leaf)]);

/// `linux.resources` (the runtime spec's `LinuxResources`).
const RESOURCES: Shape = Object(&[
    (
        "devices",
        Array(&Object(&[
            ("allow", Leaf),
            ("type", Leaf),
            ("major", Leaf),
            ("minor", Leaf),
            ("access", Leaf),
        ])),
    ),
    (
        "memory",
        Object(&[
            ("limit", Leaf),
            ("reservation", Leaf),
            ("swap", Leaf),
            ("kernel", Leaf),
            ("kernelTCP", Leaf),
            ("swappiness", Leaf),
            ("disableOOMKiller", Leaf),
            ("useHierarchy", Leaf),
            ("checkBeforeUpdate", Leaf),
        ]),
    ),
    (
        "cpu",
        Object(&[
            ("shares", Leaf),
            ("quota", Leaf),
            ("burst", Leaf),
            ("period", Leaf),
            ("realtimeRuntime", Leaf),
            ("realtimePeriod", Leaf),
            ("cpus", Leaf),
            ("mems", Leaf),
            ("idle", Leaf),
        ]),
    ),
    ("pids", Object(&[("limit", Leaf)])),
    (
        "blockIO",
        Object(&[
            ("weight", Leaf),
            ("leafWeight", Leaf),
            ("weightDevice", Array(&WEIGHT_DEVICE)),
            ("throttleReadBpsDevice", Array(&THROTTLE_DEVICE)),
            ("throttleWriteBpsDevice", Array(&THROTTLE_DEVICE)),
            ("throttleReadIOPSDevice", Array(&THROTTLE_DEVICE)),
            ("throttleWriteIOPSDevice", Array(&THROTTLE_DEVICE)),
        ]),
    ),
    (
        "hugepageLimits",
        Array(&Object(&[("pageSize", Leaf), ("limit", Leaf)])),
    ),
    (
        "network",
        Object(&[
            ("classID", Leaf),
            (
                "priorities",
                Array(&Object(&[("name", Leaf), ("priority", Leaf)])),
            ),
        ]),
    ),
    (
        "rdma",
        DataMap(&Object(&[("hcaHandles", Leaf), ("hcaObjects", Leaf)])),
    ),
    ("unified", DataMap(&Leaf)),
]);

/// Rewrites the keys of a `linux.resources` document (`update -r`) that match a field only
/// when case is ignored. Returns whether anything changed.
pub fn fold_resources(doc: &mut Value) -> bool {
    fold(doc, &RESOURCES)
}

/// `config.json` with the keys under `linux.resources` folded, or None when nothing there
/// needed it (or the text is not a JSON object). For a spec that failed to parse with exact
/// names: the common case never pays for a second parse.
pub fn fold_spec(config: &[u8]) -> Option<Vec<u8>> {
    let mut doc: Value = serde_json::from_slice(config).ok()?;
    let resources = doc.get_mut("linux")?.get_mut("resources")?;
    if !fold(resources, &RESOURCES) {
        return None;
    }
    serde_json::to_vec(&doc).ok()
}

fn fold(value: &mut Value, shape: &Shape) -> bool {
    match (shape, value) {
        (Object(fields), Value::Object(map)) => fold_object(map, fields),
        (Array(inner), Value::Array(items)) => items
            .iter_mut()
            .fold(false, |changed, item| fold(item, inner) | changed),
        (DataMap(inner), Value::Object(map)) => map
            .values_mut()
            .fold(false, |changed, item| fold(item, inner) | changed),
        _ => false,
    }
}

fn fold_object(map: &mut Map<String, Value>, fields: &[(&'static str, Shape)]) -> bool {
    let mut changed = false;
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if fields.iter().any(|(name, _)| *name == key) {
            continue;
        }
        let Some((name, _)) = fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&key))
        else {
            continue;
        };
        // The exact spelling, when the object has it too, wins.
        let value = map.remove(&key).unwrap_or(Value::Null);
        if !map.contains_key(*name) {
            map.insert((*name).to_string(), value);
        }
        changed = true;
    }
    for (name, shape) in fields {
        if let Some(v) = map.get_mut(*name) {
            changed |= fold(v, shape);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_fields_ignoring_case_as_go_does() {
        let mut doc = json!({
            "CPU": {"Cpus": "0", "MEMS": "0", "realtimeperiod": 5},
            "Memory": {"Limit": 1, "disableoomkiller": true},
            "blockio": {"WeightDevice": [{"Major": 8, "minor": 0, "Weight": 10}]},
            "Unified": {"Memory.High": "max"},
            "RDMA": {"MLX4_0": {"HcaHandles": 3}},
        });
        assert!(fold_resources(&mut doc));
        assert_eq!(
            doc,
            json!({
                "cpu": {"cpus": "0", "mems": "0", "realtimePeriod": 5},
                "memory": {"limit": 1, "disableOOMKiller": true},
                "blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}]},
                "unified": {"Memory.High": "max"},
                "rdma": {"MLX4_0": {"hcaHandles": 3}},
            })
        );
        let r: oci_spec::runtime::LinuxResources = serde_json::from_value(doc).unwrap();
        assert_eq!(r.cpu().as_ref().unwrap().cpus().as_deref(), Some("0"));
    }

    #[test]
    fn exact_names_and_unknown_keys_are_left_alone() {
        let mut doc = json!({"cpu": {"cpus": "1"}, "CPU": {"cpus": "0"}, "Bogus": 1});
        assert!(fold_resources(&mut doc), "the duplicate goes");
        assert_eq!(doc, json!({"cpu": {"cpus": "1"}, "Bogus": 1}));
        let mut exact = json!({"cpu": {"cpus": "1"}, "unified": {"CPU": "x"}});
        assert!(!fold_resources(&mut exact));
    }

    #[test]
    fn a_spec_is_rewritten_only_when_its_resources_need_it() {
        let spec = br#"{"ociVersion":"1.0.2","linux":{"resources":{"Pids":{"Limit":10}}}}"#;
        let folded: Value = serde_json::from_slice(&fold_spec(spec).unwrap()).unwrap();
        assert_eq!(folded["linux"]["resources"], json!({"pids": {"limit": 10}}));
        assert!(fold_spec(br#"{"linux":{"resources":{"pids":{"limit":10}}}}"#).is_none());
        assert!(fold_spec(br#"{"Linux":{}}"#).is_none());
    }
}
