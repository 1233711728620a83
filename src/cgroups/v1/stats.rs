//! Statistics from cgroup v1 files, in runc's `events` types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cgroups::files::{read_optional, read_u64_or_zero};
use crate::cgroups::stats::{Blkio, Hugetlb, MemoryEntry, Stats, parse};
use crate::cgroups::{Result, convert};

/// Reads what each mounted controller reports. `unified` is the cgroup2 directory of a hybrid
/// host, read for hugetlb when that controller lives there.
pub fn read_stats(
    controllers: &BTreeMap<String, PathBuf>,
    unified: Option<&Path>,
) -> Result<Stats> {
    let mut s = Stats::default();
    let dir = |c: &str| controllers.get(c).map(PathBuf::as_path);
    if let Some(d) = dir("memory") {
        memory(d, &mut s)?;
    }
    if let Some(d) = dir("cpuacct") {
        cpuacct(d, &mut s)?;
    }
    if let Some(d) = dir("cpu") {
        let m = parse::flat_keyed(&read_optional(d, "cpu.stat")?.unwrap_or_default());
        let get = |k: &str| m.get(k).copied().unwrap_or(0);
        s.cpu.throttling.periods = get("nr_periods");
        s.cpu.throttling.throttled_periods = get("nr_throttled");
        s.cpu.throttling.throttled_time = get("throttled_time");
    }
    if let Some(d) = dir("cpuset") {
        cpuset(d, &mut s)?;
    }
    if let Some(d) = dir("pids") {
        s.pids.current = read_u64_or_zero(d, "pids.current")?;
        s.pids.limit = match read_u64_or_zero(d, "pids.max")? {
            u64::MAX => 0,
            n => n,
        };
    }
    if let Some(d) = dir("blkio") {
        s.blkio = blkio(d)?;
    }
    for size in convert::hugepage_sizes() {
        let entry = if let Some(d) = dir("hugetlb") {
            let f = |k: &str| format!("hugetlb.{size}.{k}");
            match read_optional(d, &f("usage_in_bytes"))? {
                None => continue,
                Some(u) => Hugetlb {
                    usage: u.parse().unwrap_or(0),
                    max: read_u64_or_zero(d, &f("max_usage_in_bytes"))?,
                    failcnt: read_u64_or_zero(d, &f("failcnt"))?,
                },
            }
        } else if let Some(d) = unified {
            let Some(u) = read_optional(d, &format!("hugetlb.{size}.current"))? else {
                continue;
            };
            let events = read_optional(d, &format!("hugetlb.{size}.events"))?.unwrap_or_default();
            Hugetlb {
                usage: u.parse().unwrap_or(0),
                max: 0,
                failcnt: parse::flat_keyed(&events).get("max").copied().unwrap_or(0),
            }
        } else {
            continue;
        };
        s.hugetlb.insert(size, entry);
    }
    Ok(s)
}

fn memory_entry(d: &Path, prefix: &str) -> Result<MemoryEntry> {
    let f = |k: &str| format!("{prefix}.{k}");
    Ok(MemoryEntry {
        usage: read_u64_or_zero(d, &f("usage_in_bytes"))?,
        max: read_u64_or_zero(d, &f("max_usage_in_bytes"))?,
        failcnt: read_u64_or_zero(d, &f("failcnt"))?,
        limit: read_u64_or_zero(d, &f("limit_in_bytes"))?,
    })
}

fn memory(d: &Path, s: &mut Stats) -> Result<()> {
    s.memory.raw = parse::flat_keyed(&read_optional(d, "memory.stat")?.unwrap_or_default());
    s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    s.memory.usage = memory_entry(d, "memory")?;
    s.memory.swap = memory_entry(d, "memory.memsw")?;
    s.memory.kernel = memory_entry(d, "memory.kmem")?;
    s.memory.kernel_tcp = memory_entry(d, "memory.kmem.tcp")?;
    Ok(())
}

