//! cgroup v2: one directory in the unified hierarchy.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{OFlag, open};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::files::{mkdir_all, read, read_pids, rmdir_retry, write};
use super::{Cgroup, CgroupError, CgroupPaths, FreezerState, Result};

pub struct V2Cgroup {
    dir: PathBuf,
}

impl V2Cgroup {
    pub fn new(dir: PathBuf) -> Self {
        V2Cgroup { dir }
    }

    /// Enables every available controller in each ancestor's `cgroup.subtree_control`, from the
    /// mount point down to the parent, so that the new cgroup gets its own interface files.
    fn enable_controllers(&self) -> Result<()> {
        let mount = super::MountInfo::read_self()?
            .unified_mount()
            .unwrap_or_else(|| PathBuf::from(super::CGROUP_ROOT));
        let Some(parent) = self.dir.parent() else {
            return Ok(());
        };
        let mut chain: Vec<&Path> = parent
            .ancestors()
            .take_while(|p| p.starts_with(&mount))
            .collect();
        chain.reverse();
        for dir in chain {
            let available = read(dir, "cgroup.controllers")?;
            let enabled = read(dir, "cgroup.subtree_control")?;
            for c in available.split_whitespace() {
                if !enabled.split_whitespace().any(|e| e == c) {
                    write(dir, "cgroup.subtree_control", &format!("+{c}"))?;
                }
            }
        }
        Ok(())
    }
}

/// cgroup v1 `cpu.shares` (2..262144) to v2 `cpu.weight` (1..10000), as runc and crun convert.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262144) - 2) * 9999) / 262142
}

impl Cgroup for V2Cgroup {
    fn paths(&self) -> CgroupPaths {
        CgroupPaths::V2 {
            dir: self.dir.clone(),
        }
    }

    fn create(&self) -> Result<()> {
        self.enable_controllers()?;
        mkdir_all(&self.dir)
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        let dir = &self.dir;
        if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(CgroupError::Unsupported(
                "device rules on cgroup v2 (eBPF)".into(),
            ));
        }
        if let Some(m) = r.memory() {
            if let Some(v) = m.limit() {
                write(dir, "memory.max", &max_or(v))?;
            }
            if let Some(v) = m.reservation() {
                write(dir, "memory.low", &max_or(v))?;
            }
            if let (Some(swap), Some(limit)) = (m.swap(), m.limit()) {
                // v1 counts memory+swap together; v2 counts swap alone.
                let v = if swap < 0 || limit < 0 {
                    "max".to_string()
                } else {
                    (swap - limit).max(0).to_string()
                };
                write(dir, "memory.swap.max", &v)?;
            }
        }
        if let Some(p) = r.pids() {
            write(dir, "pids.max", &max_or(p.limit()))?;
        }
        if let Some(c) = r.cpu() {
            if let Some(v) = c.shares() {
                write(dir, "cpu.weight", &shares_to_weight(v).to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let quota = c.quota().filter(|q| *q > 0).map(|q| q.to_string());
                let period = c.period().unwrap_or(100_000);
                write(
                    dir,
                    "cpu.max",
                    &format!("{} {period}", quota.as_deref().unwrap_or("max")),
                )?;
            }
            if let Some(v) = c.cpus() {
                write(dir, "cpuset.cpus", v)?;
            }
            if let Some(v) = c.mems() {
                write(dir, "cpuset.mems", v)?;
            }
        }
        if let Some(u) = r.unified() {
            for (k, v) in u {
                write(dir, k, v)?;
            }
        }
        if r.block_io().is_some()
            || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
            || r.network().is_some()
        {
            return Err(CgroupError::Unsupported(
                "blockIO, hugepageLimits and network limits".into(),
            ));
        }
        Ok(())
    }

    fn add_process(&self, pid: Pid) -> Result<()> {
        write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn clone_fd(&self) -> Option<OwnedFd> {
        open(
            &self.dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        match read_pids(&self.dir) {
            Err(CgroupError::Io { cause, .. })
                if cause.errno() == Some(nix::errno::Errno::ENOENT) =>
            {
                Ok(Vec::new())
            }
            other => other,
        }
    }

    fn signal_all(&self, signal: Signal) -> Result<()> {
        if signal == Signal::SIGKILL && self.dir.join("cgroup.kill").exists() {
            return write(&self.dir, "cgroup.kill", "1");
        }
        for pid in self.pids()? {
            let _ = kill(pid, signal);
        }
        Ok(())
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let want = match state {
            FreezerState::Frozen => "1",
            FreezerState::Thawed => "0",
        };
        write(&self.dir, "cgroup.freeze", want)?;
        for _ in 0..1000 {
            if self.freezer()? == state {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Err(CgroupError::Invalid(format!(
            "{} did not reach frozen={want}",
            self.dir.display()
        )))
    }

    fn freezer(&self) -> Result<FreezerState> {
        let events = read(&self.dir, "cgroup.events")?;
        let frozen = events.lines().any(|l| l.trim() == "frozen 1");
        Ok(if frozen {
            FreezerState::Frozen
        } else {
            FreezerState::Thawed
        })
    }

    fn destroy(&self) -> Result<()> {
        rmdir_retry(&self.dir)
    }
}

fn max_or(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_to_weight_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
    }
}
