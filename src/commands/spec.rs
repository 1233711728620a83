use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::spec::default::default_spec;

pub fn run(bundle: &Path, no_terminal: bool, rootless: bool) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists: remove it first", path.display());
    }
    let mut spec = default_spec(!no_terminal);
    if rootless {
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        crate::rootless::spec::to_rootless(&mut spec, uid.as_raw(), gid.as_raw());
        // No limits, as runc's: they need a delegated cgroup.
        if let Some(linux) = spec["linux"].as_object_mut() {
            linux.remove("resources");
        }
    }
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}
