//! `rind stop [-t SECONDS] NAME...`

use std::time::Duration;

use anyhow::{Result, bail};

use crate::cli::GlobalOpts;
use crate::shell;

pub fn run(g: &GlobalOpts, names: &[String], grace_secs: u64) -> Result<i32> {
    let mut failed = Vec::new();
    for name in names {
        match shell::stop(&g.root, name, Duration::from_secs(grace_secs)) {
            Ok(_) => println!("{name}"),
            Err(e) => failed.push(format!("stop {name}: {e}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(0)
}
