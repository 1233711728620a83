//! `rind rm [-f] NAME...`

use anyhow::{Result, bail};

use crate::cli::GlobalOpts;
use crate::shell;

pub fn run(g: &GlobalOpts, names: &[String], force: bool) -> Result<i32> {
    shell::sweep_and_warn(&g.root);
    let mut failed = Vec::new();
    for name in names {
        match shell::remove(&g.root, &g.store, name, force) {
            Ok(_) => println!("{name}"),
            Err(e) => failed.push(format!("rm {name}: {e}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(0)
}
