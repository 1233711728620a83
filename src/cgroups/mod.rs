//! Control groups: one [`Cgroup`] trait with a cgroup v2 implementation and a v1
//! implementation for hybrid and legacy hosts.
//!
//! The container's cgroup is resolved once, at `create`, into [`CgroupPaths`] (absolute
//! directories under `/sys/fs/cgroup`). Those paths are stored in the container's state so that
//! later verbs (`delete`, `kill --all`, `pause` ...) act on the same directories even when they
//! are called from another cgroup.

pub mod bpf;
mod convert;
pub mod devices;
mod files;
pub mod keys;
mod layout;
mod oom;
mod plan;
mod signal;
pub mod stats;
mod sub;
pub mod systemd;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use convert::{blkio_weight_to_io_weight, shares_to_weight, swap_for_v2};
pub use layout::{Layout, MountInfo};
pub use oom::OomNotifier;
pub use stats::Stats;
pub use sub::sub_cgroup_paths;

/// Root of the cgroup filesystems.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A failed cgroup operation, naming the file or directory and the value involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{op} {path}: {cause}")]
    Io {
        op: &'static str,
        path: PathBuf,
        cause: crate::error::Cause,
    },
    /// `what` names the setting ("memory limit", "add process to cgroup").
    #[error("{what}: write {value:?} to {path}: {cause}")]
    Write {
        what: String,
        path: PathBuf,
        value: String,
        cause: crate::error::Cause,
    },
    #[error("parse {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("cgroup {0}")]
    Invalid(String),
    #[error("{0} is not supported on this host's cgroup layout")]
    Unsupported(String),
    /// A failed exchange with systemd (`--systemd-cgroup`).
    #[error("--systemd-cgroup: {0}")]
    Systemd(String),
}

pub type Result<T> = std::result::Result<T, CgroupError>;

/// The directories that make up one container's cgroup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum CgroupPaths {
    /// One directory per mounted v1 controller (keyed by controller name), plus the directory in
    /// the cgroup2 mount of a hybrid host, when it has one.
    V1 {
        controllers: BTreeMap<String, PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unified: Option<PathBuf>,
    },
    /// The single directory in the unified hierarchy.
    V2 { dir: PathBuf },
}

/// Frozen or not, as the freezer reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    Frozen,
}

