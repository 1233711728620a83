use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::container::Container;

pub fn run(g: &GlobalOpts, id: &str) -> Result<i32> {
    let c = Container::read(&g.root, id)?;
    let doc = c.state.oci(c.status());
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(0)
}
