//! `linux.resources` to cgroup v1 files, one hierarchy per controller.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::cgroups::convert::{self, v1_memory_writes};
use crate::cgroups::devices::DeviceTable;
use crate::cgroups::plan::{Plan, Probe, Write};
use crate::cgroups::{CgroupError, Result};

/// The pseudo-controller name of writes that go to the cgroup2 directory of a hybrid host.
pub const UNIFIED: &str = "unified";

/// Computes the writes for `r`. `hugetlb_on_v2` says that the host's hugetlb controller lives
/// in the cgroup2 hierarchy of a hybrid layout, so its limits use the v2 file names there.
pub fn plan(
    r: &LinuxResources,
    probe: &dyn Probe,
    page_sizes: &[String],
    hugetlb_on_v2: bool,
) -> Result<Plan> {
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        // "invalid configuration": runc's words for it, which its tests match.
        return Err(CgroupError::Unsupported(
            "invalid configuration: linux.resources.unified (it sets cgroup v2 files; this \
             host uses cgroup v1 controllers)"
                .into(),
        ));
    }
    let mut p = Plan::default();
    if let Some(rules) = r.devices() {
        p.devices = Some(DeviceTable::from_oci(rules)?);
    }
    if let Some(m) = r.memory() {
        memory(&mut p, m, probe)?;
    }
    if let Some(c) = r.cpu() {
        cpu(&mut p, c)?;
    }
    p.pids(r);
    if let Some(b) = r.block_io() {
        blkio(&mut p, b, probe)?;
    }
    for h in r.hugepage_limits().iter().flatten() {
        convert::check_hugepage_size(h.page_size(), page_sizes)?;
        let size = h.page_size();
        if hugetlb_on_v2 {
            p.hugetlb_v2(UNIFIED, size, h.limit());
            continue;
        }
        let what = format!("hugepage limit for {size} pages");
        let v = h.limit().max(-1).to_string();
        let limit = format!("hugetlb.{size}.limit_in_bytes");
        p.writes
            .push(Write::new("hugetlb", limit, v.clone(), &what));
        let rsvd = format!("hugetlb.{size}.rsvd.limit_in_bytes");
        p.writes
            .push(Write::new("hugetlb", rsvd, v, what).if_exists());
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            p.writes.push(Write::new(
                "net_cls",
                "net_cls.classid",
                id.to_string(),
                "network classID",
            ));
        }
        for prio in n.priorities().iter().flatten() {
            let line = format!("{} {}", prio.name(), prio.priority());
            p.writes.push(Write::new(
                "net_prio",
                "net_prio.ifpriomap",
                line,
                "network priority",
            ));
        }
    }
    p.rdma(r);
    Ok(p)
}

fn memory(p: &mut Plan, m: &LinuxMemory, probe: &dyn Probe) -> Result<()> {
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let has_swap_accounting = probe.exists("memory", MEMSW);
    // "Unlimited memory" with swap unset means memory+swap unlimited too (runc).
    if limit == -1 && swap == 0 && has_swap_accounting {
        swap = -1;
    }
    if swap != 0 && !has_swap_accounting {
        if swap == -1 {
            swap = 0;
        } else {
            return Err(CgroupError::Unsupported(format!(
                "memory swap limit (the kernel has no {MEMSW}: swap accounting is off; boot \
                 with swapaccount=1)"
            )));
        }
    }
    if swap > 0 && limit > 0 && swap < limit {
        return Err(CgroupError::Invalid(format!(
            "memory swap limit {swap} is below the memory limit {limit} \
             (swap counts memory plus swap, so it must be at least the memory limit)"
        )));
    }
    let current = probe
        .read("memory", "memory.limit_in_bytes")
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    for (file, v) in v1_memory_writes(limit, swap, current) {
        let what = if file == MEMSW {
            "memory+swap limit"
        } else {
            "memory limit"
        };
        p.writes
            .push(Write::new("memory", file, v.to_string(), what));
    }
    if let Some(v) = m.reservation().filter(|v| *v != 0) {
        let w = Write::new(
            "memory",
            "memory.soft_limit_in_bytes",
            v.to_string(),
            "memory reservation",
        );
        p.writes.push(w);
    }
    if let Some(off) = m.disable_oom_killer() {
        let v = if off { "1" } else { "0" };
        p.writes.push(Write::new(
            "memory",
            "memory.oom_control",
            v,
            "memory disableOOMKiller",
        ));
    }
    if let Some(v) = m.swappiness() {
        if v > 100 {
            return Err(CgroupError::Invalid(format!(
                "memory swappiness {v} is out of range (0-100)"
            )));
        }
        p.writes.push(Write::new(
            "memory",
            "memory.swappiness",
            v.to_string(),
            "memory swappiness",
        ));
    }
    if let Some(on) = m.use_hierarchy() {
        let (v, what) = if on {
            ("1", "memory useHierarchy")
        } else {
            (
                "0",
                "memory useHierarchy=false (recent kernels always account hierarchically)",
            )
        };
        p.writes
            .push(Write::new("memory", "memory.use_hierarchy", v, what));
    }
    Ok(())
}

