use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::spec::default::default_spec;

pub fn run(bundle: &Path, no_terminal: bool) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists: remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&default_spec(!no_terminal))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}
