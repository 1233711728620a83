//! Resource usage of a cgroup, in the JSON shape of `runc events --stats` (runc's
//! `types/events.go`): the `data` object of a `{"type":"stats","id":...,"data":...}` event.
//!
//! Field names and omission rules follow runc: a Go field tagged `omitempty` is left out when
//! zero or empty, the others are always written. Units: bytes, nanoseconds (cpu), counts.

pub mod parse;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Everything `events --stats` reports for one container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Keyed by page size label (`2MB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT is not a cgroup controller; rind reports it empty, as runc does without RDT.
    pub intel_rdt: IntelRdt,
    /// Filled by the caller from the container's network namespace, if at all.
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    #[serde(default)]
    pub usage: CpuUsage,
    #[serde(default)]
    pub throttling: Throttling,
}

/// CPU time in nanoseconds since the cgroup was created.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    #[serde(default)]
    pub kernel: u64,
    #[serde(default)]
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    #[serde(default)]
    pub cpu_exclusive: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    #[serde(default)]
    pub mem_hardwall: u64,
    #[serde(default)]
    pub mem_exclusive: u64,
    #[serde(default)]
    pub memory_migrate: u64,
    #[serde(default)]
    pub memory_spread_page: u64,
    #[serde(default)]
    pub memory_spread_slab: u64,
    #[serde(default)]
    pub memory_pressure: u64,
    #[serde(default)]
    pub sched_load_balance: u64,
    #[serde(default)]
    pub sched_relax_domain_level: i64,
}

/// One memory counter. `limit` is `u64::MAX` when unlimited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    #[serde(default)]
    pub limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How many times usage hit the limit.
    #[serde(default)]
    pub failcnt: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    #[serde(default)]
    pub usage: MemoryEntry,
    /// Memory plus swap, as cgroup v1 counts it (v2 values are converted).
    #[serde(default)]
    pub swap: MemoryEntry,
    #[serde(default)]
    pub kernel: MemoryEntry,
    #[serde(default, rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat` as it is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pids {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        rename = "ioQueueRecursive"
    )]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hugetlb {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (cgroup v1 only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocations that failed because of the limit.
    #[serde(default)]
    pub failcnt: u64,
}

/// Always empty: rind does not manage Intel RDT.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntelRdt {}

/// Counters of one interface, with runc's (untagged, capitalised) field names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stats_serialize_like_runc() {
        let json = serde_json::to_string(&Stats::default()).unwrap();
        assert_eq!(
            json,
            r#"{"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},"#.to_owned()
                + r#""cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"#
                + r#""memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"#
                + r#""memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"#
                + r#""memory":{"usage":{"limit":0,"failcnt":0},"swap":{"limit":0,"failcnt":0},"#
                + r#""kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},"#
                + r#""pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}"#
        );
    }

    #[test]
    fn filled_fields_use_runc_names() {
        let mut s = Stats::default();
        s.cpu.throttling.throttled_periods = 3;
        s.cpu.usage.percpu = vec![1, 2];
        s.blkio.io_queued_recursive.push(BlkioEntry {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 5,
        });
        s.hugetlb.insert(
            "2MB".into(),
            Hugetlb {
                usage: 4,
                max: 0,
                failcnt: 1,
            },
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 3);
        assert_eq!(v["cpu"]["usage"]["percpu"][1], 2);
        assert_eq!(v["blkio"]["ioQueueRecursive"][0]["op"], "Read");
        assert_eq!(v["hugetlb"]["2MB"]["failcnt"], 1);
        let back: Stats = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