fn cpuacct(d: &Path, s: &mut Stats) -> Result<()> {
    let u = &mut s.cpu.usage;
    u.total = read_u64_or_zero(d, "cpuacct.usage")?;
    u.percpu = parse::numbers(&read_optional(d, "cpuacct.usage_percpu")?.unwrap_or_default());
    if let Some(all) = read_optional(d, "cpuacct.usage_all")? {
        (u.percpu_kernel, u.percpu_user) = parse::cpuacct_usage_all(&all);
    }
    match (
        read_optional(d, "cpuacct.usage_user")?,
        read_optional(d, "cpuacct.usage_sys")?,
    ) {
        (Some(user), Some(sys)) => {
            u.user = user.parse().unwrap_or(0);
            u.kernel = sys.parse().unwrap_or(0);
        }
        _ => {
            // Older kernels: cpuacct.stat in clock ticks.
            let m = parse::flat_keyed(&read_optional(d, "cpuacct.stat")?.unwrap_or_default());
            // SAFETY: sysconf has no memory effects.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            u.user = m.get("user").copied().unwrap_or(0) * 1_000_000_000 / hz;
            u.kernel = m.get("system").copied().unwrap_or(0) * 1_000_000_000 / hz;
        }
    }
    Ok(())
}

fn cpuset(d: &Path, s: &mut Stats) -> Result<()> {
    let c = &mut s.cpuset;
    c.cpus =
        parse::cpu_list(&read_optional(d, "cpuset.cpus")?.unwrap_or_default()).unwrap_or_default();
    c.mems =
        parse::cpu_list(&read_optional(d, "cpuset.mems")?.unwrap_or_default()).unwrap_or_default();
    c.cpu_exclusive = read_u64_or_zero(d, "cpuset.cpu_exclusive")?;
    c.mem_exclusive = read_u64_or_zero(d, "cpuset.mem_exclusive")?;
    c.mem_hardwall = read_u64_or_zero(d, "cpuset.mem_hardwall")?;
    c.memory_migrate = read_u64_or_zero(d, "cpuset.memory_migrate")?;
    c.memory_spread_page = read_u64_or_zero(d, "cpuset.memory_spread_page")?;
    c.memory_spread_slab = read_u64_or_zero(d, "cpuset.memory_spread_slab")?;
    c.memory_pressure = read_u64_or_zero(d, "cpuset.memory_pressure")?;
    c.sched_load_balance = read_u64_or_zero(d, "cpuset.sched_load_balance")?;
    c.sched_relax_domain_level = read_optional(d, "cpuset.sched_relax_domain_level")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(())
}

/// runc reads CFQ's full set of files when present, else BFQ's, else the throttle counters.
fn blkio(d: &Path) -> Result<Blkio> {
    let read = |f: &str| -> Result<Vec<_>> {
        Ok(parse::blkio_v1(&read_optional(d, f)?.unwrap_or_default()))
    };
    let mut b = Blkio {
        io_service_bytes_recursive: read("blkio.io_service_bytes_recursive")?,
        ..Default::default()
    };
    if !b.io_service_bytes_recursive.is_empty() {
        b.io_serviced_recursive = read("blkio.io_serviced_recursive")?;
        b.io_queued_recursive = read("blkio.io_queued_recursive")?;
        b.io_service_time_recursive = read("blkio.io_service_time_recursive")?;
        b.io_wait_time_recursive = read("blkio.io_wait_time_recursive")?;
        b.io_merged_recursive = read("blkio.io_merged_recursive")?;
        b.io_time_recursive = read("blkio.time_recursive")?;
        b.sectors_recursive = read("blkio.sectors_recursive")?;
        return Ok(b);
    }
    b.io_service_bytes_recursive = read("blkio.bfq.io_service_bytes_recursive")?;
    if !b.io_service_bytes_recursive.is_empty() {
        b.io_serviced_recursive = read("blkio.bfq.io_serviced_recursive")?;
        return Ok(b);
    }
    b.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes_recursive")?;
    b.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive")?;
    Ok(b)
}

/// `oom_kill` of `memory.oom_control` (Linux 4.13 and later).
pub fn oom_kill_count(memory: &Path) -> Result<u64> {
    let text = read_optional(memory, "memory.oom_control")?.unwrap_or_default();
    Ok(parse::flat_keyed(&text)
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}
