use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::container;

pub fn run(g: &GlobalOpts, id: &str) -> Result<i32> {
    container::start(&g.root, id)?;
    Ok(0)
}
