//! `rind inspect NAME`

use anyhow::{Context, Result};

use crate::cli::GlobalOpts;
use crate::shell::summary;

pub fn run(g: &GlobalOpts, name: &str) -> Result<i32> {
    let v = summary::inspect(&g.root, name).with_context(|| format!("inspect {name}"))?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(0)
}
