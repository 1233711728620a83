//! The runtime spec (`config.json`): loading it with clear errors, checking it before anything
//! is created, and the defaults `rind spec` writes.

pub mod default;
mod validate;

use std::ops::Range;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxSeccomp, Spec};

pub use validate::validate;

/// The newest version of the runtime spec that rind implements: what `rind spec` writes, what
/// `features` reports as its maximum, and what `--version` names.
pub const SPEC_VERSION: &str = "1.2.0";

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

/// `config.json` read for a new container: the spec, and its `linux.seccomp` apart, as text.
pub struct Loaded {
    /// The spec, with `linux.seccomp` unset when [`Loaded::seccomp`] holds it.
    pub spec: Spec,
    pub seccomp: Option<SeccompText>,
}

/// The `linux.seccomp` of a config.json, as the file has it, not yet parsed. A profile such as
/// Docker's is four fifths of the file: hundreds of syscall names. Its compiled filter is
/// cached by this text (`seccomp::compile_cached_text`), so a profile seen before is never
/// parsed again; [`SeccompText::parse`] parses it when it is needed.
pub struct SeccompText {
    path: PathBuf,
    file: Vec<u8>,
    range: Range<usize>,
}

impl SeccompText {
    /// The profile's JSON text, exactly as in the file.
    pub fn text(&self) -> &[u8] {
        &self.file[self.range.clone()]
    }

    /// The profile, parsed as [`load`] parses the whole file: a property rind does not know is
    /// ignored (named under `--debug`). A parse that fails is decided by parsing the whole
    /// file again, so that the error (with the file's own line numbers) is the one it would be
    /// unsplit.
    pub fn parse(&self) -> Result<LinuxSeccomp, SpecError> {
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(self.text());
        let parsed: Result<LinuxSeccomp, _> =
            serde_ignored::deserialize(&mut de, |path| unknown.push(property_name(&path)));
        if let Ok(profile) = parsed.and_then(|p| de.end().map(|()| p)) {
            for name in unknown {
                log_unknown(&format!("linux.seccomp.{name}"));
            }
            return Ok(profile);
        }
        let whole = parse_config(&self.file).map_err(|message| SpecError::Parse {
            path: self.path.clone(),
            message,
        })?;
        whole
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .ok_or_else(|| SpecError::Parse {
                path: self.path.clone(),
                message: "linux.seccomp could not be read".into(),
            })
    }
}

/// Reads and parses `<bundle>/config.json` for a new container. A property rind does not know
/// is ignored, as the runtime spec requires (see [`parse_config`]). `linux.seccomp` is cut out
/// before the parse and returned as text (see [`SeccompText`]); the rest is parsed with `null`
/// in its place.
pub fn load(bundle: &Path) -> Result<Loaded, SpecError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| SpecError::Read {
        path: path.clone(),
        cause: e.into(),
    })?;
    let Some(range) = seccomp_range(&bytes) else {
        let spec = parse_config(&bytes).map_err(|message| SpecError::Parse { path, message })?;
        return Ok(Loaded {
            spec,
            seccomp: None,
        });
    };
    let mut rest = Vec::with_capacity(bytes.len() - range.len() + 4);
    rest.extend_from_slice(&bytes[..range.start]);
    rest.extend_from_slice(b"null");
    rest.extend_from_slice(&bytes[range.end..]);
    match parse_config(&rest) {
        Ok(spec) => Ok(Loaded {
            spec,
            seccomp: Some(SeccompText {
                path,
                file: bytes,
                range,
            }),
        }),
        // The whole file's error: its line numbers are the file's.
        Err(message) => Err(SpecError::Parse {
            message: parse_config(&bytes).err().unwrap_or(message),
            path,
        }),
    }
}

