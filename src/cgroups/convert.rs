//! Conversions from the OCI values (designed for cgroup v1) to what each kernel file takes.
//! Each follows runc (opencontainers/cgroups) and crun, so that a spec means the same thing under
//! rind as under them.

use super::{CgroupError, Result};

/// cgroup v1 `cpu.shares` (2..=262144) to cgroup v2 `cpu.weight` (1..=10000).
///
/// runc and crun first mapped shares linearly (`1 + (shares - 2) * 9999 / 262142`), which sent
/// the v1 default of 1024 shares to weight 39 instead of the v2 default of 100. Both switched
/// (runc PR 4785, crun issue 1721) to a quadratic in log2(shares) that keeps the end points
/// and maps 1024 to exactly 100:
///
/// `weight = ceil(10 ^ ((l^2 + 125 l) / 612 - 7/34))`, `l = log2(shares)`.
///
/// 0 means "unset" and stays 0.
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262144.. => 10000,
        _ => {
            let l = (shares as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// cgroup v1 `blkio.weight` (10..=1000) to cgroup v2 `io.weight` (1..=10000), linearly:
/// `1 + (weight - 10) * 9999 / 990`. 0 means "unset".
pub fn blkio_weight_to_io_weight(weight: u16) -> Result<u64> {
    match weight {
        0 => Ok(0),
        10..=1000 => Ok(1 + (weight as u64 - 10) * 9999 / 990),
        _ => Err(CgroupError::Invalid(format!(
            "blockIO weight {weight} is out of range (10-1000)"
        ))),
    }
}

/// The value for `memory.swap.max` from the OCI `swap`, which like cgroup v1's
/// `memory.memsw.limit_in_bytes` counts memory plus swap, while v2 counts swap alone.
///
/// Returns `None` when nothing is to be written. Rules (runc's):
/// - memory unlimited (-1) and swap unset (0): swap unlimited too;
/// - swap -1: unlimited; swap unset: leave alone;
/// - memory unlimited: swap as given;
/// - otherwise swap must be at least memory, and v2 gets `swap - memory` (0 disables swap).
pub fn swap_for_v2(swap: i64, memory: i64) -> Result<Option<String>> {
    let v = match (memory, swap) {
        (-1, 0) => -1,
        (_, 0) => return Ok(None),
        (_, -1) => -1,
        (-1, s) => s,
        (0, _) => {
            return Err(CgroupError::Invalid(
                "memory swap limit needs a memory limit (swap counts memory plus swap)".into(),
            ));
        }
        (m, _) if m < 0 => {
            return Err(CgroupError::Invalid(format!("memory limit {m} is invalid")));
        }
        (m, s) if s < m => {
            return Err(CgroupError::Invalid(format!(
                "memory swap limit {s} is below the memory limit {m} \
                 (swap counts memory plus swap, so it must be at least the memory limit)"
            )));
        }
        (m, s) => s - m,
    };
    Ok(Some(limit_string(v)))
}

/// A v2 limit value: negative means unlimited (`max`).
pub fn limit_string(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// The `cpu.max` value for a quota and period. `current` is the file's present content, used to
/// keep the quota when only the period changes. A quota of 0 or below means unlimited.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>, current: &str) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let mut cur = current.split_whitespace();
    let cur_quota = cur.next().unwrap_or("max").to_string();
    let cur_period = cur.next().unwrap_or("100000").to_string();
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(_) => "max".into(),
        None => cur_quota,
    };
    let period = period
        .filter(|p| *p > 0)
        .map(|p| p.to_string())
        .unwrap_or(cur_period);
    Some(format!("{quota} {period}"))
}

/// The order in which cgroup v1 takes a memory limit and a memory+swap limit. The kernel
/// requires `memsw >= memory` after each single write, so raising both must write swap first
/// and lowering both must write memory first (runc's rule). `current_limit` is the present
/// `memory.limit_in_bytes`.
pub fn v1_memory_writes(limit: i64, swap: i64, current_limit: u64) -> Vec<(&'static str, i64)> {
    const MEM: &str = "memory.limit_in_bytes";
    const SWAP: &str = "memory.memsw.limit_in_bytes";
    let mut out = Vec::new();
    if limit != 0 && swap != 0 && (swap == -1 || current_limit < swap as u64) {
        out.push((SWAP, swap));
        out.push((MEM, limit));
        return out;
    }
    if limit != 0 {
        out.push((MEM, limit));
    }
    if swap != 0 {
        out.push((SWAP, swap));
    }
    out
}

/// The `pids.max` value: a positive limit, or `max` for 0 and below (the OCI default is "no
/// limit").
pub fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

/// The name the hugetlb files use for a page size in bytes: `2MB`, `1GB`, `64KB` (runc's format).
pub fn hugepage_label(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut size = bytes;
    let mut unit = 0;
    while size >= 1024 && size.is_multiple_of(1024) && unit < UNITS.len() - 1 {
        size /= 1024;
        unit += 1;
    }
    format!("{size}{}", UNITS[unit])
}

/// The page sizes this kernel supports, as hugetlb file labels, from the names of the
/// directories in `/sys/kernel/mm/hugepages` (`hugepages-2048kB`).
pub fn hugepage_sizes_from(dir_names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = dir_names
        .iter()
        .filter_map(|n| {
            n.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .map(|kb: u64| hugepage_label(kb * 1024))
        .collect();
    out.sort();
    out
}

/// The host's page sizes when `r` has hugepage limits, the only thing they check; none (and no
/// directory listing) otherwise, as for most specs.
pub fn hugepage_sizes_for(r: &oci_spec::runtime::LinuxResources) -> Vec<String> {
    match r.hugepage_limits() {
        Some(h) if !h.is_empty() => hugepage_sizes(),
        _ => Vec::new(),
    }
}

/// The page sizes of this host, read from `/sys/kernel/mm/hugepages`.
pub fn hugepage_sizes() -> Vec<String> {
    let names: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    hugepage_sizes_from(&names)
}

/// Checks a spec's page size against the host's, so that a typo gives an error naming the
/// sizes that exist rather than "no such file".
pub fn check_hugepage_size(page_size: &str, available: &[String]) -> Result<()> {
    if available.iter().any(|s| s == page_size) {
        return Ok(());
    }
    Err(CgroupError::Invalid(format!(
        "hugepage size {page_size:?} is not supported by this kernel (available: {})",
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )))
}

/// One line of `rdma.max`: `mlx4_0 hca_handle=2 hca_object=2000`, `max` where unset.
pub fn rdma_line(device: &str, handles: Option<u32>, objects: Option<u32>) -> String {
    let v = |o: Option<u32>| o.map_or_else(|| "max".to_string(), |n| n.to_string());
    format!(
        "{device} hca_handle={} hca_object={}",
        v(handles),
        v(objects)
    )
}

/// Checks a v2 `unified` key: a plain file name in the cgroup directory.
pub fn check_unified_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains('/') || key == "." || key == ".." || key.contains("..") {
        return Err(CgroupError::Invalid(format!(
            "unified key {key:?} must be a file name of the cgroup directory (no \"/\", no \"..\")"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_to_weight_with_runc_and_crun_quadratic() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(2048), 174);
        assert_eq!(shares_to_weight(10000), 627);
        // Monotonic over the whole range.
        let mut last = 0;
        for s in (2..=262144).step_by(97) {
            let w = shares_to_weight(s);
            assert!(w >= last && (1..=10000).contains(&w), "{s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn blkio_weight_maps_linearly_to_io_weight() {
        assert_eq!(blkio_weight_to_io_weight(10).unwrap(), 1);
        assert_eq!(blkio_weight_to_io_weight(500).unwrap(), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000).unwrap(), 10000);
        assert_eq!(blkio_weight_to_io_weight(0).unwrap(), 0);
        assert!(blkio_weight_to_io_weight(5).is_err());
        assert!(blkio_weight_to_io_weight(1001).is_err());
    }

    #[test]
    fn swap_is_memory_plus_swap_minus_memory_on_v2() {
        let mib = 1 << 20;
        assert_eq!(
            swap_for_v2(96 * mib, 64 * mib).unwrap(),
            Some((32 * mib).to_string())
        );
        assert_eq!(swap_for_v2(64 * mib, 64 * mib).unwrap(), Some("0".into()));
        assert_eq!(swap_for_v2(-1, 64 * mib).unwrap(), Some("max".into()));
        assert_eq!(swap_for_v2(0, -1).unwrap(), Some("max".into()));
        assert_eq!(swap_for_v2(0, 64 * mib).unwrap(), None);
        assert_eq!(
            swap_for_v2(5 * mib, -1).unwrap(),
            Some((5 * mib).to_string())
        );
        assert!(swap_for_v2(32 * mib, 64 * mib).is_err());
        assert!(swap_for_v2(32 * mib, 0).is_err());
        assert!(swap_for_v2(32 * mib, -5).is_err());
    }

    #[test]
    fn cpu_max_keeps_the_other_half_of_the_file() {
        assert_eq!(
            cpu_max(Some(50000), None, "max 100000").unwrap(),
            "50000 100000"
        );
        assert_eq!(
            cpu_max(None, Some(20000), "50000 100000").unwrap(),
            "50000 20000"
        );
        assert_eq!(
            cpu_max(Some(-1), Some(100000), "50000 50000").unwrap(),
            "max 100000"
        );
        assert_eq!(cpu_max(Some(0), None, "5 10").unwrap(), "max 10");
        assert_eq!(cpu_max(None, None, "max 100000"), None);
    }

    #[test]
    fn v1_memory_and_swap_are_written_in_an_order_the_kernel_accepts() {
        let mib = 1u64 << 20;
        // Raising both above the current limit: swap first.
        assert_eq!(
            v1_memory_writes(256 << 20, 512 << 20, 128 * mib),
            vec![
                ("memory.memsw.limit_in_bytes", 512 << 20),
                ("memory.limit_in_bytes", 256 << 20)
            ]
        );
        // Lowering both below the current limit: memory first.
        assert_eq!(
            v1_memory_writes(32 << 20, 64 << 20, 128 * mib),
            vec![
                ("memory.limit_in_bytes", 32 << 20),
                ("memory.memsw.limit_in_bytes", 64 << 20)
            ]
        );
        assert_eq!(
            v1_memory_writes(-1, -1, u64::MAX),
            vec![
                ("memory.memsw.limit_in_bytes", -1),
                ("memory.limit_in_bytes", -1)
            ]
        );
        assert_eq!(
            v1_memory_writes(64, 0, 0),
            vec![("memory.limit_in_bytes", 64)]
        );
    }

    #[test]
    fn pids_zero_or_negative_means_no_limit() {
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(pids_max(7), "7");
    }

    #[test]
    fn hugepage_labels_match_the_kernel_file_names() {
        assert_eq!(hugepage_label(2 << 20), "2MB");
        assert_eq!(hugepage_label(1 << 30), "1GB");
        assert_eq!(hugepage_label(64 << 10), "64KB");
        let names = vec![
            "hugepages-1048576kB".to_string(),
            "hugepages-2048kB".to_string(),
            "junk".to_string(),
        ];
        assert_eq!(hugepage_sizes_from(&names), vec!["1GB", "2MB"]);
        assert!(check_hugepage_size("2MB", &hugepage_sizes_from(&names)).is_ok());
        let err = check_hugepage_size("3MB", &hugepage_sizes_from(&names)).unwrap_err();
        assert!(err.to_string().contains("available: 1GB, 2MB"), "{err}");
    }

    #[test]
    fn rdma_unset_limits_are_max() {
        assert_eq!(
            rdma_line("mlx4_0", Some(2), None),
            "mlx4_0 hca_handle=2 hca_object=max"
        );
    }

    #[test]
    fn unified_keys_must_be_plain_file_names() {
        assert!(check_unified_key("memory.high").is_ok());
        for bad in ["", "..", "../memory.max", "a/b", "/etc/passwd", "x..y"] {
            assert!(check_unified_key(bad).is_err(), "{bad}");
        }
    }
}
