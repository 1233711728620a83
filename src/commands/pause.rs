use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::container;

pub fn pause(g: &GlobalOpts, id: &str) -> Result<i32> {
    container::pause(&g.root, id)?;
    Ok(0)
}

pub fn resume(g: &GlobalOpts, id: &str) -> Result<i32> {
    container::resume(&g.root, id)?;
    Ok(0)
}
