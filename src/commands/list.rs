use anyhow::Result;

use crate::cli::{GlobalOpts, ListFormat};
use crate::container::{self, Container, ContainerError, OciState};

pub fn run(g: &GlobalOpts, format: ListFormat, quiet: bool) -> Result<i32> {
    let mut states: Vec<OciState> = Vec::new();
    for id in container::list_ids(&g.root)? {
        match Container::load(&g.root, &id) {
            Ok(c) => states.push(c.state.oci(c.status())),
            // Deleted meanwhile, or a create that died before writing any state.
            Err(ContainerError::NotExist(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string(&states)?),
        ListFormat::Table => print!("{}", table(&states)),
    }
    Ok(0)
}

/// runc's columns: ID, PID, STATUS, BUNDLE, CREATED, OWNER.
fn table(states: &[OciState]) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for s in states {
        rows.push([
            s.id.clone(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            if s.owner.is_empty() {
                "root".into()
            } else {
                s.owner.clone()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 5 {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}
