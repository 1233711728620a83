//! `linux.resources` to cgroup v2 files. Every OCI field either maps to a file (with runc's
//! conversion where the v1 unit differs) or is refused with the reason.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::cgroups::convert::{
    self, blkio_weight_to_io_weight, check_unified_key, cpu_max, limit_string, shares_to_weight,
    swap_for_v2,
};
use crate::cgroups::devices::DeviceTable;
use crate::cgroups::plan::{Plan, Probe, Write};
use crate::cgroups::{CgroupError, Result};

fn unsupported(what: &str, why: &str) -> CgroupError {
    CgroupError::Unsupported(format!("{what} ({why})"))
}

/// Computes the writes for `r`. `probe` reads the cgroup's current files; `page_sizes` are the
/// host's huge page sizes.
pub fn plan(r: &LinuxResources, probe: &dyn Probe, page_sizes: &[String]) -> Result<Plan> {
    let mut p = Plan::default();
    p.pids(r);
    if let Some(m) = r.memory() {
        memory(&mut p, m, probe)?;
    }
    if let Some(b) = r.block_io() {
        io(&mut p, b, probe)?;
    }
    if let Some(c) = r.cpu() {
        cpu(&mut p, c, probe)?;
    }
    for h in r.hugepage_limits().iter().flatten() {
        convert::check_hugepage_size(h.page_size(), page_sizes)?;
        p.hugetlb_v2("hugetlb", h.page_size(), h.limit());
    }
    p.rdma(r);
    if let Some(n) = r.network()
        && (n.class_id().is_some() || n.priorities().as_ref().is_some_and(|v| !v.is_empty()))
    {
        return Err(unsupported(
            "network classID and priorities",
            "net_cls and net_prio are cgroup v1 controllers with no cgroup v2 equivalent",
        ));
    }
    if let Some(rules) = r.devices() {
        let table = DeviceTable::from_oci(rules)?;
        crate::cgroups::bpf::program::device_program(&table)?;
        p.devices = Some(table);
    }
    // Last, so that an explicit file overrides the value converted from a v1 field (runc).
    if let Some(u) = r.unified() {
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            check_unified_key(k)?;
            let controller = k.split('.').next().unwrap_or("").to_string();
            let mut w = Write::new("", k.as_str(), v.as_str(), format!("unified {k}"));
            w.controller = controller;
            p.writes.push(w.must_exist());
        }
    }
    Ok(p)
}

