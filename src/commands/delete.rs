use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::container;

pub fn run(g: &GlobalOpts, id: &str, force: bool) -> Result<i32> {
    container::delete(&g.root, id, force)?;
    // The temporary directories of creates killed before they had an id (container/mod.rs).
    container::sweep_unfinished(&g.root);
    Ok(0)
}
