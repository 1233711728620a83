//! cgroup v2: one directory in the unified hierarchy.

mod controllers;
mod plan;
mod stats;

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, open};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub(crate) use self::controllers::{mount_root, require as require_controller};
use super::files::{
    REMOVE_PATIENCE, add_pid, read, read_optional, read_pids_recursive, remove_tree, write,
};
use super::plan::Probe;
use super::stats::Stats;
use super::{Cgroup, CgroupError, CgroupPaths, FreezerState, Layout, MountInfo, Result};

pub struct V2Cgroup {
    dir: PathBuf,
}

impl V2Cgroup {
    pub fn new(dir: PathBuf) -> Self {
        V2Cgroup { dir }
    }
}

/// Reads files of the cgroup directory, whatever the controller.
struct DirProbe<'a>(&'a std::path::Path);

impl Probe for DirProbe<'_> {
    fn read(&self, _controller: &str, file: &str) -> Option<String> {
        read_optional(self.0, file).ok().flatten()
    }
}

impl Cgroup for V2Cgroup {
    fn paths(&self) -> CgroupPaths {
        CgroupPaths::V2 {
            dir: self.dir.clone(),
        }
    }

    fn create_clone_target(&self) -> Result<()> {
        // On a hybrid host the v2 hierarchy is secondary: controllers there are enabled only
        // when a resource needs one (see `require`), never all at once.
        let enable = MountInfo::read_self()?.layout() == Layout::Unified;
        controllers::create(&self.dir, enable)?;
        controllers::check_domain(&self.dir)
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        let sizes = super::convert::hugepage_sizes_for(r);
        let plan = plan::plan(r, &DirProbe(&self.dir), &sizes)?;
        let mut ready = BTreeSet::new();
        super::plan::run(&plan.writes, &mut |w| {
            // Core files ("cgroup.*") need no controller.
            if !matches!(w.controller.as_str(), "" | "cgroup") && ready.insert(w.controller.clone())
            {
                controllers::require(&self.dir, &w.controller, &w.what)?;
            }
            Ok(self.dir.clone())
        })?;
        if let Some(table) = &plan.devices {
            let prog = super::bpf::program::device_program(table)?;
            super::bpf::replace_device_program(&self.dir, &prog)?;
        }
        Ok(())
    }

    fn add_process(&self, pid: Pid) -> Result<()> {
        add_pid(&self.dir, pid)
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
        read_pids_recursive(&self.dir)
    }

    fn signal_all(&self, signal: Signal) -> Result<()> {
        if signal == Signal::SIGKILL && self.dir.join("cgroup.kill").exists() {
            // Kills every process of the subtree atomically, frozen ones included (Linux 5.14).
            write(
                &self.dir,
                "cgroup.kill",
                "1",
                "kill every process of the cgroup",
            )?;
            // Like v1, a SIGKILL leaves the cgroup thawed: a killed container is not paused.
            if read_optional(&self.dir, "cgroup.freeze")?.as_deref() == Some("1") {
                write(&self.dir, "cgroup.freeze", "0", "thaw after kill")?;
            }
            return Ok(());
        }
        // Without cgroup.kill: freeze, list, signal.
        super::signal::signal_listed(self, signal)
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let want = match state {
            FreezerState::Frozen => "1",
            FreezerState::Thawed => "0",
        };
        write(&self.dir, "cgroup.freeze", want, "set freezer")?;
        // The kernel reports completion in cgroup.events once every task has stopped.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.freezer()? == state {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if state == FreezerState::Frozen {
            let _ = write(&self.dir, "cgroup.freeze", "0", "thaw after failed freeze");
        }
        Err(CgroupError::Invalid(format!(
            "{} did not reach frozen={want} within 5 s",
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
        // Usually empty by now: one rmdir. Otherwise thaw first, so that a kill lands, and
        // remove what is left with the removal that waits and recurses.
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => {}
        }
        if self.dir.exists() && self.freezer().ok() == Some(FreezerState::Frozen) {
            let _ = self.set_freezer(FreezerState::Thawed);
        }
        remove_tree(&self.dir, std::time::Instant::now() + REMOVE_PATIENCE)
    }

    fn stats(&self) -> Result<Stats> {
        stats::read_stats(&self.dir)
    }

    fn oom_kill_count(&self) -> Result<u64> {
        stats::oom_kill_count(&self.dir)
    }

    fn oom_notifier(&self) -> Result<super::OomNotifier> {
        super::OomNotifier::v2(&self.dir)
    }
}
