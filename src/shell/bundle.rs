//! From an image and the flags of `rind run --image` to the runtime spec of the container's
//! bundle.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ShellError;
use crate::image::{ImageConfig, SpecOverrides, config_to_spec};

/// The annotation naming the image a container was run from (as stored).
pub const IMAGE_ANNOTATION: &str = "run.rind.image";
/// The annotation holding the image id (its config digest).
pub const IMAGE_ID_ANNOTATION: &str = "run.rind.image.id";

/// The container's network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A private network namespace with only `lo`, which is up.
    #[default]
    None,
    /// The host's network namespace.
    Host,
}

impl std::str::FromStr for Network {
    type Err = ShellError;
    fn from_str(s: &str) -> Result<Network, ShellError> {
        match s {
            "none" => Ok(Network::None),
            "host" => Ok(Network::Host),
            other => Err(ShellError::Invalid(format!(
                "--net {other:?}: want none or host (rind has no bridge network)"
            ))),
        }
    }
}

/// A bind mount from `-v HOST:CTR[:ro|:rw]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub host: PathBuf,
    pub container: PathBuf,
    pub readonly: bool,
}

impl std::str::FromStr for Volume {
    type Err = ShellError;
    /// Both paths must be absolute and free of `..`; the host path must exist (rind does not
    /// create it, unlike docker, so a typo fails instead of making an empty directory).
    fn from_str(s: &str) -> Result<Volume, ShellError> {
        let bad = |why: &str| ShellError::Invalid(format!("-v {s:?}: {why}"));
        let mut parts = s.split(':');
        let (Some(host), Some(ctr)) = (parts.next(), parts.next()) else {
            return Err(bad("want HOST:CONTAINER[:ro]"));
        };
        let readonly = match parts.next() {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(o) => return Err(bad(&format!("unknown option {o:?} (want ro or rw)"))),
        };
        if parts.next().is_some() {
            return Err(bad("want HOST:CONTAINER[:ro]"));
        }
        for p in [host, ctr] {
            let p = Path::new(p);
            if !p.is_absolute() {
                return Err(bad(&format!("{} is not an absolute path", p.display())));
            }
            if p.components().any(|c| c == Component::ParentDir) {
                return Err(bad(&format!("{} contains '..'", p.display())));
            }
        }
        if let Err(e) = std::fs::metadata(host) {
            return Err(bad(&format!("{host}: {}", crate::error::Cause::from(e))));
        }
        Ok(Volume {
            host: host.into(),
            container: ctr.into(),
            readonly,
        })
    }
}

/// Everything `rind run --image` was asked for, parsed.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// The image: a stored name or id, or a source reference (`oci:DIR:TAG`, `docker://...`).
    pub image: String,
    pub name: Option<String>,
    pub detach: bool,
    pub rm: bool,
    /// `KEY=VALUE` entries, replacing the image's for the same key.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPUs, as a CFS quota over a 100 ms period.
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub volumes: Vec<Volume>,
    pub network: Network,
    pub tty: bool,
    pub interactive: bool,
    /// Replaces the image's Cmd (`-- CMD ...`).
    pub command: Option<Vec<String>>,
}

/// The CFS period `--cpus` uses, in microseconds (docker's and the kernel's default).
pub const CPU_PERIOD: u64 = 100_000;

/// `--cpus N` as (quota, period): 1.5 -> (150000, 100000).
pub fn cpu_quota(cpus: f64) -> Result<(i64, u64), ShellError> {
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err(ShellError::Invalid(format!(
            "--cpus {cpus}: want a positive number"
        )));
    }
    let quota = (cpus * CPU_PERIOD as f64).round() as i64;
    // The kernel refuses quotas under 1 ms.
    if quota < 1000 {
        return Err(ShellError::Invalid(format!(
            "--cpus {cpus}: the smallest is 0.01"
        )));
    }
    Ok((quota, CPU_PERIOD))
}

