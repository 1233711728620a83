//! `exec --cgroup`: an exec'd process placed in an existing cgroup below the container's,
//! as runc's `exec --cgroup [<controller>[,<controller>...]:]<path>` does.
//!
//! One argument without a controller moves the process down in every hierarchy (on cgroup v2
//! the only form). Otherwise each argument names the v1 controllers it applies to, and the
//! other hierarchies stay at the container's cgroup. The path is relative to the container's
//! cgroup and may not climb out of it.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::{CgroupError, CgroupPaths, Result};

/// The container's cgroup `paths` with the `--cgroup` arguments `args` applied. The cgroups
/// must exist: the process joins them, it does not make them.
pub fn sub_cgroup_paths(paths: &CgroupPaths, args: &[String]) -> Result<CgroupPaths> {
    if args.is_empty() {
        return Ok(paths.clone());
    }
    let subs = parse_args(args)?;
    let mut out = paths.clone();
    if let Some(sub) = subs.get("") {
        match &mut out {
            CgroupPaths::V1 {
                controllers,
                unified,
            } => {
                for dir in controllers.values_mut().chain(unified.iter_mut()) {
                    *dir = below(dir, sub)?;
                }
            }
            CgroupPaths::V2 { dir } => *dir = below(dir, sub)?,
        }
    } else {
        let CgroupPaths::V1 { controllers, .. } = &mut out else {
            let ctrl = subs.keys().next().map(String::as_str).unwrap_or_default();
            return Err(unknown_controller(ctrl));
        };
        for (ctrl, sub) in &subs {
            let dir = controllers
                .get_mut(ctrl)
                .ok_or_else(|| unknown_controller(ctrl))?;
            *dir = below(dir, sub)?;
        }
    }
    let dirs: Vec<&PathBuf> = match &out {
        CgroupPaths::V1 {
            controllers,
            unified,
        } => controllers.values().chain(unified.iter()).collect(),
        CgroupPaths::V2 { dir } => vec![dir],
    };
    for dir in dirs {
        // runc's words for a cgroup that is not there, which its tests match.
        let procs = dir.join("cgroup.procs");
        if let Err(e) = std::fs::metadata(&procs) {
            return Err(CgroupError::Invalid(format!(
                "--cgroup: adding pid to {}: stat {}: {}",
                dir.display(),
                procs.display(),
                crate::error::Cause::from(e)
            )));
        }
    }
    Ok(out)
}

/// runc's reading of the arguments: `path` alone (then the only argument), or
/// `ctrl[,ctrl...]:path`.
fn parse_args(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut subs = BTreeMap::new();
    for arg in args {
        match arg.split_once(':') {
            None if args.len() == 1 => {
                subs.insert(String::new(), arg.clone());
            }
            None => {
                return Err(CgroupError::Invalid(format!(
                    "--cgroup {arg}: missing <controller>: prefix (needed when --cgroup is given \
                     more than once)"
                )));
            }
            Some((_, path)) if path.contains(':') => {
                return Err(CgroupError::Invalid(format!(
                    "--cgroup {arg}: want [<controller>[,<controller>...]:]<path>"
                )));
            }
            Some((ctrls, path)) => {
                for ctrl in ctrls.split(',') {
                    subs.insert(ctrl.to_string(), path.to_string());
                }
            }
        }
    }
    Ok(subs)
}

fn unknown_controller(ctrl: &str) -> CgroupError {
    CgroupError::Invalid(format!(
        "--cgroup: unknown controller {ctrl} (not a hierarchy of this container's cgroup)"
    ))
}

/// `base` joined with `sub`, read lexically: `..` may not climb above `base`.
fn below(base: &Path, sub: &str) -> Result<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in Path::new(sub).components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    // runc's words.
                    return Err(CgroupError::Invalid(format!(
                        "--cgroup: {sub} is not a sub cgroup path"
                    )));
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let mut dir = base.to_path_buf();
    dir.extend(parts);
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1() -> CgroupPaths {
        CgroupPaths::V1 {
            controllers: [
                ("memory".to_string(), PathBuf::from("/m/ct")),
                ("cpu".to_string(), PathBuf::from("/c/ct")),
            ]
            .into(),
            unified: Some(PathBuf::from("/u/ct")),
        }
    }

    #[test]
    fn paths_stay_below_the_container() {
        assert_eq!(below(Path::new("/m/ct"), "/").unwrap(), Path::new("/m/ct"));
        assert_eq!(
            below(Path::new("/m/ct"), "a/../b").unwrap(),
            Path::new("/m/ct/b")
        );
        assert_eq!(
            below(Path::new("/m/ct"), "/x/./y").unwrap(),
            Path::new("/m/ct/x/y")
        );
        let err = below(Path::new("/m/ct"), "..").unwrap_err().to_string();
        assert!(err.contains(" .. is not a sub cgroup path"), "{err}");
        assert!(below(Path::new("/m/ct"), "a/../../ct2").is_err());
    }

    #[test]
    fn arguments_are_read_as_runc_reads_them() {
        let subs = parse_args(&["cpu,cpuacct:sub".into(), "memory:m".into()]).unwrap();
        assert_eq!(subs["cpu"], "sub");
        assert_eq!(subs["cpuacct"], "sub");
        assert_eq!(subs["memory"], "m");
        assert_eq!(parse_args(&["x".into()]).unwrap()[""], "x");
        assert!(parse_args(&["x".into(), "memory:m".into()]).is_err());
        assert!(parse_args(&["a:b:c".into()]).is_err());
    }

    #[test]
    fn unknown_controllers_and_missing_cgroups_are_errors() {
        let err = sub_cgroup_paths(&v1(), &["whaaat:/".into()]).unwrap_err();
        assert!(
            err.to_string().contains("unknown controller whaaat"),
            "{err}"
        );
        let v2 = CgroupPaths::V2 {
            dir: PathBuf::from("/u/ct"),
        };
        assert!(sub_cgroup_paths(&v2, &["memory:x".into()]).is_err());
        let err = sub_cgroup_paths(&v1(), &["nonexistent".into()]).unwrap_err();
        let err = err.to_string();
        assert!(err.contains(" adding pid "), "{err}");
        assert!(
            err.contains("/nonexistent/cgroup.procs: no such file "),
            "{err}"
        );
        assert_eq!(sub_cgroup_paths(&v1(), &[]).unwrap(), v1());
    }
}
