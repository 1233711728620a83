//! Image config to runtime spec (image-spec conversion.md): Entrypoint and Cmd, Env,
//! WorkingDir, User, Labels and the other annotations, on top of a secure base spec.

pub mod base;
pub mod user;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::Spec;
use serde_json::{Value, json};

use super::ImageError;
pub use base::{base_spec, default_seccomp};
pub use user::{ResolvedUser, resolve_user};

/// What the caller changes relative to the image's config.
#[derive(Clone, Debug, Default)]
pub struct SpecOverrides {
    /// The container's root as seen on the host; `/etc/passwd` and `/etc/group` are read
    /// from it to resolve `User`. Required.
    pub rootfs: PathBuf,
    /// `root.path` to write in the spec; defaults to `rootfs`.
    pub root_path: Option<PathBuf>,
    /// Replaces the image's Cmd (`rind run --image REF -- cmd...`); the Entrypoint stays.
    pub args: Option<Vec<String>>,
    /// Replaces the image's User.
    pub user: Option<String>,
    /// Extra `KEY=VALUE` entries; they replace image entries of the same key.
    pub env: Vec<String>,
    pub terminal: bool,
    pub hostname: Option<String>,
}

/// The default stop signal when the image names none.
pub const DEFAULT_STOP_SIGNAL: i32 = libc::SIGTERM;
/// The annotation that carries the stop signal into the spec.
pub const STOP_SIGNAL_ANNOTATION: &str = "org.opencontainers.image.stopSignal";

/// The signal `stop` should send first: the image's StopSignal (`SIGQUIT`, `QUIT`, `3`,
/// `SIGRTMIN+3`) or SIGTERM.
pub fn stop_signal(config: &ImageConfiguration) -> Result<i32, ImageError> {
    match config
        .config()
        .as_ref()
        .and_then(|c| c.stop_signal().clone())
    {
        None => Ok(DEFAULT_STOP_SIGNAL),
        Some(s) => parse_signal(&s).ok_or_else(|| {
            ImageError::malformed("image config StopSignal", format!("unknown signal {s:?}"))
        }),
    }
}

/// Parses a signal name or number.
pub fn parse_signal(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')?.parse().ok()?
        };
        let n = libc::SIGRTMIN() + off;
        return (n <= libc::SIGRTMAX()).then_some(n);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')?.parse().ok()?
        };
        let n = libc::SIGRTMAX() - off;
        return (n >= libc::SIGRTMIN()).then_some(n);
    }
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map(|(k, _)| k).unwrap_or(e)
}

/// Sets `KEY=VALUE` in `env`, replacing an earlier entry with the same key.
fn set_env(env: &mut Vec<String>, entry: &str) {
    let key = env_key(entry);
    match env.iter_mut().find(|e| env_key(e) == key) {
        Some(slot) => *slot = entry.to_string(),
        None => env.push(entry.to_string()),
    }
}

