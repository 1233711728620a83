//! runc's systemd form of `cgroupsPath`, `slice:prefix:name`, and where systemd puts the
//! resulting scope in the cgroup tree.

use super::super::{CgroupError, Result};

/// The scope prefix when `cgroupsPath` is empty. runc uses "runc"; engines always pass a path
/// of their own (podman `machine.slice:libpod:ID`, containerd's CRI
/// `kubepods-...slice:cri-containerd:ID`), so this only names units rind made for a bare
/// bundle.
pub const DEFAULT_PREFIX: &str = "rind";

/// A transient unit to make, and the slice it goes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitPath {
    /// `system.slice`, `machine.slice`, `kubepods-besteffort.slice` ...
    pub slice: String,
    /// `<prefix>-<name>.scope`, or `<name>.scope` with an empty prefix; or, for a `name` that
    /// ends in `.slice`, that name itself (runc's rule: the container's unit is then a slice).
    pub unit: String,
}

impl UnitPath {
    /// Parses `cgroups_path` (`None` or empty: the defaults, runc's: the `default_slice`,
    /// prefix "rind", name = the container id).
    pub fn parse(cgroups_path: Option<&str>, id: &str, default_slice: &str) -> Result<UnitPath> {
        let (slice, prefix, name) = match cgroups_path.filter(|p| !p.is_empty()) {
            None => (default_slice, DEFAULT_PREFIX, id),
            Some(p) => {
                let parts: Vec<&str> = p.split(':').collect();
                let [slice, prefix, name] = parts[..] else {
                    return Err(CgroupError::Invalid(format!(
                        "path {p:?}: with --systemd-cgroup it must be \"slice:prefix:name\" (as \"system.slice:rind:ID\")"
                    )));
                };
                (
                    if slice.is_empty() {
                        default_slice
                    } else {
                        slice
                    },
                    prefix,
                    name,
                )
            }
        };
        if name.is_empty() || name.contains('/') {
            return Err(CgroupError::Invalid(format!(
                "scope name {name:?} (from cgroupsPath {:?}) must be non-empty and have no \"/\"",
                cgroups_path.unwrap_or_default()
            )));
        }
        if name.ends_with(".slice") {
            // runc's getUnitName: the unit is the slice itself, whatever the prefix. Its place
            // in the tree comes from its own name, as for any slice.
            expand_slice(slice)?;
            expand_slice(name)?;
            return Ok(UnitPath {
                slice: slice.to_string(),
                unit: name.to_string(),
            });
        }
        if prefix.contains('/') {
            return Err(CgroupError::Invalid(format!(
                "scope prefix {prefix:?} must have no \"/\""
            )));
        }
        expand_slice(slice)?;
        let unit = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        Ok(UnitPath {
            slice: slice.to_string(),
            unit,
        })
    }

    /// Whether the unit is a slice (a `name` ending in `.slice`) rather than a scope.
    pub fn is_slice(&self) -> bool {
        self.unit.ends_with(".slice")
    }

    /// The unit's cgroup relative to the manager's root cgroup, without a leading `/`:
    /// `machine.slice/libpod-ID.scope`; a slice unit's comes from its own name.
    pub fn relative_dir(&self) -> String {
        if self.is_slice() {
            return expand_slice(&self.unit)
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
        }
        let slice = expand_slice(&self.slice).unwrap_or_default();
        let slice = slice.trim_start_matches('/');
        if slice.is_empty() {
            self.unit.clone()
        } else {
            format!("{slice}/{}", self.unit)
        }
    }
}

/// The cgroup directory of a slice, as systemd nests it: `a-b-c.slice` lives at
/// `/a.slice/a-b.slice/a-b-c.slice`, and `-.slice` is the root `/`.
pub fn expand_slice(slice: &str) -> Result<String> {
    let bad = |why: &str| CgroupError::Invalid(format!("slice {slice:?}: {why}"));
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(bad("a slice name ends in \".slice\""));
    };
    if slice.contains('/') {
        return Err(bad("a slice name has no \"/\""));
    }
    if stem == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(bad("empty component between \"-\""));
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(part);
        path.push_str(".slice");
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_slices_expand_as_systemd_nests_them() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("kubepods-besteffort-pod12.slice").unwrap(),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
    }

    #[test]
    fn bad_slices_are_refused_with_their_name() {
        for s in ["system", "a--b.slice", "-a.slice", "a/b.slice", "a-.slice"] {
            let e = expand_slice(s).unwrap_err().to_string();
            assert!(e.contains(s), "{e}");
        }
    }

    #[test]
    fn engine_paths_parse() {
        let p = UnitPath::parse(Some("machine.slice:libpod:abc"), "abc", "system.slice").unwrap();
        assert_eq!(p.unit, "libpod-abc.scope");
        assert_eq!(p.relative_dir(), "machine.slice/libpod-abc.scope");
        let p = UnitPath::parse(
            Some("kubepods-burstable-pod1.slice:cri-containerd:c1"),
            "c1",
            "system.slice",
        )
        .unwrap();
        assert_eq!(
            p.relative_dir(),
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-c1.scope"
        );
    }

    #[test]
    fn empty_path_takes_the_defaults() {
        let p = UnitPath::parse(None, "c1", "system.slice").unwrap();
        assert_eq!(p.relative_dir(), "system.slice/rind-c1.scope");
        let p = UnitPath::parse(Some(""), "c1", "user.slice").unwrap();
        assert_eq!(p.unit, "rind-c1.scope");
        assert_eq!(p.slice, "user.slice");
        let p = UnitPath::parse(Some(":p:n"), "c1", "system.slice").unwrap();
        assert_eq!(p.relative_dir(), "system.slice/p-n.scope");
        let p = UnitPath::parse(Some("-.slice::n"), "c1", "system.slice").unwrap();
        assert_eq!(p.relative_dir(), "n.scope");
    }

    #[test]
    fn a_slice_name_makes_the_slice_itself_the_unit() {
        let p = UnitPath::parse(Some("system.slice:runc:in.slice"), "c1", "system.slice").unwrap();
        assert_eq!(p.unit, "in.slice");
        assert!(p.is_slice());
        assert_eq!(p.slice, "system.slice");
        assert_eq!(p.relative_dir(), "in.slice");
        let p = UnitPath::parse(Some("a.slice::a-b.slice"), "c1", "system.slice").unwrap();
        assert_eq!(p.relative_dir(), "a.slice/a-b.slice");
        assert!(
            !UnitPath::parse(None, "c1", "system.slice")
                .unwrap()
                .is_slice()
        );
        let e = UnitPath::parse(Some("system.slice:p:a--b.slice"), "c1", "system.slice")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a--b.slice"), "{e}");
    }

    #[test]
    fn a_plain_path_is_refused_naming_the_value() {
        let e = UnitPath::parse(Some("/machine/c1"), "c1", "system.slice")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"/machine/c1\"") && e.contains("slice:prefix:name"),
            "{e}"
        );
    }
}
