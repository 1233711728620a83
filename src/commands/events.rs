use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::cli::GlobalOpts;
use crate::container::{Container, Status};

/// runc's `events`: with `--stats`, one stats event; otherwise a stats event every interval
/// and an `oom` event whenever the kernel's OOM killer kills in the container, until the
/// container stops.
pub fn run(g: &GlobalOpts, id: &str, stats_once: bool, interval: Duration) -> Result<i32> {
    let c = Container::read(&g.root, id)?;
    if c.status() == Status::Stopped {
        anyhow::bail!("container {id} is not running");
    }
    let cg = c.cgroup()?;
    drop(c);
    let emit = |event: serde_json::Value| -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{event}")?;
        out.flush()?;
        Ok(())
    };
    let stats_event = || -> Result<serde_json::Value> {
        Ok(json!({"type": "stats", "id": id, "data": cg.stats()?}))
    };
    if stats_once {
        emit(stats_event()?)?;
        return Ok(0);
    }
    let notifier = cg.oom_notifier().ok();
    let mut kills = cg.oom_kill_count().unwrap_or(0);
    loop {
        match Container::read(&g.root, id) {
            Ok(c) if c.status() != Status::Stopped => {}
            _ => return Ok(0),
        }
        emit(stats_event()?)?;
        // Sleep for one interval, waking early on memory events to report OOM kills promptly.
        let deadline = std::time::Instant::now() + interval;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match &notifier {
                Some(n) => {
                    n.wait(Some(left))?;
                }
                None => std::thread::sleep(left),
            }
            let now = cg.oom_kill_count().unwrap_or(kills);
            if now > kills {
                kills = now;
                emit(json!({"type": "oom", "id": id}))?;
            }
        }
    }
}
