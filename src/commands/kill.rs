use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::container;
use crate::linux::signals;

pub fn run(g: &GlobalOpts, id: &str, signal: &str, all: bool) -> Result<i32> {
    let sig = signals::parse_for_kill(signal)?;
    container::kill(&g.root, id, sig, all)?;
    Ok(0)
}