/// The identity of the container being built.
pub struct Target<'a> {
    pub name: &'a str,
    /// The root as seen on the host (passwd and group are read from it).
    pub rootfs: &'a Path,
    pub image_name: &'a str,
    pub image_id: &'a str,
    /// For a rootless caller: its ids on the host, which the spec maps. They are read before
    /// the spec is built, since it is built in the store's user namespace, where the caller is
    /// root.
    pub rootless: Option<&'a RootlessIds>,
}

/// A rootless caller's uid and gid on the host, and the maps `run --image` gives its
/// containers (`rootless::idmap::default_mappings`).
#[derive(Clone, Debug)]
pub struct RootlessIds {
    pub uid: u32,
    pub gid: u32,
    pub uid_maps: Vec<(u32, u32, u32)>,
    pub gid_maps: Vec<(u32, u32, u32)>,
}

impl RootlessIds {
    /// The caller's, read now (outside any user namespace of the store's).
    pub fn of_caller() -> RootlessIds {
        use crate::rootless::idmap::{Kind, default_mappings};
        RootlessIds {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            uid_maps: default_mappings(Kind::Uid),
            gid_maps: default_mappings(Kind::Gid),
        }
    }
}

/// The spec for a container of `config` with the request's flags: the image's process
/// (entrypoint, command, env, working directory, user), then the flags on top. `root.path` is
/// `rootfs`, relative to the bundle.
pub fn build_spec(
    config: &ImageConfig,
    req: &RunRequest,
    t: &Target<'_>,
) -> Result<Spec, ShellError> {
    let hostname = req
        .hostname
        .clone()
        .unwrap_or_else(|| t.name.chars().take(63).collect());
    let overrides = SpecOverrides {
        rootfs: t.rootfs.to_path_buf(),
        root_path: Some("rootfs".into()),
        args: req.command.clone(),
        user: req.user.clone(),
        env: req.env.clone(),
        terminal: req.tty,
        hostname: Some(hostname),
    };
    let spec = config_to_spec(config, &overrides)?;
    let mut v = serde_json::to_value(&spec)
        .map_err(|e| ShellError::Invalid(format!("runtime spec: {e}")))?;

    if let Some(dir) = &req.workdir {
        if !dir.starts_with('/') {
            return Err(ShellError::Invalid(format!(
                "-w {dir:?}: the working directory must be an absolute path"
            )));
        }
        v["process"]["cwd"] = json!(dir);
    }
    v["root"]["readonly"] = json!(req.read_only);
    let mounts = v["mounts"]
        .as_array_mut()
        .expect("the base spec has mounts");
    for vol in &req.volumes {
        let mut options = vec!["rbind", "rprivate"];
        if vol.readonly {
            options.push("ro");
        }
        mounts.push(json!({
            "destination": vol.container,
            "type": "bind",
            "source": vol.host,
            "options": options,
        }));
    }
    let resources = &mut v["linux"]["resources"];
    if let Some(bytes) = req.memory {
        if bytes <= 0 {
            return Err(ShellError::Invalid(format!(
                "--memory {bytes}: want a positive size"
            )));
        }
        resources["memory"] = json!({ "limit": bytes });
    }
    if let Some(cpus) = req.cpus {
        let (quota, period) = cpu_quota(cpus)?;
        resources["cpu"] = json!({ "quota": quota, "period": period });
    }
    if let Some(n) = req.pids_limit {
        if n <= 0 {
            return Err(ShellError::Invalid(format!(
                "--pids-limit {n}: want a positive number"
            )));
        }
        resources["pids"] = json!({ "limit": n });
    }
    let annotations = v["annotations"]
        .as_object_mut()
        .expect("config_to_spec writes annotations");
    annotations.insert(IMAGE_ANNOTATION.into(), json!(t.image_name));
    annotations.insert(IMAGE_ID_ANNOTATION.into(), json!(t.image_id));
    if req.network == Network::Host {
        let ns = v["linux"]["namespaces"]
            .as_array_mut()
            .expect("the base spec has namespaces");
        ns.retain(|n| n["type"] != "network");
    }
    if let Some(ids) = t.rootless {
        crate::rootless::spec::to_rootless(&mut v, ids.uid, ids.gid);
        let as_json = |maps: &[(u32, u32, u32)]| -> serde_json::Value {
            maps.iter()
                .map(|(c, h, n)| json!({"containerID": c, "hostID": h, "size": n}))
                .collect()
        };
        v["linux"]["uidMappings"] = as_json(&ids.uid_maps);
        v["linux"]["gidMappings"] = as_json(&ids.gid_maps);
    }
    serde_json::from_value::<Spec>(v).map_err(|e| ShellError::Invalid(format!("runtime spec: {e}")))
}