fn cpu(p: &mut Plan, c: &LinuxCpu) -> Result<()> {
    let shares = c.shares().filter(|s| *s != 0);
    if let Some(s) = shares {
        // The kernel clamps out-of-range shares silently; say so instead (runc checks too).
        if !(2..=262144).contains(&s) {
            return Err(CgroupError::Invalid(format!(
                "cpu shares {s} is out of range (2-262144)"
            )));
        }
    }
    p.cpu_idle(c, shares)?;
    if let Some(s) = shares {
        p.writes
            .push(Write::new("cpu", "cpu.shares", s.to_string(), "cpu shares"));
    }
    // Realtime bandwidth first: a task with a realtime policy cannot join a cgroup whose
    // runtime is 0, and the period bounds the runtime.
    if let Some(v) = c.realtime_period().filter(|v| *v != 0) {
        p.writes.push(Write::new(
            "cpu",
            "cpu.rt_period_us",
            v.to_string(),
            "cpu realtimePeriod",
        ));
    }
    if let Some(v) = c.realtime_runtime().filter(|v| *v != 0) {
        let w = Write::new(
            "cpu",
            "cpu.rt_runtime_us",
            v.to_string(),
            "cpu realtimeRuntime",
        );
        p.writes.push(w);
    }
    let quota = c.quota().filter(|q| *q != 0);
    if let Some(v) = c.period().filter(|v| *v != 0) {
        let w = Write::new("cpu", "cpu.cfs_period_us", v.to_string(), "cpu period");
        p.writes
            .push(if quota.is_some() { w.retry_last() } else { w });
    }
    if let Some(v) = c.burst() {
        let w = Write::new("cpu", "cpu.cfs_burst_us", v.to_string(), "cpu burst");
        p.writes
            .push(if quota.is_some() { w.retry_last() } else { w });
    }
    if let Some(q) = quota {
        let v = if q < 0 { -1 } else { q };
        p.writes.push(Write::new(
            "cpu",
            "cpu.cfs_quota_us",
            v.to_string(),
            "cpu quota",
        ));
    }
    p.cpuset(c);
    Ok(())
}

fn check_weight(w: u16, what: &str) -> Result<()> {
    if (10..=1000).contains(&w) {
        Ok(())
    } else {
        Err(CgroupError::Invalid(format!(
            "{what} {w} is out of range (10-1000)"
        )))
    }
}

