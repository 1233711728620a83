use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::{GlobalOpts, ListFormat};
use crate::container::Container;

/// runc's `ps`: the host pids in the container's cgroup as JSON, or the lines of `ps` (run with
/// `ps_args`, default `-ef`) whose PID column belongs to the container.
pub fn run(g: &GlobalOpts, id: &str, format: ListFormat, ps_args: &[String]) -> Result<i32> {
    let c = Container::read(&g.root, id)?;
    let pids: BTreeSet<i32> = c
        .cgroup()?
        .pids()?
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    drop(c);
    if format == ListFormat::Json {
        if !ps_args.is_empty() {
            bail!("ps arguments cannot be used with --format json");
        }
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = Command::new("ps").args(&args).output().context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("ps {}: output has no PID column", args.join(" "));
    };
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