/// Writes `config.json` into the bundle.
pub fn write_config(bundle: &Path, spec: &Spec) -> Result<(), ShellError> {
    let path = bundle.join("config.json");
    let json = serde_json::to_vec_pretty(spec)
        .map_err(|e| ShellError::Invalid(format!("runtime spec: {e}")))?;
    super::record::write_replace(&path, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ImageConfig {
        serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
                "config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"StopSignal":"SIGQUIT"}}"#,
        )
        .unwrap()
    }

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::write(t.path().join("etc/group"), "root:x:0:\n").unwrap();
        t
    }

    fn build(req: &RunRequest) -> Result<Spec, ShellError> {
        let r = rootfs();
        build_spec(
            &config(),
            req,
            &Target {
                name: "calm_otter",
                rootfs: r.path(),
                image_name: "localhost/busybox:latest",
                image_id: "sha256:ab",
                rootless: None,
            },
        )
    }

    #[test]
    fn flags_land_in_the_spec() {
        let host = tempfile::tempdir().unwrap();
        let req = RunRequest {
            workdir: Some("/srv".into()),
            read_only: true,
            memory: Some(64 << 20),
            cpus: Some(1.5),
            pids_limit: Some(20),
            volumes: vec![
                format!("{}:/data:ro", host.path().display())
                    .parse()
                    .unwrap(),
            ],
            command: Some(vec!["exit 3".into()]),
            ..Default::default()
        };
        let s = build(&req).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["process"]["args"], json!(["/bin/sh", "-c", "exit 3"]));
        assert_eq!(v["process"]["cwd"], "/srv");
        assert_eq!(v["root"], json!({"path": "rootfs", "readonly": true}));
        assert_eq!(v["hostname"], "calm_otter");
        let r = &v["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 64 << 20);
        assert_eq!(r["cpu"]["quota"], 150000);
        assert_eq!(r["cpu"]["period"], 100000);
        assert_eq!(r["pids"]["limit"], 20);
        let bind = v["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(bind["destination"], "/data");
        assert_eq!(bind["options"], json!(["rbind", "rprivate", "ro"]));
        let a = &v["annotations"];
        assert_eq!(a[IMAGE_ANNOTATION], "localhost/busybox:latest");
        assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGQUIT");
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(ns.contains(&"network"));
    }

    #[test]
    fn host_network_drops_the_namespace() {
        let s = build(&RunRequest {
            network: Network::Host,
            ..Default::default()
        })
        .unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert!(
            !v["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["type"] == "network")
        );
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let e = build(&RunRequest {
            workdir: Some("srv".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("-w"), "{e}");
        assert!(cpu_quota(0.0).is_err());
        assert!(cpu_quota(0.001).is_err());
        assert_eq!(cpu_quota(0.5).unwrap(), (50000, 100000));
        assert!("bridge".parse::<Network>().is_err());
        for v in [
            "rel:/x",
            "/tmp:rel",
            "/tmp",
            "/tmp:/x:rx",
            "/tmp/../etc:/x",
            "/nonexistent-rind:/x",
        ] {
            let e = v.parse::<Volume>().unwrap_err().to_string();
            assert!(e.starts_with("-v"), "{v}: {e}");
        }
        let ok: Volume = "/tmp:/x:rw".parse().unwrap();
        assert!(!ok.readonly);
    }
}