fn blkio(p: &mut Plan, b: &LinuxBlockIo, probe: &dyn Probe) -> Result<()> {
    // CFQ's files, or BFQ's where only BFQ is available (runc's choice).
    let (weight, weight_device) =
        if !probe.exists("blkio", "blkio.weight") && probe.exists("blkio", "blkio.bfq.weight") {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        } else {
            ("blkio.weight", "blkio.weight_device")
        };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        check_weight(w, "blockIO weight")?;
        p.writes
            .push(Write::new("blkio", weight, w.to_string(), "blockIO weight"));
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        check_weight(w, "blockIO leafWeight")?;
        p.writes.push(Write::new(
            "blkio",
            "blkio.leaf_weight",
            w.to_string(),
            "blockIO leafWeight",
        ));
    }
    for d in b.weight_device().iter().flatten() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            check_weight(w, "blockIO device weight")?;
            p.writes.push(Write::new(
                "blkio",
                weight_device,
                format!("{dev} {w}"),
                "blockIO device weight",
            ));
        }
        if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
            check_weight(w, "blockIO device leafWeight")?;
            let line = format!("{dev} {w}");
            p.writes.push(Write::new(
                "blkio",
                "blkio.leaf_weight_device",
                line,
                "blockIO device leafWeight",
            ));
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "blockIO read bps limit",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "blockIO write bps limit",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "blockIO read iops limit",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "blockIO write iops limit",
        ),
    ];
    for (list, file, what) in throttles {
        for d in list.iter().flatten() {
            let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            p.writes.push(Write::new("blkio", file, line, what));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::plan::testing::{Files, pairs};

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn p(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    fn planned(json: &str, files: &Files) -> Result<Vec<(String, String)>> {
        plan(&res(json), files, &["2MB".to_string()], false).map(|p| pairs(&p))
    }

    fn memsw() -> Files {
        Files::with(&[
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.limit_in_bytes", "33554432"),
        ])
    }

    #[test]
    fn memory_limits_are_ordered_for_the_kernel() {
        let got = planned(
            r#"{"memory":{"limit":67108864,"swap":134217728}}"#,
            &memsw(),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                p("memory.memsw.limit_in_bytes", "134217728"),
                p("memory.limit_in_bytes", "67108864")
            ]
        );
        let got = planned(r#"{"memory":{"limit":-1}}"#, &memsw()).unwrap();
        assert_eq!(
            got,
            vec![
                p("memory.memsw.limit_in_bytes", "-1"),
                p("memory.limit_in_bytes", "-1")
            ]
        );
    }

    #[test]
    fn memory_v1_knobs_are_written_and_checked() {
        let got = planned(
            r#"{"memory":{"reservation":1024,"disableOOMKiller":true,"swappiness":10,"useHierarchy":true,"kernel":1,"kernelTCP":1}}"#,
            &memsw(),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                p("memory.soft_limit_in_bytes", "1024"),
                p("memory.oom_control", "1"),
                p("memory.swappiness", "10"),
                p("memory.use_hierarchy", "1")
            ]
        );
        assert!(planned(r#"{"memory":{"swappiness":101}}"#, &memsw()).is_err());
        assert!(planned(r#"{"memory":{"limit":64,"swap":32}}"#, &memsw()).is_err());
        let err = planned(r#"{"memory":{"limit":64,"swap":128}}"#, &Files::default()).unwrap_err();
        assert!(err.to_string().contains("swapaccount"), "{err}");
    }

    #[test]
    fn cpu_writes_period_before_quota_and_may_retry() {
        let plan = plan(
            &res(r#"{"cpu":{"shares":512,"period":50000,"quota":25000,"burst":0,"realtimePeriod":1000000,"realtimeRuntime":5000,"cpus":"0","idle":0}}"#),
            &Files::default(),
            &[],
            false,
        )
        .unwrap();
        assert_eq!(
            pairs(&plan),
            vec![
                p("cpu.idle", "0"),
                p("cpu.shares", "512"),
                p("cpu.rt_period_us", "1000000"),
                p("cpu.rt_runtime_us", "5000"),
                p("cpu.cfs_period_us", "50000"),
                p("cpu.cfs_burst_us", "0"),
                p("cpu.cfs_quota_us", "25000"),
                p("cpuset.cpus", "0")
            ]
        );
        assert!(plan.writes[4].retry_last && plan.writes[5].retry_last);
        assert!(planned(r#"{"cpu":{"shares":1}}"#, &Files::default()).is_err());
    }

    #[test]
    fn blkio_falls_back_to_bfq_files_and_checks_ranges() {
        let bfq = Files::with(&[("blkio.bfq.weight", "100")]);
        let got = planned(
            r#"{"blockIO":{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":200,"leafWeight":50}],
                "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":4096}]}}"#,
            &bfq,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                p("blkio.bfq.weight", "300"),
                p("blkio.bfq.weight_device", "8:0 200"),
                p("blkio.leaf_weight_device", "8:0 50"),
                p("blkio.throttle.write_bps_device", "8:0 4096")
            ]
        );
        assert!(planned(r#"{"blockIO":{"weight":5}}"#, &bfq).is_err());
    }

    #[test]
    fn hugetlb_network_rdma_and_unified() {
        let got = planned(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":2097152}],"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]},"rdma":{"mlx4_0":{"hcaHandles":1,"hcaObjects":2}}}"#,
            &Files::default(),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                p("hugetlb.2MB.limit_in_bytes", "2097152"),
                p("hugetlb.2MB.rsvd.limit_in_bytes", "2097152"),
                p("net_cls.classid", "1048577"),
                p("net_prio.ifpriomap", "eth0 5"),
                p("rdma.max", "mlx4_0 hca_handle=1 hca_object=2")
            ]
        );
        let hybrid = plan(
            &res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#),
            &Files::default(),
            &["2MB".to_string()],
            true,
        )
        .unwrap();
        assert_eq!(hybrid.writes[0].controller, UNIFIED);
        assert_eq!(pairs(&hybrid)[0], p("hugetlb.2MB.max", "max"));
        let err = planned(r#"{"unified":{"memory.high":"1"}}"#, &Files::default()).unwrap_err();
        assert!(err.to_string().contains("cgroup v2"), "{err}");
        assert!(
            err.to_string().starts_with("invalid configuration"),
            "{err}"
        );
    }
}