/// Builds the runtime spec for a container of this image: [`base_spec`] with the image's
/// process settings, the user resolved in the image's own passwd and group files, labels and
/// the conversion annotations (including the stop signal), and the caller's overrides.
pub fn config_to_spec(config: &ImageConfiguration, o: &SpecOverrides) -> Result<Spec, ImageError> {
    let c = config.config().clone().unwrap_or_default();
    let mut args: Vec<String> = c.entrypoint().clone().unwrap_or_default();
    args.extend(
        o.args
            .clone()
            .or_else(|| c.cmd().clone())
            .unwrap_or_default(),
    );
    match args.first().map(String::as_str) {
        None => {
            return Err(ImageError::malformed(
                "image config",
                "no Entrypoint or Cmd; give a command after --",
            ));
        }
        Some("") => {
            return Err(ImageError::malformed(
                "image config",
                "the program to run (the first word of Entrypoint, else of Cmd) is empty",
            ));
        }
        Some(_) => {}
    }
    // The runtime spec wants KEY=VALUE (rind's `create` refuses anything else, as runc does):
    // say so here, naming the image's field, rather than in a config.json the user never wrote.
    if let Some(e) = c.env().iter().flatten().find(|e| !e.contains('=')) {
        return Err(ImageError::malformed(
            "image config Env",
            format!("entry {e:?} is not KEY=VALUE"),
        ));
    }
    let user_spec = o
        .user
        .clone()
        .or_else(|| c.user().clone())
        .unwrap_or_default();
    let user = resolve_user(&user_spec, &o.rootfs)?;

    let mut env =
        vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
    for e in c
        .env()
        .clone()
        .unwrap_or_default()
        .iter()
        .chain(o.env.iter())
    {
        set_env(&mut env, e);
    }
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!(
            "HOME={}",
            user.home
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "/".into())
        ));
    }
    if o.terminal && !env.iter().any(|e| env_key(e) == "TERM") {
        env.push("TERM=xterm".into());
    }
    let cwd = match c.working_dir().as_deref() {
        None | Some("") => "/".to_string(),
        Some(d) if d.starts_with('/') => d.to_string(),
        Some(d) => format!("/{d}"),
    };

    let mut annotations: BTreeMap<String, String> =
        c.labels().clone().unwrap_or_default().into_iter().collect();
    let mut note = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            annotations.insert(format!("org.opencontainers.image.{k}"), v);
        }
    };
    note("os", Some(config.os().to_string()));
    note("architecture", Some(config.architecture().to_string()));
    note("variant", config.variant().clone());
    note("author", config.author().clone());
    note("created", config.created().clone());
    note("stopSignal", c.stop_signal().clone());
    note(
        "exposedPorts",
        c.exposed_ports().clone().map(|mut p| {
            p.sort();
            p.join(",")
        }),
    );

    let mut v =
        serde_json::to_value(base_spec()).map_err(|e| ImageError::malformed("base spec", e))?;
    let p = &mut v["process"];
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(cwd);
    p["terminal"] = json!(o.terminal);
    p["user"] = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(user.additional_gids);
    }
    let root_path: &Path = o.root_path.as_deref().unwrap_or(&o.rootfs);
    v["root"]["path"] = json!(root_path);
    if let Some(h) = &o.hostname {
        v["hostname"] = json!(h);
    }
    v["annotations"] = Value::Object(
        annotations
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    );
    serde_json::from_value(v)
        .map_err(|e| ImageError::malformed("runtime spec from image config", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ImageConfiguration {
        serde_json::from_str(&format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{json}}}"#
        ))
        .unwrap()
    }

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(t.path().join("etc/group"), "web:x:33:\nlog:x:4:web\n").unwrap();
        t
    }

    #[test]
    fn entrypoint_cmd_env_cwd_user_and_labels_land_in_the_spec() {
        let r = rootfs();
        let c = config(
            r#"{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Env":["PATH=/bin","A=1"],"WorkingDir":"/srv","User":"web","Labels":{"k":"v"},"StopSignal":"SIGQUIT","ExposedPorts":{"80/tcp":{}}}"#,
        );
        let o = SpecOverrides {
            rootfs: r.path().into(),
            env: vec!["A=2".into()],
            ..Default::default()
        };
        let s = config_to_spec(&c, &o).unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["/bin/sh", "-c", "echo hi"]);
        let env = p.env().as_ref().unwrap();
        assert!(env.contains(&"PATH=/bin".to_string()) && env.contains(&"A=2".to_string()));
        assert!(env.contains(&"HOME=/var/www".to_string()));
        assert!(!env.contains(&"A=1".to_string()));
        assert_eq!(p.cwd(), Path::new("/srv"));
        assert_eq!((p.user().uid(), p.user().gid()), (33, 33));
        assert_eq!(p.user().additional_gids().as_ref().unwrap(), &[4]);
        let a = s.annotations().as_ref().unwrap();
        assert_eq!(a.get("k").map(String::as_str), Some("v"));
        assert_eq!(
            a.get(STOP_SIGNAL_ANNOTATION).map(String::as_str),
            Some("SIGQUIT")
        );
        assert_eq!(
            a.get("org.opencontainers.image.exposedPorts")
                .map(String::as_str),
            Some("80/tcp")
        );
        assert_eq!(stop_signal(&c).unwrap(), libc::SIGQUIT);
    }

    #[test]
    fn args_after_dashdash_replace_cmd_but_keep_entrypoint() {
        let r = rootfs();
        let c = config(r#"{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"]}"#);
        let o = SpecOverrides {
            rootfs: r.path().into(),
            args: Some(vec!["exit 3".into()]),
            ..Default::default()
        };
        let s = config_to_spec(&c, &o).unwrap();
        assert_eq!(
            s.process().as_ref().unwrap().args().as_ref().unwrap(),
            &["/bin/sh", "-c", "exit 3"]
        );
    }

    #[test]
    fn no_command_and_unknown_user_are_errors() {
        let r = rootfs();
        let o = SpecOverrides {
            rootfs: r.path().into(),
            ..Default::default()
        };
        assert!(config_to_spec(&config("{}"), &o).is_err());
        let e = config_to_spec(&config(r#"{"Cmd":["x"],"User":"ghost"}"#), &o).unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
    }

    #[test]
    fn an_env_entry_without_a_value_or_an_empty_program_is_an_error_naming_the_image_field() {
        // Found by the image fuzz target: these made a spec that `create` refused with an
        // error about config.json.
        let r = rootfs();
        let o = SpecOverrides {
            rootfs: r.path().into(),
            ..Default::default()
        };
        let e = config_to_spec(&config(r#"{"Cmd":["sh"],"Env":["A=1","A"]}"#), &o).unwrap_err();
        assert!(
            e.to_string().contains("image config Env: entry \"A\""),
            "{e}"
        );
        let e = config_to_spec(&config(r#"{"Entrypoint":[""],"Cmd":["x"]}"#), &o).unwrap_err();
        assert!(e.to_string().contains("Entrypoint"), "{e}");
        let s = config_to_spec(&config(r#"{"Cmd":["sh"],"Env":["A="]}"#), &o).unwrap();
        crate::spec::validate(&s).unwrap();
    }

    #[test]
    fn parse_signal_forms() {
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("term"), Some(15));
        assert_eq!(parse_signal("3"), Some(3));
        assert_eq!(parse_signal("SIGRTMIN+3"), Some(libc::SIGRTMIN() + 3));
        assert_eq!(parse_signal("SIGNOPE"), None);
    }
}