/// The operations the runtime needs from a container's cgroup, on any layout.
pub trait Cgroup {
    /// The directories this cgroup lives in, to store in the container state.
    fn paths(&self) -> CgroupPaths;
    /// Creates the directories (parents included). Succeeds if they already exist.
    fn create(&self) -> Result<()> {
        self.create_clone_target()?;
        self.create_rest()
    }
    /// Creates the part that must exist before init is cloned: the directory
    /// `clone3(CLONE_INTO_CGROUP)` places it in ([`Cgroup::clone_fd`]).
    fn create_clone_target(&self) -> Result<()>;
    /// Creates the rest: the v1 hierarchies, which init joins itself ([`join_self`]).
    /// `create` runs it after the clone, while init sets up its namespaces and mounts.
    fn create_rest(&self) -> Result<()> {
        Ok(())
    }
    /// Applies `linux.resources`. A limit that cannot be applied on this layout is an error,
    /// never silently skipped.
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    /// Moves a process into the cgroup, in every hierarchy.
    fn add_process(&self, pid: Pid) -> Result<()>;
    /// A directory fd for `clone3(CLONE_INTO_CGROUP)`: the cgroup v2 directory (on a hybrid
    /// host, the one in the unified hierarchy). None without cgroup v2.
    fn clone_fd(&self) -> Option<OwnedFd>;
    /// Right after the clone, in the runtime: adds the child to the hierarchies that neither
    /// `clone3` (`cloned_into` says whether it placed the child) nor [`join_self`]
    /// will place it in.
    fn add_after_clone(&self, pid: Pid, cloned_into: bool) -> Result<()> {
        if cloned_into {
            Ok(())
        } else {
            self.add_process(pid)
        }
    }
    /// The `tasks` file of each v1 hierarchy, open for writing, for the cloned child to join
    /// with [`join_self`]. Empty on cgroup v2, where `clone3(CLONE_INTO_CGROUP)` placed it.
    fn task_files(&self) -> Result<Vec<OwnedFd>> {
        Ok(Vec::new())
    }
    /// Host pids of every process in the cgroup.
    fn pids(&self) -> Result<Vec<Pid>>;
    /// Sends `signal` to every process in the cgroup (cgroup.kill on v2 for SIGKILL). A
    /// SIGKILL never hangs on a frozen cgroup and leaves it thawed; other signals to a frozen
    /// cgroup are delivered when it is thawed.
    fn signal_all(&self, signal: Signal) -> Result<()>;
    /// Freezes or thaws every process in the cgroup.
    fn set_freezer(&self, state: FreezerState) -> Result<()>;
    /// The freezer's current state.
    fn freezer(&self) -> Result<FreezerState>;
    /// Removes the directories (and any cgroup the container created below them). Processes
    /// must have exited; retries while the kernel still reports the cgroup busy and thaws a
    /// frozen cgroup first so that killed processes can finish exiting. Succeeds if they are
    /// already gone, so it can be called twice.
    fn destroy(&self) -> Result<()>;
    /// Current usage, in the shape of `runc events --stats`.
    fn stats(&self) -> Result<Stats>;
    /// How many processes the kernel's OOM killer has killed in this cgroup so far (v2:
    /// `memory.events` `oom_kill`; v1: `memory.oom_control` `oom_kill`). A caller detects an
    /// OOM kill as an increase of this counter.
    fn oom_kill_count(&self) -> Result<u64>;
    /// A descriptor that becomes readable when the cgroup has a memory event (an OOM on v1, any
    /// change of `memory.events` on v2); check [`Cgroup::oom_kill_count`] when it fires.
    fn oom_notifier(&self) -> Result<OomNotifier>;
}

/// In the cloned child, once the runtime has completed the cgroup, before it runs anything the
/// limits must cover: moves the calling (single-threaded) process into the cgroup's v1
/// hierarchies by writing `0` to each of `task_files` ([`Cgroup::task_files`]).
///
/// A thread that moves itself is the one migration for which the kernel does not take the
/// global threadgroup lock, whose write side waits for an RCU grace period (about 10 ms); the
/// runtime writing the child's pid to `cgroup.procs` would pay it. The runtime opened the
/// files, and the kernel checks the credentials of whoever opened them, so this works as well
/// after the child has become another user in a user namespace of its own.
pub fn join_self(task_files: &[OwnedFd]) -> Result<()> {
    for file in task_files {
        nix::unistd::write(file, b"0").map_err(|e| {
            let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
                .unwrap_or_else(|_| PathBuf::from(format!("fd {}", file.as_raw_fd())));
            files::write_error("join cgroup", path, "0", e.into())
        })?;
    }
    Ok(())
}

/// The settings of `resources` that rind accepts but does not apply, for the caller to log as
/// a warning. runc does the same with kernel memory limits ("Kernel memory settings are ignored
/// and will be removed"): `memory.kmem.limit_in_bytes` was deprecated in Linux 5.4 and removed
/// in 6.1, and kernel TCP memory is accounted in the memory limit on cgroup v2.
pub fn ignored_resources(resources: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(m) = resources.memory() {
        if m.kernel().is_some() {
            out.push("linux.resources.memory.kernel");
        }
        if m.kernel_tcp().is_some() {
            out.push("linux.resources.memory.kernelTCP");
        }
    }
    out
}

/// Opens the cgroup a container was created with, from its stored paths.
pub fn from_paths(paths: &CgroupPaths) -> Box<dyn Cgroup> {
    match paths {
        CgroupPaths::V1 {
            controllers,
            unified,
        } => Box::new(v1::V1Cgroup::new(controllers.clone(), unified.clone())),
        CgroupPaths::V2 { dir } => Box::new(v2::V2Cgroup::new(dir.clone())),
    }
}

