//! cgroup v1: one directory per controller hierarchy (hybrid and legacy hosts), plus, on a
//! hybrid host, a directory in the cgroup2 hierarchy.

mod plan;
mod stats;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::devices::DeviceTable;
use super::files::{
    REMOVE_PATIENCE, add_pid, mkdir_all, read, read_optional, read_pids_recursive, remove_tree,
    write, write_error,
};
use super::plan::Probe;
use super::stats::Stats;
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

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.controllers.get(controller).map(PathBuf::as_path)
    }

    /// Each v1 hierarchy's directory once (co-mounted controllers share one).
    fn v1_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.controllers.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The v1 directories and the unified one.
    fn dirs(&self) -> Vec<&Path> {
        let mut v = self.v1_dirs();
        v.extend(self.unified.as_deref());
        v
    }

    /// Whether hugetlb is a controller of this host's cgroup2 hierarchy rather than of v1.
    fn hugetlb_on_v2(&self) -> bool {
        if self.controllers.contains_key("hugetlb") {
            return false;
        }
        let Some(u) = &self.unified else {
            return false;
        };
        super::v2::mount_root(u)
            .and_then(|root| read(&root, "cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "hugetlb"))
    }

    /// A new cpuset cgroup starts with empty `cpus` and `mems`, and no task may join it until
    /// they are set. Copy them down from the nearest ancestor that has them: going up from the
    /// container's directory, reading each once, to the first that has both (the hierarchy's
    /// root always does); then down again, writing what was empty. A directory `create_rest`
    /// just made (`leaf_is_new`) is not read: it is empty, or, under a parent with
    /// `cgroup.clone_children`, holds the parent's values, which the write repeats.
    fn init_cpuset(&self, leaf_is_new: bool) -> Result<()> {
        let Some(leaf) = self.dir("cpuset") else {
            return Ok(());
        };
        let mut below = Vec::new();
        let mut dir = leaf;
        if leaf_is_new && let Some(parent) = leaf.parent() {
            below.push((leaf, String::new(), String::new()));
            dir = parent;
        }
        let (mut cpus, mut mems) = loop {
            let cpus = read(dir, "cpuset.cpus")?;
            let mems = read(dir, "cpuset.mems")?;
            if !cpus.is_empty() && !mems.is_empty() {
                break (cpus, mems);
            }
            below.push((dir, cpus, mems));
            dir = dir.parent().unwrap_or(Path::new("/"));
        };
        for (dir, own_cpus, own_mems) in below.into_iter().rev() {
            for (file, own, inherited) in [
                ("cpuset.cpus", own_cpus, &mut cpus),
                ("cpuset.mems", own_mems, &mut mems),
            ] {
                if own.is_empty() {
                    write(dir, file, inherited, "inherit cpuset")?;
                } else {
                    *inherited = own;
                }
            }
        }
        Ok(())
    }

    /// Brings `devices.list` to `table`, writing only the difference where possible.
    fn apply_devices(&self, table: &DeviceTable) -> Result<()> {
        let dir = self.dir("devices").ok_or_else(|| {
            CgroupError::Unsupported(
                "device rules (the v1 devices controller is not mounted)".into(),
            )
        })?;
        let current = DeviceTable::from_v1_list(&read(dir, "devices.list")?)?;
        // Each write is one rule; the two files are opened once each, not once per rule.
        let mut open: [Option<std::fs::File>; 2] = [None, None];
        for (allow, line) in table.v1_transition(&current) {
            let file = if allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            let path = dir.join(file);
            let f = match &mut open[usize::from(allow)] {
                Some(f) => f,
                slot @ None => slot.insert(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| write_error("device rule", path.clone(), &line, e.into()))?,
                ),
            };
            f.write_all(line.as_bytes())
                .map_err(|e| write_error("device rule", path, &line, e.into()))?;
        }
        Ok(())
    }

    fn memory_dir(&self, what: &str) -> Result<&Path> {
        self.dir("memory").ok_or_else(|| {
            CgroupError::Unsupported(format!("{what} (the v1 memory controller is not mounted)"))
        })
    }

    /// The directory whose `cgroup.procs` lists the container's processes.
    fn procs_dir(&self) -> Option<&Path> {
        [
            "pids",
            "freezer",
            "memory",
            "devices",
            "cpu",
            "name=systemd",
        ]
        .iter()
        .find_map(|c| self.dir(c))
        .or_else(|| self.controllers.values().next().map(PathBuf::as_path))
    }
}

struct ControllerProbe<'a>(&'a V1Cgroup);

impl Probe for ControllerProbe<'_> {
    fn read(&self, controller: &str, file: &str) -> Option<String> {
        read_optional(self.0.dir(controller)?, file).ok().flatten()
    }
}

impl Cgroup for V1Cgroup {
    fn paths(&self) -> CgroupPaths {
        CgroupPaths::V1 {
            controllers: self.controllers.clone(),
            unified: self.unified.clone(),
        }
    }

    fn create_clone_target(&self) -> Result<()> {
        match &self.unified {
            Some(dir) => mkdir_all(dir).map(drop),
            None => Ok(()),
        }
    }

