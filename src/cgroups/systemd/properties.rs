//! `linux.resources` as systemd unit properties, for the settings systemd owns. The same
//! settings are then also written to the cgroup files by rind's cgroupfs code, as runc does:
//! the properties keep systemd from resetting them (on `daemon-reload`, or when it realizes
//! the unit again), the files cover what has no property.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::super::devices::{DeviceKind, DeviceTable, access_string};
use super::super::{CgroupError, Result, convert};
use super::wire::Value;

/// systemd's "infinity" for a `t` limit.
const INFINITY: u64 = u64::MAX;

/// One unit property: its name and its value (sent as a variant).
pub type Property = (String, Value);

fn prop(name: &str, v: Value) -> Property {
    (name.to_string(), v)
}

/// A negative OCI limit (-1) means unlimited.
fn limit(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(INFINITY)
}

/// The properties for `r`, on cgroup v2 (`v2`) or v1, with systemd's names for each.
pub fn resource_properties(r: &LinuxResources, v2: bool) -> Result<Vec<Property>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        let mem = m.limit().unwrap_or(0);
        if mem != 0 {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            out.push(prop(name, Value::U64(limit(mem))));
        }
        if v2 {
            if let Some(res) = m.reservation().filter(|&v| v != 0) {
                out.push(prop("MemoryLow", Value::U64(limit(res))));
            }
            if let Some(text) = convert::swap_for_v2(m.swap().unwrap_or(0), mem)? {
                out.push(prop("MemorySwapMax", Value::U64(parse_max(&text)?)));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|&s| s != 0) {
            if v2 {
                let w = convert::shares_to_weight(shares);
                out.push(prop("CPUWeight", Value::U64(w)));
            } else {
                out.push(prop("CPUShares", Value::U64(shares)));
            }
        }
        out.extend(cpu_quota(c.quota(), c.period()));
        if v2 {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop("AllowedCPUs", bitmask(cpus)?));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop("AllowedMemoryNodes", bitmask(mems)?));
            }
        }
    }
    if let Some(p) = r.pids() {
        let l = p.limit();
        if l > 0 || l == -1 {
            out.push(prop("TasksMax", Value::U64(limit(l))));
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        if v2 {
            let w = convert::blkio_weight_to_io_weight(w)?;
            if w != 0 {
                out.push(prop("IOWeight", Value::U64(w)));
            }
        } else if w != 0 {
            out.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    if v2 && let Some(unified) = r.unified() {
        for (key, value) in unified {
            let name = match key.as_str() {
                "memory.high" => "MemoryHigh",
                "memory.low" => "MemoryLow",
                "memory.min" => "MemoryMin",
                "memory.max" => "MemoryMax",
                "memory.swap.max" => "MemorySwapMax",
                "pids.max" => "TasksMax",
                _ => continue,
            };
            out.retain(|(n, _)| n != name);
            out.push(prop(name, Value::U64(parse_max(value.trim())?)));
        }
    }
    if let Some(rules) = r.devices() {
        out.extend(device_properties(rules)?);
    }
    Ok(out)
}

/// "max" or a number.
fn parse_max(text: &str) -> Result<u64> {
    if text == "max" {
        return Ok(INFINITY);
    }
    text.parse()
        .map_err(|_| CgroupError::Invalid(format!("value {text:?}: want a number or \"max\"")))
}

/// runc's conversion: `CPUQuotaPerSecUSec` is the quota per second of wall time, rounded up
/// to systemd's 10 ms granularity (systemd would round it down and lose the limit), and
/// `CPUQuotaPeriodUSec` carries the period.
fn cpu_quota(quota: Option<i64>, period: Option<u64>) -> Vec<Property> {
    let quota = quota.unwrap_or(0);
    let period = period.unwrap_or(0);
    let mut out = Vec::new();
    if period != 0 {
        out.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota != 0 || period != 0 {
        let mut per_sec = INFINITY;
        if quota > 0 {
            let period = if period == 0 { 100_000 } else { period };
            per_sec = (quota as u64).saturating_mul(1_000_000) / period;
            if !per_sec.is_multiple_of(10_000) {
                per_sec = (per_sec / 10_000 + 1) * 10_000;
            }
        }
        out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    }
    out
}

/// A cpuset list ("0-3,7") as systemd's bitmask: byte 0 holds CPUs 0-7, bit 0 is CPU 0.
pub fn bitmask(list: &str) -> Result<Value> {
    let bad = || CgroupError::Invalid(format!("cpuset list {list:?}"));
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.trim().split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part.trim(), part.trim()),
        };
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        if lo > hi || hi >= 1 << 16 {
            return Err(bad());
        }
        for n in lo..=hi {
            if bytes.len() <= n / 8 {
                bytes.resize(n / 8 + 1, 0);
            }
            bytes[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(Value::Array(
        "y".into(),
        bytes.into_iter().map(Value::Byte).collect(),
    ))
}

/// `DevicePolicy` and `DeviceAllow` for the device rules, as runc makes them: always strict
/// (deny what is not listed), an empty `DeviceAllow` first to clear a previous list, then one
/// entry per allowed device. systemd names a device by path: `/dev/char/M:m` for one device,
/// the driver's group from `/proc/devices` (`char-pts`) for a whole major, `char-*` for all.
/// A rule systemd cannot express is left to the cgroup files (rind writes them too), and a
/// table that allows by default (a deny list) has no systemd form at all: then the policy is
/// `auto`, which restricts nothing, and the files carry the rules.
fn device_properties(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Property>> {
    let table = DeviceTable::from_oci(rules)?;
    let empty = || Value::Array("(ss)".into(), vec![]);
    if table.default_allow {
        return Ok(vec![
            prop("DevicePolicy", Value::str("auto")),
            prop("DeviceAllow", empty()),
        ]);
    }
    let groups = std::fs::read_to_string("/proc/devices").unwrap_or_default();
    let mut allow = Vec::new();
    for (key, &access) in &table.exceptions {
        let kind = match key.kind {
            DeviceKind::Char => "char",
            DeviceKind::Block => "block",
        };
        let path = match (key.major, key.minor) {
            (Some(major), Some(minor)) => format!("/dev/{kind}/{major}:{minor}"),
            (None, None) => format!("{kind}-*"),
            (Some(major), None) => match device_group(&groups, key.kind, major) {
                Some(group) => format!("{kind}-{group}"),
                None => continue,
            },
            (None, Some(_)) => continue,
        };
        allow.push(Value::Struct(vec![
            Value::Str(path),
            Value::Str(access_string(access)),
        ]));
    }
    Ok(vec![
        prop("DevicePolicy", Value::str("strict")),
        prop("DeviceAllow", empty()),
        prop("DeviceAllow", Value::Array("(ss)".into(), allow)),
    ])
}

/// The driver name of a major number in `/proc/devices`' section for the kind.
fn device_group(proc_devices: &str, kind: DeviceKind, major: u32) -> Option<String> {
    let header = match kind {
        DeviceKind::Char => "Character devices:",
        DeviceKind::Block => "Block devices:",
    };
    let mut in_section = false;
    for line in proc_devices.lines() {
        let line = line.trim();
        if line.ends_with("devices:") {
            in_section = line == header;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((num, name)) = line.split_once(' ')
            && num.parse() == Ok(major)
        {
            return Some(name.trim().to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn get<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
        props.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn memory_cpu_pids_convert_as_runc_does() {
        let r = resources(
            r#"{"memory":{"limit":104857600,"swap":209715200},
                "cpu":{"shares":1024,"quota":50000,"period":100000},
                "pids":{"limit":32}}"#,
        );
        let p = resource_properties(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(104857600)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(104857600)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(100)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(32)));
        let v1 = resource_properties(&r, false).unwrap();
        assert_eq!(get(&v1, "MemoryLimit"), Some(&Value::U64(104857600)));
        assert_eq!(get(&v1, "CPUShares"), Some(&Value::U64(1024)));
        assert_eq!(get(&v1, "CPUWeight"), None);
    }

    #[test]
    fn quota_rounds_up_to_ten_milliseconds_and_unlimited_is_infinity() {
        let q = cpu_quota(Some(12345), Some(100_000));
        assert_eq!(q[1].1, Value::U64(130_000));
        let q = cpu_quota(Some(-1), Some(50_000));
        assert_eq!(q[1].1, Value::U64(u64::MAX));
        assert!(cpu_quota(None, None).is_empty());
        let r = resources(r#"{"memory":{"limit":-1},"pids":{"limit":-1}}"#);
        let p = resource_properties(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
    }

    #[test]
    fn cpuset_lists_become_little_endian_bitmasks() {
        let bits = |s| match bitmask(s).unwrap() {
            Value::Array(_, b) => b,
            _ => unreachable!(),
        };
        assert_eq!(bits("0"), vec![Value::Byte(1)]);
        assert_eq!(bits("0-1,9"), vec![Value::Byte(3), Value::Byte(2)]);
        assert!(bitmask("3-1").is_err());
        assert!(bitmask("x").is_err());
    }

    #[test]
    fn unified_memory_high_is_a_property() {
        let r = resources(r#"{"unified":{"memory.high":"50000000","pids.max":"max"}}"#);
        let p = resource_properties(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryHigh"), Some(&Value::U64(50_000_000)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
    }

    #[test]
    fn device_allow_list_from_deny_all_rules() {
        let r = resources(
            r#"{"devices":[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rw"}]}"#,
        );
        let p = resource_properties(&r, true).unwrap();
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::str("strict")));
        let Some(Value::Array(_, allow)) = get(&p, "DeviceAllow") else {
            panic!("no DeviceAllow")
        };
        assert!(allow.contains(&Value::Struct(vec![
            Value::str("/dev/char/1:3"),
            Value::str("rwm")
        ])));
    }

    #[test]
    fn device_group_reads_the_right_section() {
        let text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(
            device_group(text, DeviceKind::Char, 136).as_deref(),
            Some("pts")
        );
        assert_eq!(device_group(text, DeviceKind::Block, 1), None);
        assert_eq!(
            device_group(text, DeviceKind::Block, 8).as_deref(),
            Some("sd")
        );
    }
}