/// Resolves a spec's `cgroupsPath` (or the container id when it is absent) on this host.
///
/// An absolute path is taken from the hierarchy root. A relative path, and the default, is
/// placed (runc's rules) on cgroup v1 under the calling process's cgroup in each hierarchy, and
/// on cgroup v2 under the parent of the calling process's cgroup.
pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<Box<dyn Cgroup>> {
    resolve_in(&MountInfo::read_self()?, cgroups_path, id)
}

/// [`resolve`] with the cgroup mounts already read.
pub fn resolve_in(
    mounts: &MountInfo,
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<Box<dyn Cgroup>> {
    let requested = match cgroups_path {
        Some(p) => validate_path(p)?,
        None => PathBuf::from(id),
    };
    match mounts.layout() {
        Layout::Unified => {
            let mount = mounts
                .unified_mount()
                .ok_or_else(|| CgroupError::Invalid("cgroup2 mount not found".into()))?;
            // runc's rule on v2: a relative path goes under the parent of the runtime's own
            // cgroup, because the runtime's cgroup has processes (the runtime itself) and the
            // "no internal processes" rule would forbid enabling controllers in it.
            let own = layout::own_cgroup_v2()?;
            let base = own.parent().map(Path::to_path_buf).unwrap_or(own);
            let rel = join_relative(&base, &requested);
            Ok(Box::new(v2::V2Cgroup::new(mount.join(rel))))
        }
        Layout::Hybrid | Layout::Legacy => {
            let own = layout::own_cgroups()?;
            let mut controllers = BTreeMap::new();
            for (name, mount) in mounts.v1_controller_mounts() {
                let base = own
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from("/"));
                controllers.insert(name, mount.join(join_relative(&base, &requested)));
            }
            let unified = match mounts.unified_mount() {
                Some(mount) if mounts.layout() == Layout::Hybrid => {
                    let base = own.get("").cloned().unwrap_or_else(|| PathBuf::from("/"));
                    Some(mount.join(join_relative(&base, &requested)))
                }
                _ => None,
            };
            Ok(Box::new(v1::V1Cgroup::new(controllers, unified)))
        }
    }
}

/// Rejects `..` components: a cgroups path never climbs out of the hierarchy.
fn validate_path(p: &Path) -> Result<PathBuf> {
    use std::path::Component;
    if p.as_os_str().is_empty() {
        return Err(CgroupError::Invalid("path is empty".into()));
    }
    for c in p.components() {
        if matches!(c, Component::ParentDir) {
            return Err(CgroupError::Invalid(format!(
                "path {} must not contain \"..\"",
                p.display()
            )));
        }
    }
    Ok(p.to_path_buf())
}

/// `requested` relative to the hierarchy root: absolute paths as they are, relative ones under
/// `own` (the runtime's cgroup in that hierarchy). Returned without a leading `/`.
fn join_relative(own: &Path, requested: &Path) -> PathBuf {
    let full = if requested.is_absolute() {
        requested.to_path_buf()
    } else {
        own.join(requested)
    };
    full.strip_prefix("/")
        .map(Path::to_path_buf)
        .unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_goes_under_own_cgroup() {
        assert_eq!(
            join_relative(Path::new("/user.slice/x"), Path::new("rind/c1")),
            PathBuf::from("user.slice/x/rind/c1")
        );
    }

    #[test]
    fn absolute_path_ignores_own_cgroup() {
        assert_eq!(
            join_relative(Path::new("/user.slice"), Path::new("/machine/c1")),
            PathBuf::from("machine/c1")
        );
    }

    #[test]
    fn dotdot_in_cgroups_path_is_refused() {
        let err = validate_path(Path::new("/a/../../etc")).unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
    }
}
