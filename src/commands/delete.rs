use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::container;

pub fn run(g: &GlobalOpts, id: &str, force: bool) -> Result<i32> {
    container::delete(&g.root, id, force)?;
    Ok(0)
}
