use anyhow::Result;
use serde::Serialize;

use crate::cli::{GlobalOpts, ListFormat};
use crate::container::{self, Container, ContainerError, OciState};
use crate::shell::summary;

/// One `list --format json` entry: runc's fields unchanged, plus `image` (for image
/// containers) and `command`.
#[derive(Serialize)]
struct Entry {
    #[serde(flatten)]
    state: OciState,
    #[serde(flatten)]
    extras: summary::Extras,
}

pub fn run(g: &GlobalOpts, format: ListFormat, quiet: bool) -> Result<i32> {
    let mut entries: Vec<Entry> = Vec::new();
    for id in container::list_ids(&g.root)? {
        match Container::read(&g.root, &id) {
            Ok(c) => entries.push(Entry {
                state: c.state.oci(c.status()),
                extras: summary::extras(&c),
            }),
            // Deleted meanwhile, or left without a state by an older rind killed in create.
            Err(ContainerError::NotExist(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if quiet {
        for e in &entries {
            println!("{}", e.state.id);
        }
        return Ok(0);
    }
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string(&entries)?),
        ListFormat::Table => print!("{}", table(&entries)),
    }
    Ok(0)
}

/// runc's columns (ID, PID, STATUS, BUNDLE, CREATED, OWNER), then IMAGE and COMMAND.
fn table(entries: &[Entry]) -> String {
    const COLUMNS: usize = 8;
    let mut rows = vec![
        [
            "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER", "IMAGE", "COMMAND",
        ]
        .map(String::from),
    ];
    for e in entries {
        let s = &e.state;
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
            e.extras.image.clone().unwrap_or_default(),
            summary::command_cell(&e.extras.command, 40),
        ]);
    }
    let widths: Vec<usize> = (0..COLUMNS)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == COLUMNS - 1 {
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