/// Where the value of `linux.seccomp` is in `bytes`, when there is one (not `null`). `None` also
/// for a file this quick look cannot read, which the full parse then reports.
fn seccomp_range(bytes: &[u8]) -> Option<Range<usize>> {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        linux: Option<ProbeLinux<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct ProbeLinux<'a> {
        #[serde(borrow)]
        seccomp: Option<&'a RawValue>,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    let raw = probe.linux?.seccomp?.get().as_bytes();
    // The raw value borrows from `bytes`: its offset there is the pointers' difference.
    let start = (raw.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
    let end = start.checked_add(raw.len())?;
    (end <= bytes.len()).then_some(start..end)
}

/// Parses the JSON of a config.json. A property rind does not know is ignored: "Runtimes that
/// are reading or processing this configuration file MUST NOT generate an error if they
/// encounter an unknown property" (runtime spec, config.md, Extensibility), and engines add
/// properties before runtimes know them. With `--debug` each ignored property is named. A
/// known property with a value rind cannot use is still an error (here, or in `validate`).
pub fn parse_config(bytes: &[u8]) -> Result<Spec, String> {
    let Ok((mut spec, mut unknown)) = parse_collecting(bytes) else {
        return parse(bytes);
    };
    // runc reads resource keys ignoring case (Go's encoding/json): `linux.resources.CPU`.
    // Folded once: a key still unknown after folding is ignored like any other.
    if unknown
        .iter()
        .any(|name| name.starts_with("linux.resources."))
        && let Some(folded) = crate::cgroups::keys::fold_spec(bytes)
        && let Ok(again) = parse_collecting(&folded)
    {
        (spec, unknown) = again;
    }
    for name in unknown {
        log_unknown(&name);
    }
    Ok(spec)
}

/// The spec, and the properties it does not know (ignored).
fn parse_collecting(bytes: &[u8]) -> Result<(Spec, Vec<String>), serde_json::Error> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<Spec, _> =
        serde_ignored::deserialize(&mut de, |path| unknown.push(property_name(&path)));
    let spec = parsed.and_then(|s| de.end().map(|()| s))?;
    Ok((spec, unknown))
}

/// An ignored property's path as the file spells it: `process.frobnicate`, `mounts.2.extra`.
/// (serde_ignored marks each Option it passes through with a `?` segment.)
fn property_name(path: &serde_ignored::Path) -> String {
    path.to_string()
        .split('.')
        .filter(|seg| *seg != "?")
        .collect::<Vec<_>>()
        .join(".")
}

