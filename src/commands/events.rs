use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cgroups;
use crate::cli::GlobalOpts;
use crate::container::{Container, Status};

/// One event line. The fields in runc's order (`type`, `id`, `data`), which clients and runc's
/// tests match as text; `data` is left out when there is none (an `oom` event), as runc does.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<cgroups::Stats>,
}

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
    let emit = |event: Event| -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string(&event)?)?;
        out.flush()?;
        Ok(())
    };
    let stats_event = || -> Result<Event> {
        Ok(Event {
            kind: "stats",
            id,
            data: Some(cg.stats()?),
        })
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
                emit(Event {
                    kind: "oom",
                    id,
                    data: None,
                })?;
            }
        }
    }
}