    fn create_rest(&self) -> Result<()> {
        let mut cpuset_is_new = false;
        for dir in self.v1_dirs() {
            let new = mkdir_all(dir)?;
            if Some(dir) == self.dir("cpuset") {
                cpuset_is_new = new;
            }
        }
        self.init_cpuset(cpuset_is_new)
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        let sizes = super::convert::hugepage_sizes_for(r);
        let hugetlb_v2 =
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) && self.hugetlb_on_v2();
        let plan = plan::plan(r, &ControllerProbe(self), &sizes, hugetlb_v2)?;
        if let Some(table) = &plan.devices {
            self.apply_devices(table)?;
        }
        super::plan::run(&plan.writes, &mut |w| {
            if w.controller == plan::UNIFIED {
                let dir = self.unified.clone().ok_or_else(|| {
                    CgroupError::Unsupported(format!("{} (no cgroup2 directory)", w.what))
                })?;
                super::v2::require_controller(&dir, "hugetlb", &w.what)?;
                return Ok(dir);
            }
            self.dir(&w.controller)
                .map(Path::to_path_buf)
                .ok_or_else(|| {
                    CgroupError::Unsupported(format!(
                        "{} (it needs the v1 {} controller, which is not mounted on this host)",
                        w.what, w.controller
                    ))
                })
        })
    }

    fn add_process(&self, pid: Pid) -> Result<()> {
        for dir in self.dirs() {
            add_pid(dir, pid)?;
        }
        Ok(())
    }

    fn clone_fd(&self) -> Option<OwnedFd> {
        let dir = self.unified.as_ref()?;
        nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
    }

    /// The v1 hierarchies are joined by the child itself ([`super::join_self`]); the runtime
    /// only adds it to the unified hierarchy when the clone could not.
    fn add_after_clone(&self, pid: Pid, cloned_into: bool) -> Result<()> {
        match &self.unified {
            Some(dir) if !cloned_into => add_pid(dir, pid),
            _ => Ok(()),
        }
    }

    fn task_files(&self) -> Result<Vec<OwnedFd>> {
        self.v1_dirs()
            .into_iter()
            .map(|dir| {
                let path = dir.join("tasks");
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|e| CgroupError::Io {
                        op: "open for joining",
                        path,
                        cause: e.into(),
                    })
            })
            .collect()
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        match self.procs_dir() {
            Some(dir) => read_pids_recursive(dir),
            None => Ok(Vec::new()),
        }
    }

    /// Freezes, signals every process, and thaws again. A SIGKILL always leaves the cgroup
    /// thawed, even when it was paused before: frozen v1 tasks cannot die, and a kill path must
    /// never hang. Other signals to a paused container are delivered when it is resumed.
    fn signal_all(&self, signal: Signal) -> Result<()> {
        super::signal::signal_listed(self, signal)
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let dir = self.dir("freezer").ok_or_else(|| {
            CgroupError::Unsupported("freezing (the v1 freezer controller is not mounted)".into())
        })?;
        if state == FreezerState::Thawed {
            return write(dir, "freezer.state", "THAWED", "thaw");
        }
        // v1 can stay in FREEZING while tasks keep forking; like runc, retry the write, thaw
        // now and then to let stragglers settle, and give up (thawed) after ~2 s.
        for i in 0..2000 {
            if i % 50 == 49 {
                let _ = write(dir, "freezer.state", "THAWED", "thaw");
                std::thread::sleep(Duration::from_millis(10));
            }
            write(dir, "freezer.state", "FROZEN", "freeze")?;
            match read(dir, "freezer.state")?.as_str() {
                "FROZEN" => return Ok(()),
                _ => std::thread::sleep(Duration::from_micros(500)),
            }
        }
        let _ = write(dir, "freezer.state", "THAWED", "thaw after failed freeze");
        Err(CgroupError::Invalid(format!(
            "freezer {} stayed in FREEZING; thawed it again",
            dir.display()
        )))
    }

    fn freezer(&self) -> Result<FreezerState> {
        let dir = self.dir("freezer").ok_or_else(|| {
            CgroupError::Unsupported(
                "freezer state (the v1 freezer controller is not mounted)".into(),
            )
        })?;
        for _ in 0..1000 {
            match read(dir, "freezer.state")?.as_str() {
                "THAWED" => return Ok(FreezerState::Thawed),
                // Frozen through an ancestor only is not this container's state.
                "FROZEN" => {
                    let own = read_optional(dir, "freezer.self_freezing")?;
                    return Ok(if own.as_deref() == Some("0") {
                        FreezerState::Thawed
                    } else {
                        FreezerState::Frozen
                    });
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        Ok(FreezerState::Frozen)
    }

    fn destroy(&self) -> Result<()> {
        // Usually every directory is empty by now and one rmdir each removes it. Only what is
        // left (processes still in it, or child cgroups) needs the freezer thawed, so that a
        // kill lands, and the removal that waits and recurses.
        let left: Vec<&Path> = self
            .dirs()
            .into_iter()
            .filter(|dir| match std::fs::remove_dir(dir) {
                Ok(()) => false,
                Err(e) => e.kind() != std::io::ErrorKind::NotFound,
            })
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if self.dir("freezer").is_some_and(Path::exists)
            && self.freezer().ok() == Some(FreezerState::Frozen)
        {
            let _ = self.set_freezer(FreezerState::Thawed);
        }
        let mut first_err = None;
        let deadline = std::time::Instant::now() + REMOVE_PATIENCE;
        for dir in left {
            if let Err(e) = remove_tree(dir, deadline) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn stats(&self) -> Result<Stats> {
        stats::read_stats(&self.controllers, self.unified.as_deref())
    }

    fn oom_kill_count(&self) -> Result<u64> {
        stats::oom_kill_count(self.memory_dir("OOM kill counting")?)
    }

    fn oom_notifier(&self) -> Result<super::OomNotifier> {
        super::OomNotifier::v1(self.memory_dir("OOM notification")?)
    }
}