fn memory(p: &mut Plan, m: &LinuxMemory, probe: &dyn Probe) -> Result<()> {
    if m.swappiness().is_some() {
        return Err(unsupported(
            "memory swappiness",
            "cgroup v2 has no per-cgroup swappiness; use memory.swap.max",
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(unsupported(
            "memory disableOOMKiller",
            "cgroup v2 cannot turn the OOM killer off for a cgroup",
        ));
    }
    if m.use_hierarchy() == Some(false) {
        return Err(unsupported(
            "memory useHierarchy=false",
            "cgroup v2 always accounts memory hierarchically",
        ));
    }
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if let Some(v) = swap_for_v2(swap, limit)? {
        // Without swap accounting the file is absent; turning swap off or leaving it unlimited
        // then already holds, so only a real swap limit is an error (runc's rule).
        let w = Write::new("memory", "memory.swap.max", v.clone(), "memory swap limit");
        p.writes.push(if v == "max" || v == "0" {
            w.if_exists()
        } else {
            w
        });
    }
    if limit != 0 {
        if m.check_before_update() == Some(true) && limit > 0 {
            let usage = probe
                .read("memory", "memory.current")
                .and_then(|s| s.parse::<i64>().ok());
            if let Some(usage) = usage.filter(|u| *u > limit) {
                return Err(CgroupError::Invalid(format!(
                    "memory limit {limit} is below the current usage {usage} \
                     (checkBeforeUpdate is set)"
                )));
            }
        }
        p.writes.push(Write::new(
            "memory",
            "memory.max",
            limit_string(limit),
            "memory limit",
        ));
    }
    if let Some(v) = m.reservation().filter(|v| *v != 0) {
        p.writes.push(Write::new(
            "memory",
            "memory.low",
            limit_string(v),
            "memory reservation",
        ));
    }
    Ok(())
}

fn cpu(p: &mut Plan, c: &LinuxCpu, probe: &dyn Probe) -> Result<()> {
    if c.realtime_period().is_some() || c.realtime_runtime().is_some() {
        return Err(unsupported(
            "cpu realtimePeriod/realtimeRuntime",
            "the cgroup v2 cpu controller has no realtime bandwidth",
        ));
    }
    let shares = c.shares().filter(|s| *s != 0);
    p.cpu_idle(c, shares)?;
    if let Some(s) = shares {
        let w = shares_to_weight(s).to_string();
        p.writes.push(Write::new(
            "cpu",
            "cpu.weight",
            w,
            "cpu weight (from shares)",
        ));
    }
    let current = probe.read("cpu", "cpu.max").unwrap_or_default();
    if let Some(v) = cpu_max(c.quota(), c.period(), &current) {
        p.writes
            .push(Write::new("cpu", "cpu.max", v, "cpu quota and period"));
    }
    if let Some(b) = c.burst() {
        p.writes.push(Write::new(
            "cpu",
            "cpu.max.burst",
            b.to_string(),
            "cpu burst",
        ));
    }
    p.cpuset(c);
    Ok(())
}

fn io(p: &mut Plan, b: &LinuxBlockIo, probe: &dyn Probe) -> Result<()> {
    let leaf = b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some());
    if leaf {
        return Err(unsupported(
            "blockIO leafWeight",
            "it belonged to the CFQ scheduler; cgroup v2 has no leaf weight",
        ));
    }
    // With the BFQ scheduler its own weight file takes v1 weights as they are (runc).
    let bfq = probe.exists("io", "io.bfq.weight");
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            p.writes.push(Write::new(
                "io",
                "io.bfq.weight",
                w.to_string(),
                "blockIO weight",
            ));
        } else {
            let v = blkio_weight_to_io_weight(w)?.to_string();
            p.writes
                .push(Write::new("io", "io.weight", v, "blockIO weight"));
        }
    }
    for d in b.weight_device().iter().flatten() {
        let Some(w) = d.weight().filter(|w| *w != 0) else {
            continue;
        };
        let (file, v) = if bfq {
            ("io.bfq.weight", w as u64)
        } else {
            ("io.weight", blkio_weight_to_io_weight(w)?)
        };
        let line = format!("{}:{} {v}", d.major(), d.minor());
        p.writes
            .push(Write::new("io", file, line, "blockIO device weight"));
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "rbps",
            "blockIO read bps limit",
        ),
        (
            b.throttle_write_bps_device(),
            "wbps",
            "blockIO write bps limit",
        ),
        (
            b.throttle_read_iops_device(),
            "riops",
            "blockIO read iops limit",
        ),
        (
            b.throttle_write_iops_device(),
            "wiops",
            "blockIO write iops limit",
        ),
    ];
    for (list, key, what) in throttles {
        for d in list.iter().flatten() {
            // 0 removes the limit, as it does in v1's blkio.throttle files.
            let rate = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            let line = format!("{}:{} {key}={rate}", d.major(), d.minor());
            p.writes.push(Write::new("io", "io.max", line, what));
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

    fn sizes() -> Vec<String> {
        vec!["1GB".into(), "2MB".into()]
    }

    fn planned(json: &str, files: &Files) -> Vec<(String, String)> {
        pairs(&plan(&res(json), files, &sizes()).unwrap())
    }

    fn p(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn memory_and_swap_convert_to_v2_files() {
        let got = planned(
            r#"{"memory":{"limit":67108864,"swap":100663296,"reservation":33554432}}"#,
            &Files::default(),
        );
        assert_eq!(
            got,
            vec![
                p("memory.swap.max", "33554432"),
                p("memory.max", "67108864"),
                p("memory.low", "33554432")
            ]
        );
        let got = planned(r#"{"memory":{"limit":-1}}"#, &Files::default());
        assert_eq!(
            got,
            vec![p("memory.swap.max", "max"), p("memory.max", "max")]
        );
    }

    #[test]
    fn v1_only_memory_settings_are_refused() {
        for json in [
            r#"{"memory":{"swappiness":10}}"#,
            r#"{"memory":{"disableOOMKiller":true}}"#,
            r#"{"memory":{"useHierarchy":false}}"#,
        ] {
            let err = plan(&res(json), &Files::default(), &sizes()).unwrap_err();
            assert!(err.to_string().contains("cgroup v2"), "{json}: {err}");
        }
        assert!(
            plan(
                &res(r#"{"memory":{"disableOOMKiller":false,"useHierarchy":true}}"#),
                &Files::default(),
                &sizes()
            )
            .is_ok()
        );
    }

    #[test]
    fn check_before_update_refuses_a_limit_below_usage() {
        let files = Files::with(&[("memory.current", "50000000")]);
        let json = r#"{"memory":{"limit":40000000,"checkBeforeUpdate":true}}"#;
        let err = plan(&res(json), &files, &sizes()).unwrap_err();
        assert!(err.to_string().contains("below the current usage"), "{err}");
        assert!(plan(&res(r#"{"memory":{"limit":40000000}}"#), &files, &sizes()).is_ok());
    }

    #[test]
    fn cpu_converts_shares_and_keeps_period_on_quota_change() {
        let files = Files::with(&[("cpu.max", "max 50000")]);
        let got = planned(
            r#"{"cpu":{"shares":1024,"quota":20000,"burst":1000,"cpus":"0-1","mems":"0"}}"#,
            &files,
        );
        assert_eq!(
            got,
            vec![
                p("cpu.weight", "100"),
                p("cpu.max", "20000 50000"),
                p("cpu.max.burst", "1000"),
                p("cpuset.cpus", "0-1"),
                p("cpuset.mems", "0")
            ]
        );
        assert!(
            plan(
                &res(r#"{"cpu":{"realtimeRuntime":1000}}"#),
                &files,
                &sizes()
            )
            .is_err()
        );
        assert!(plan(&res(r#"{"cpu":{"idle":1,"shares":512}}"#), &files, &sizes()).is_err());
    }

    #[test]
    fn io_uses_bfq_when_present_and_converts_otherwise() {
        let json = r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":100}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":0}]}}"#;
        assert_eq!(
            planned(json, &Files::default()),
            vec![
                p("io.weight", "4950"),
                p("io.weight", "8:0 910"),
                p("io.max", "8:0 rbps=1048576"),
                p("io.max", "8:0 wiops=max")
            ]
        );
        let bfq = Files::with(&[("io.bfq.weight", "default 100")]);
        assert_eq!(
            planned(json, &bfq)[..2],
            [p("io.bfq.weight", "500"), p("io.bfq.weight", "8:0 100")]
        );
        assert!(plan(&res(r#"{"blockIO":{"leafWeight":10}}"#), &bfq, &sizes()).is_err());
    }

    #[test]
    fn hugepages_rdma_pids_and_unified_map_to_files() {
        let got = planned(
            r#"{"pids":{"limit":0},"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                "rdma":{"mlx5_1":{"hcaHandles":3}},
                "unified":{"memory.high":"1000000","cpu.weight":"7"}}"#,
            &Files::default(),
        );
        assert_eq!(
            got,
            vec![
                p("pids.max", "max"),
                p("hugetlb.2MB.max", "4194304"),
                p("hugetlb.2MB.rsvd.max", "4194304"),
                p("rdma.max", "mlx5_1 hca_handle=3 hca_object=max"),
                p("cpu.weight", "7"),
                p("memory.high", "1000000")
            ]
        );
        let unified = plan(
            &res(r#"{"unified":{"memory.high":"1"}}"#),
            &Files::default(),
            &sizes(),
        );
        let w = &unified.unwrap().writes[0];
        assert!(w.must_exist && w.controller == "memory");
        let bad_size = r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#;
        assert!(plan(&res(bad_size), &Files::default(), &sizes()).is_err());
        let bad_key = r#"{"unified":{"../memory.max":"1"}}"#;
        assert!(plan(&res(bad_key), &Files::default(), &sizes()).is_err());
    }

    #[test]
    fn network_is_refused_and_devices_compile_up_front() {
        let err = plan(
            &res(r#"{"network":{"classID":1}}"#),
            &Files::default(),
            &sizes(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("net_cls"), "{err}");
        let plan = plan(
            &res(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#),
            &Files::default(),
            &sizes(),
        )
        .unwrap();
        assert!(!plan.devices.unwrap().default_allow);
        let bad = r#"{"devices":[{"allow":true,"type":"a","major":1,"access":"rwm"}]}"#;
        assert!(super::plan(&res(bad), &Files::default(), &sizes()).is_err());
    }
}
