//! Statistics from cgroup v2 files, converted to runc's v1-shaped `events` types.

use std::path::Path;

use crate::cgroups::files::{read_optional, read_u64_or_zero};
use crate::cgroups::stats::{Hugetlb, MemoryEntry, Stats, parse};
use crate::cgroups::{Result, convert};

/// Reads every statistic the cgroup's enabled controllers provide. Missing files (controller
/// not enabled, older kernel) leave their fields at zero.
pub fn read_stats(dir: &Path) -> Result<Stats> {
    let mut s = Stats::default();
    if let Some(text) = read_optional(dir, "cpu.stat")? {
        let m = parse::flat_keyed(&text);
        let get = |k: &str| m.get(k).copied().unwrap_or(0);
        s.cpu.usage.total = get("usage_usec") * 1000;
        s.cpu.usage.user = get("user_usec") * 1000;
        s.cpu.usage.kernel = get("system_usec") * 1000;
        s.cpu.throttling.periods = get("nr_periods");
        s.cpu.throttling.throttled_periods = get("nr_throttled");
        s.cpu.throttling.throttled_time = get("throttled_usec") * 1000;
    }
    if let Some(text) = read_optional(dir, "cpuset.cpus.effective")? {
        s.cpuset.cpus = parse::cpu_list(&text).unwrap_or_default();
    }
    if let Some(text) = read_optional(dir, "cpuset.mems.effective")? {
        s.cpuset.mems = parse::cpu_list(&text).unwrap_or_default();
    }
    memory(dir, &mut s)?;
    s.pids.current = read_u64_or_zero(dir, "pids.current")?;
    s.pids.limit = match read_u64_or_zero(dir, "pids.max")? {
        u64::MAX => 0,
        n => n,
    };
    if let Some(text) = read_optional(dir, "io.stat")? {
        let (bytes, ios) = parse::io_stat_v2(&text);
        s.blkio.io_service_bytes_recursive = bytes;
        s.blkio.io_serviced_recursive = ios;
    }
    for size in convert::hugepage_sizes() {
        let Some(current) = read_optional(dir, &format!("hugetlb.{size}.current"))? else {
            continue;
        };
        let events = read_optional(dir, &format!("hugetlb.{size}.events"))?.unwrap_or_default();
        s.hugetlb.insert(
            size,
            Hugetlb {
                usage: current.parse().unwrap_or(0),
                max: 0,
                failcnt: parse::flat_keyed(&events).get("max").copied().unwrap_or(0),
            },
        );
    }
    Ok(s)
}

fn memory(dir: &Path, s: &mut Stats) -> Result<()> {
    let Some(current) = read_optional(dir, "memory.current")? else {
        return Ok(());
    };
    let raw = parse::flat_keyed(&read_optional(dir, "memory.stat")?.unwrap_or_default());
    let events = parse::flat_keyed(&read_optional(dir, "memory.events")?.unwrap_or_default());
    s.memory.cache = raw.get("file").copied().unwrap_or(0);
    s.memory.usage = MemoryEntry {
        usage: current.parse().unwrap_or(0),
        limit: read_u64_or_zero(dir, "memory.max")?,
        max: read_u64_or_zero(dir, "memory.peak")?,
        // v2 has no failcnt; "max" counts the times usage hit memory.max, its nearest analogue.
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // v1 reported swap as memory plus swap; runc converts v2's swap-only values the same way.
    if let Some(swap) = read_optional(dir, "memory.swap.current")? {
        let swap_limit = read_u64_or_zero(dir, "memory.swap.max")?;
        s.memory.swap = MemoryEntry {
            usage: swap.parse::<u64>().unwrap_or(0) + s.memory.usage.usage,
            limit: if swap_limit == u64::MAX {
                u64::MAX
            } else {
                swap_limit.saturating_add(s.memory.usage.limit)
            },
            max: 0,
            failcnt: 0,
        };
    }
    s.memory.raw = raw;
    Ok(())
}

/// `oom_kill` of `memory.events`: processes killed by the OOM killer in this cgroup and below.
pub fn oom_kill_count(dir: &Path) -> Result<u64> {
    let text = read_optional(dir, "memory.events")?.unwrap_or_default();
    Ok(parse::flat_keyed(&text)
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}
