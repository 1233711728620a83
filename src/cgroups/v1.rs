//! cgroup v1: one directory per controller hierarchy (hybrid and legacy hosts).

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::files::{mkdir_all, read, read_pids, rmdir_retry, write};
use super::{Cgroup, CgroupError, CgroupPaths, FreezerState, Result};

pub struct V1Cgroup {
    controllers: BTreeMap<String, PathBuf>,
    unified: Option<PathBuf>,
}

impl V1Cgroup {
    pub fn new(controllers: BTreeMap<String, PathBuf>, unified: Option<PathBuf>) -> Self {
        V1Cgroup {
            controllers,
            unified,
        }
    }

    fn dir(&self, controller: &str) -> Result<&Path> {
        self.controllers
            .get(controller)
            .map(PathBuf::as_path)
            .ok_or_else(|| CgroupError::Unsupported(format!("the v1 {controller} controller")))
    }

    /// Each distinct directory once (co-mounted controllers share one).
    fn dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.controllers.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v.extend(self.unified.as_deref());
        v
    }

    /// A new cpuset cgroup starts with empty `cpus` and `mems`, and no task may join it until
    /// they are set. Copy them down from the nearest ancestor that has them.
    fn init_cpuset(&self) -> Result<()> {
        let Ok(leaf) = self.dir("cpuset") else {
            return Ok(());
        };
        let mut chain: Vec<&Path> = leaf.ancestors().collect();
        chain.reverse();
        for pair in chain.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if !child.join("cpuset.cpus").exists() {
                continue;
            }
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if read(child, file)?.is_empty() {
                    write(child, file, &read(parent, file)?)?;
                }
            }
        }
        Ok(())
    }

    fn apply_devices(&self, resources: &LinuxResources) -> Result<()> {
        let Some(rules) = resources.devices() else {
            return Ok(());
        };
        let dir = self.dir("devices")?;
        for rule in rules {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(dir, file, &rule.to_string())?;
        }
        Ok(())
    }
}

impl Cgroup for V1Cgroup {
    fn paths(&self) -> CgroupPaths {
        CgroupPaths::V1 {
            controllers: self.controllers.clone(),
            unified: self.unified.clone(),
        }
    }

    fn create(&self) -> Result<()> {
        for dir in self.dirs() {
            mkdir_all(dir)?;
        }
        self.init_cpuset()
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        self.apply_devices(r)?;
        if let Some(m) = r.memory() {
            let dir = self.dir("memory")?;
            if let Some(v) = m.limit() {
                write(dir, "memory.limit_in_bytes", &v.to_string())?;
            }
            if let Some(v) = m.reservation() {
                write(dir, "memory.soft_limit_in_bytes", &v.to_string())?;
            }
            if let Some(v) = m.swap() {
                write(dir, "memory.memsw.limit_in_bytes", &v.to_string())?;
            }
            if m.kernel().is_some()
                || m.kernel_tcp().is_some()
                || m.swappiness().is_some()
                || m.disable_oom_killer().is_some()
                || m.use_hierarchy().is_some()
            {
                return Err(CgroupError::Unsupported(
                    "memory kernel/kernelTCP/swappiness/disableOOMKiller/useHierarchy".into(),
                ));
            }
        }
        if let Some(p) = r.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(self.dir("pids")?, "pids.max", &v)?;
        }
        if let Some(c) = r.cpu() {
            if let Some(v) = c.shares() {
                write(self.dir("cpu")?, "cpu.shares", &v.to_string())?;
            }
            if let Some(v) = c.period() {
                write(self.dir("cpu")?, "cpu.cfs_period_us", &v.to_string())?;
            }
            if let Some(v) = c.quota() {
                write(self.dir("cpu")?, "cpu.cfs_quota_us", &v.to_string())?;
            }
            if let Some(v) = c.cpus() {
                write(self.dir("cpuset")?, "cpuset.cpus", v)?;
            }
            if let Some(v) = c.mems() {
                write(self.dir("cpuset")?, "cpuset.mems", v)?;
            }
            if c.idle().is_some()
                || c.burst().is_some()
                || c.realtime_period().is_some()
                || c.realtime_runtime().is_some()
            {
                return Err(CgroupError::Unsupported("cpu idle/burst/realtime".into()));
            }
        }
        if r.block_io().is_some()
            || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
            || r.network().is_some()
            || r.rdma().as_ref().is_some_and(|v| !v.is_empty())
            || r.unified().as_ref().is_some_and(|v| !v.is_empty())
        {
            return Err(CgroupError::Unsupported(
                "blockIO, hugepageLimits, network, rdma and unified limits".into(),
            ));
        }
        Ok(())
    }

    fn add_process(&self, pid: Pid) -> Result<()> {
        for dir in self.dirs() {
            write(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn clone_fd(&self) -> Option<OwnedFd> {
        None
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        let dir = ["pids", "memory", "freezer", "devices"]
            .iter()
            .find_map(|c| self.controllers.get(*c))
            .or_else(|| self.controllers.values().next())
            .ok_or_else(|| CgroupError::Invalid("has no hierarchy".into()))?;
        match read_pids(dir) {
            Err(CgroupError::Io { cause, .. })
                if cause.errno() == Some(nix::errno::Errno::ENOENT) =>
            {
                Ok(Vec::new())
            }
            other => other,
        }
    }

    fn signal_all(&self, signal: Signal) -> Result<()> {
        // Freeze first so that no process can fork a new one between the listing and the kill.
        let frozen = self.set_freezer(FreezerState::Frozen).is_ok();
        let result = self.pids().map(|pids| {
            for pid in pids {
                let _ = kill(pid, signal);
            }
        });
        if frozen {
            self.set_freezer(FreezerState::Thawed)?;
        }
        result
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let dir = self.dir("freezer")?;
        let want = match state {
            FreezerState::Frozen => "FROZEN",
            FreezerState::Thawed => "THAWED",
        };
        for _ in 0..1000 {
            write(dir, "freezer.state", want)?;
            if read(dir, "freezer.state")? == want {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Err(CgroupError::Invalid(format!(
            "freezer {} did not reach {want}",
            dir.display()
        )))
    }

    fn freezer(&self) -> Result<FreezerState> {
        let dir = self.dir("freezer")?;
        Ok(match read(dir, "freezer.state")?.as_str() {
            "THAWED" => FreezerState::Thawed,
            _ => FreezerState::Frozen,
        })
    }

    fn destroy(&self) -> Result<()> {
        for dir in self.dirs() {
            rmdir_retry(dir)?;
        }
        Ok(())
    }
}