fn log_unknown(name: &str) {
    crate::logging::debug(|| format!("config.json: unknown property {name:?} ignored"));
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

/// The device rules to apply to the container's cgroup: every device denied, then the spec's
/// own rules, then (as runc does) access to the devices every container gets and mknod of any
/// device.
///
/// The deny-all comes first whatever the spec says, because a new cgroup inherits its parent's
/// "allow everything": a spec without `linux.resources.devices` (ctr's, say) must not give the
/// container every device of the host. runc's device emulator starts from "deny all" for the
/// same reason. A spec that wants every device says so with an allow-all rule of its own
/// (Docker's `--privileged`), which replaces the deny.
///
/// A device listed in `linux.devices` gets its node, not access: that is
/// `linux.resources.devices`' to grant, as with runc (engines add a rule for each device they
/// pass), so a deny-all rule holds for it. A default whose device `linux.devices` lists by
/// path is left out too, as runc leaves it out, so that the spec's rules alone decide about it:
/// Docker's `--device /dev/full:/dev/full:r` stays read-only. `/dev/console` (5:1) is not in
/// the defaults either: with a terminal it is the pty, which `136:*` covers, as in runc.
pub fn device_rules(spec: &Spec) -> Vec<LinuxDeviceCgroup> {
    let linux = spec.linux().as_ref();
    let mut deny_all = LinuxDeviceCgroup::default();
    deny_all.set_allow(false);
    deny_all.set_access(Some("rwm".to_string()));
    let mut rules = vec![deny_all];
    rules.extend(
        linux
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.devices().clone())
            .unwrap_or_default(),
    );
    let listed = |path: &Path| {
        linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
            .any(|d| d.path() == path)
    };
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    // runc's AllowedDevices, in its order: mknod of anything, the default nodes (those the spec
    // does not list), /dev/pts/*, /dev/ptmx, /dev/net/tun.
    use LinuxDeviceType::{B, C};
    rules.push(rule(C, None, None, "m"));
    rules.push(rule(B, None, None, "m"));
    for node in crate::linux::devices::default_devices() {
        if !listed(&node.path) {
            rules.push(rule(
                C,
                Some(node.major as i64),
                Some(node.minor as i64),
                "rwm",
            ));
        }
    }
    rules.push(rule(C, Some(136), None, "rwm"));
    rules.push(rule(C, Some(5), Some(2), "rwm"));
    rules.push(rule(C, Some(10), Some(200), "rwm"));
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
    fn unknown_properties_are_ignored_and_known_ones_still_read() {
        let json = br#"{"ociVersion":"1.0.2","process":{"cwd":"/w","user":{"uid":0,"gid":0},
            "frobnicate":true},"linux":{"namespaces":[{"type":"pid","extra":1}]},
            "vendorThing":{"a":[1,2]}}"#;
        let spec = parse_config(json).unwrap();
        assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/w"));
        let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        assert_eq!(ns.len(), 1);
        // A known property with a value of the wrong kind is still an error.
        let bad = br#"{"ociVersion":"1.0.2","process":{"cwd":7}}"#;
        assert!(parse_config(bad).is_err());
    }

    /// A bundle directory holding `config` as config.json, removed when dropped.
    struct TempBundle(PathBuf);
    impl TempBundle {
        fn new(config: &[u8]) -> Self {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("rind-spec-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("config.json"), config).unwrap();
            TempBundle(dir)
        }
    }
    impl Drop for TempBundle {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn load_cuts_the_seccomp_profile_out_and_parses_the_rest_as_before() {
        let mut config = default::default_spec(false);
        // The word in a string elsewhere does not confuse the cut.
        config["annotations"] = serde_json::json!({"note": "\"seccomp\": {\"x\": 1}"});
        let bytes = serde_json::to_vec_pretty(&config).unwrap();
        let bundle = TempBundle::new(&bytes);
        let loaded = load(&bundle.0).unwrap();
        let whole = parse_config(&bytes).unwrap();
        let text = loaded
            .seccomp
            .as_ref()
            .expect("the default spec has a profile");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(text.text()).unwrap(),
            config["linux"]["seccomp"]
        );
        let profile = text.parse().unwrap();
        assert_eq!(
            Some(&profile),
            whole.linux().as_ref().unwrap().seccomp().as_ref()
        );
        assert!(loaded.spec.linux().as_ref().unwrap().seccomp().is_none());
        // Everything else is what the whole file gives (compared as structs: the capability
        // sets serialize in no fixed order).
        let mut expected = whole.clone();
        let mut linux = expected.linux().clone().unwrap();
        linux.set_seccomp(None);
        expected.set_linux(Some(linux));
        assert_eq!(loaded.spec, expected);
    }

    #[test]
    fn a_file_without_a_profile_or_with_null_is_parsed_whole() {
        for linux in ["{}", r#"{"seccomp":null}"#] {
            let json = format!(r#"{{"ociVersion":"1.0.2","linux":{linux}}}"#);
            let loaded = load(&TempBundle::new(json.as_bytes()).0).unwrap();
            assert!(loaded.seccomp.is_none(), "{linux}");
        }
    }

    #[test]
    fn errors_are_the_whole_files_whether_in_the_profile_or_elsewhere() {
        // In the profile: the rest loads, and parsing the profile fails as the whole file does.
        let bad_profile = br#"{"ociVersion":"1.0.2","linux":{"seccomp":
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],
            "action":"SCMP_ACT_BOGUS"}]}}}"#;
        let bundle = TempBundle::new(bad_profile);
        let loaded = load(&bundle.0).unwrap();
        let err = loaded.seccomp.unwrap().parse().unwrap_err().to_string();
        let whole = parse_config(bad_profile).unwrap_err();
        assert!(err.ends_with(&whole), "{err} / {whole}");
        assert!(err.contains("SCMP_ACT_BOGUS"), "{err}");
        // An unknown property in the profile is ignored, as anywhere else.
        let extra = br#"{"ociVersion":"1.0.2","linux":{"seccomp":
            {"defaultAction":"SCMP_ACT_ALLOW","futureField":{"x":1},"syscalls":[{"names":["mkdir"],
            "action":"SCMP_ACT_ERRNO","bogus":1}]}}}"#;
        let profile = load(&TempBundle::new(extra).0)
            .unwrap()
            .seccomp
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(profile.syscalls().as_ref().unwrap()[0].names(), &["mkdir"]);
        // A wrong type in the profile.
        let wrong_type =
            br#"{"ociVersion":"1.0.2","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":7}}}"#;
        let err = load(&TempBundle::new(wrong_type).0)
            .unwrap()
            .seccomp
            .unwrap()
            .parse()
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(&parse_config(wrong_type).unwrap_err()),
            "{err}"
        );
        // After the profile, on a later line: the line number is the file's.
        let bad_rest = b"{\"ociVersion\":\"1.0.2\",\"linux\":{\"seccomp\":\n{\"defaultAction\":\n\"SCMP_ACT_ALLOW\"},\n\"namespaces\":1}}";
        let err = load(&TempBundle::new(bad_rest).0)
            .err()
            .unwrap()
            .to_string();
        let whole = parse_config(bad_rest).unwrap_err();
        assert!(err.ends_with(&whole), "{err} / {whole}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn without_device_rules_of_its_own_a_spec_still_starts_from_deny_all() {
        let spec: Spec =
            serde_json::from_value(serde_json::json!({"ociVersion": "1.0.2"})).unwrap();
        let table = crate::cgroups::devices::DeviceTable::from_oci(&device_rules(&spec)).unwrap();
        assert!(!table.default_allow, "{table:?}");
        use crate::cgroups::devices::{ACC_READ, DeviceKind};
        assert!(table.permits(DeviceKind::Char, 1, 3, ACC_READ));
        assert!(!table.permits(DeviceKind::Char, 1, 1, ACC_READ)); // /dev/mem
        assert!(!table.permits(DeviceKind::Block, 8, 0, ACC_READ)); // /dev/sda
        // An allow-all rule of the spec's own (Docker's --privileged) replaces the deny.
        let privileged: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {"resources": {"devices": [{"allow": true, "access": "rwm"}]}}
        }))
        .unwrap();
        let table =
            crate::cgroups::devices::DeviceTable::from_oci(&device_rules(&privileged)).unwrap();
        assert!(table.default_allow, "{table:?}");
    }

    #[test]
    fn device_rules_deny_first_then_allow_defaults_but_not_listed_devices() {
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
        // /dev/console is not a default device (runc): a terminal's is the pty, 136:*.
        assert!(!text.iter().any(|t| t.contains("5:1 ")), "{text:?}");
        // A listed device gets its node, not access: the deny-all rule holds for it (runc).
        assert!(!text.iter().any(|t| t.contains("10:229")), "{text:?}");
        assert!(text.contains(&"c 136:* rwm".to_string()), "{text:?}");
    }

    #[test]
    fn a_device_the_spec_allows_read_only_stays_read_only() {
        // Docker's `--device /dev/fuse:/dev/fuse:r`: the spec's rules, in its order, and no
        // default after them that would widen the access.
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {
                "resources": {"devices": [
                    {"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"}
                ]},
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }))
        .unwrap();
        let text: Vec<String> = device_rules(&spec).iter().map(|r| r.to_string()).collect();
        let fuse: Vec<&String> = text.iter().filter(|t| t.contains("10:229")).collect();
        assert_eq!(fuse, [&"c 10:229 r".to_string()], "{text:?}");
    }

    #[test]
    fn a_default_device_the_spec_lists_by_path_is_left_to_the_spec_s_rules() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {
                "resources": {"devices": [{"allow": true, "type": "c", "major": 1, "minor": 7, "access": "r"}]},
                "devices": [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]
            }
        }))
        .unwrap();
        let text: Vec<String> = device_rules(&spec).iter().map(|r| r.to_string()).collect();
        let full: Vec<&String> = text.iter().filter(|t| t.contains(" 1:7 ")).collect();
        assert_eq!(full, [&"c 1:7 r".to_string()], "{text:?}");
        assert!(text.contains(&"c 1:3 rwm".to_string()), "{text:?}");
    }
}
