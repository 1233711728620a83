//! `rind logs [-f] NAME`

use anyhow::{Context, Result};

use crate::cli::GlobalOpts;
use crate::shell::logs;

pub fn run(g: &GlobalOpts, name: &str, follow: bool) -> Result<i32> {
    let stdout = std::io::stdout();
    logs::copy_log(&g.root, name, follow, &mut stdout.lock())
        .with_context(|| format!("logs {name}"))?;
    Ok(0)
}
