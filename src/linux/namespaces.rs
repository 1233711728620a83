//! Namespaces: which ones the container gets, and how it enters them.
//!
//! The cheapest way into new namespaces is the clone itself: `clone3` with `CLONE_NEW*` flags
//! puts the child straight into them, including a new PID namespace, so no extra fork is
//! needed. That is the plan whenever the spec joins nothing by path, with one exception: a new
//! network namespace is the costliest to make (most of the clone: docs/benchmarks.md, cut 7),
//! so the child unshares it first thing, while the runtime completes the cgroup
//! in parallel, instead of the runtime making it inside the clone before either can go on (as
//! runc's init unshares its namespaces itself). Joining (`setns`) must
//! happen before new namespaces are created (so that they are owned by the right user
//! namespace), so a spec with paths gets a clone without flags, and the child joins, then
//! unshares. Joining a PID namespace, or a time namespace with offsets (which must be written
//! before any process is inside it), only affects children: those cost one more fork.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, LinuxTimeOffset, Spec};

use crate::error::{StepContext, SysError};

/// `CLONE_NEWTIME` is not in nix's `CloneFlags` (it collides with the signal byte of clone(2)
/// and works only with clone3 and unshare).
pub const CLONE_NEWTIME: u64 = 0x80;

/// The namespace work a container needs, decided once before the clone.
#[derive(Clone, Debug, Default)]
pub struct NamespacePlan {
    /// New namespaces created by the clone itself (clone3 flags, may include CLONE_NEWTIME).
    pub clone_flags: u64,
    /// Namespaces to join, by path, in the order they are joined.
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
    /// New namespaces the child creates with unshare(2) after joining.
    pub unshare_flags: u64,
    /// The child itself unshares a new user namespace (and asks for its id maps).
    pub user_in_child: bool,
    /// The child forks once more so that its child lands in a PID or time namespace.
    pub fork: bool,
    /// Which namespace types are private (new or joined) to the container.
    pub private: Vec<LinuxNamespaceType>,
    /// Which are new.
    pub new: Vec<LinuxNamespaceType>,
    pub uid_mappings: Vec<LinuxIdMapping>,
    pub gid_mappings: Vec<LinuxIdMapping>,
    pub time_offsets: HashMap<String, LinuxTimeOffset>,
}

/// A namespace configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("namespace {0} is listed twice")]
    Duplicate(String),
    #[error("a new user namespace needs linux.uidMappings and linux.gidMappings")]
    MissingMappings,
    #[error("linux.uidMappings/gidMappings are set but the spec has no user namespace")]
    MappingsWithoutUserNs,
    #[error("linux.timeOffsets are set but the spec has no new time namespace")]
    OffsetsWithoutTimeNs,
    #[error("linux.timeOffsets has unknown clock {0:?} (want monotonic or boottime)")]
    UnknownClock(String),
}

/// The clone flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> u64 {
    match t {
        LinuxNamespaceType::Time => CLONE_NEWTIME,
        other => other as i64 as u64,
    }
}

/// The `/proc/<pid>/ns/<name>` file name of a namespace type.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

impl NamespacePlan {
    /// Decides the plan for a spec, rejecting configurations that cannot work.
    pub fn from_spec(spec: &Spec) -> Result<Self, NamespaceError> {
        let mut plan = NamespacePlan::default();
        let Some(linux) = spec.linux() else {
            return Ok(plan);
        };
        let namespaces = linux.namespaces().clone().unwrap_or_default();
        let mut seen = Vec::new();
        for ns in &namespaces {
            if seen.contains(&ns.typ()) {
                return Err(NamespaceError::Duplicate(proc_name(ns.typ()).into()));
            }
            seen.push(ns.typ());
            plan.private.push(ns.typ());
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.joins.push((ns.typ(), p.clone())),
                _ => plan.new.push(ns.typ()),
            }
        }
        // Join everything else while still privileged in the caller's user namespace; join a
        // user namespace last.
        plan.joins
            .sort_by_key(|(t, _)| matches!(t, LinuxNamespaceType::User));

        plan.uid_mappings = linux.uid_mappings().clone().unwrap_or_default();
        plan.gid_mappings = linux.gid_mappings().clone().unwrap_or_default();
        let new_user = plan.is_new(LinuxNamespaceType::User);
        let has_maps = !plan.uid_mappings.is_empty() || !plan.gid_mappings.is_empty();
        if new_user && (plan.uid_mappings.is_empty() || plan.gid_mappings.is_empty()) {
            return Err(NamespaceError::MissingMappings);
        }
        if has_maps && !new_user {
            return Err(NamespaceError::MappingsWithoutUserNs);
        }
        plan.time_offsets = linux.time_offsets().clone().unwrap_or_default();
        for clock in plan.time_offsets.keys() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(NamespaceError::UnknownClock(clock.clone()));
            }
        }
        let new_time = plan.is_new(LinuxNamespaceType::Time);
        if !plan.time_offsets.is_empty() && !new_time {
            return Err(NamespaceError::OffsetsWithoutTimeNs);
        }

        // The cgroup namespace is always unshared by the child, after it is in its cgroup, so
        // that the namespace's root is the container's cgroup.
        let mut deferred = 0u64;
        if plan.is_new(LinuxNamespaceType::Cgroup) {
            deferred |= flag(LinuxNamespaceType::Cgroup);
        }
        let time_needs_fork = new_time && !plan.time_offsets.is_empty();
        let new_flags: u64 = plan
            .new
            .iter()
            .filter(|t| !matches!(t, LinuxNamespaceType::Cgroup))
            .map(|t| flag(*t))
            .fold(0, |a, b| a | b);
        if plan.joins.is_empty() && !time_needs_fork {
            // The child makes the network namespace itself: see the module's comment.
            let net = flag(LinuxNamespaceType::Network);
            plan.clone_flags = new_flags & !net;
            plan.unshare_flags = deferred | (new_flags & net);
        } else {
            plan.unshare_flags = new_flags | deferred;
            plan.user_in_child = new_user;
            let joins_pid = plan
                .joins
                .iter()
                .any(|(t, _)| matches!(t, LinuxNamespaceType::Pid));
            plan.fork = joins_pid || plan.is_new(LinuxNamespaceType::Pid) || new_time;
        }
        Ok(plan)
    }

    /// True if the container gets a new namespace of this type.
    pub fn is_new(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }

    /// True if the container does not share this namespace with the runtime.
    pub fn is_private(&self, t: LinuxNamespaceType) -> bool {
        self.private.contains(&t)
    }

    /// True if the clone itself creates a new user namespace (the runtime then writes the id
    /// maps right after the clone).
    pub fn user_in_clone(&self) -> bool {
        self.clone_flags & flag(LinuxNamespaceType::User) != 0
    }
}

/// Opens every namespace file to join. Done before the first setns, because joining a mount
/// namespace changes what the paths mean.
pub fn open_joins(plan: &NamespacePlan) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>, SysError> {
    plan.joins
        .iter()
        .map(|(t, path)| {
            open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map(|fd| (*t, fd))
                .step(|| format!("open {} namespace {}", proc_name(*t), path.display()))
        })
        .collect()
}

/// Joins each opened namespace, in order.
///
/// Root joins the user namespace last, keeping its host privilege for namespaces that user
/// namespace does not own. An ordinary user (rootless) has no privilege over the others until
/// it is in the user namespace that owns them, so it joins that one first, as runc always does.
pub fn join(mut fds: Vec<(LinuxNamespaceType, OwnedFd)>) -> Result<(), SysError> {
    if !nix::unistd::geteuid().is_root()
        && let Some(i) = fds.iter().position(|(t, _)| *t == LinuxNamespaceType::User)
    {
        let user = fds.remove(i);
        fds.insert(0, user);
    }
    for (t, fd) in fds {
        setns(&fd, CloneFlags::from_bits_retain(flag(t) as i32))
            .step(|| format!("join {} namespace", proc_name(t)))?;
    }
    Ok(())
}

/// unshare(2) with flags that may include `CLONE_NEWTIME`.
pub fn unshare_flags(flags: u64) -> Result<(), SysError> {
    if flags == 0 {
        return Ok(());
    }
    unshare(CloneFlags::from_bits_retain(flags as i32))
        .step(|| format!("unshare namespaces {}", describe(flags)))
}

/// Writes the time namespace's clock offsets. Must run after unshare(CLONE_NEWTIME) and before
/// any process enters the namespace.
pub fn write_time_offsets(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<(), SysError> {
    let mut text = String::new();
    for (clock, off) in offsets {
        let secs = off.secs().unwrap_or(0);
        let nanos = off.nanosecs().unwrap_or(0);
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    super::procfs::write_self("timens_offsets", text.as_bytes())
}

/// The `uid_map`/`gid_map` text for a list of mappings.
pub fn id_map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Namespace flags as names, for messages and traces.
pub fn describe(flags: u64) -> String {
    use LinuxNamespaceType::*;
    let names: Vec<&str> = [User, Mount, Pid, Network, Ipc, Uts, Cgroup, Time]
        .into_iter()
        .filter(|t| flags & flag(*t) != 0)
        .map(proc_name)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": json
        }))
        .unwrap()
    }

    #[test]
    fn new_namespaces_go_into_the_clone_without_extra_fork() {
        let s = spec(serde_json::json!({"namespaces": [
            {"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "network"}]}));
        let p = NamespacePlan::from_spec(&s).unwrap();
        assert_eq!(describe(p.clone_flags), "mnt,pid");
        // The child unshares the network namespace while the runtime completes the cgroup.
        assert_eq!(describe(p.unshare_flags), "net,cgroup");
        assert!(!p.fork);
        assert!(!p.user_in_child);
    }

    #[test]
    fn a_new_user_namespace_stays_in_the_clone_and_owns_the_network_namespace() {
        let s = spec(serde_json::json!({"namespaces": [
            {"type": "user"}, {"type": "network"}, {"type": "mount"}],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}));
        let p = NamespacePlan::from_spec(&s).unwrap();
        // Unshared by the child inside the new user namespace, which then owns it.
        assert_eq!(describe(p.clone_flags), "user,mnt");
        assert_eq!(describe(p.unshare_flags), "net");
        assert!(p.user_in_clone() && !p.user_in_child && !p.fork);
    }

    #[test]
    fn joining_by_path_moves_new_namespaces_to_the_child() {
        let s = spec(serde_json::json!({"namespaces": [
            {"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}]}));
        let p = NamespacePlan::from_spec(&s).unwrap();
        assert_eq!(p.clone_flags, 0);
        assert_eq!(describe(p.unshare_flags), "pid");
        assert!(p.fork, "a new pid namespace made by unshare needs a fork");
    }

    #[test]
    fn user_namespace_is_joined_last() {
        let s = spec(serde_json::json!({"namespaces": [
            {"type": "user", "path": "/proc/1/ns/user"},
            {"type": "network", "path": "/proc/1/ns/net"}]}));
        let p = NamespacePlan::from_spec(&s).unwrap();
        assert_eq!(p.joins.last().unwrap().0, LinuxNamespaceType::User);
    }

    #[test]
    fn new_user_namespace_without_mappings_is_refused() {
        let s = spec(serde_json::json!({"namespaces": [{"type": "user"}]}));
        assert!(matches!(
            NamespacePlan::from_spec(&s),
            Err(NamespaceError::MissingMappings)
        ));
    }

    #[test]
    fn duplicate_namespace_is_refused() {
        let s = spec(serde_json::json!({"namespaces": [{"type": "pid"}, {"type": "pid"}]}));
        assert!(NamespacePlan::from_spec(&s).is_err());
    }

    #[test]
    fn time_offsets_force_a_fork() {
        let s = spec(serde_json::json!({"namespaces": [{"type": "time"}],
            "timeOffsets": {"monotonic": {"secs": 100}}}));
        let p = NamespacePlan::from_spec(&s).unwrap();
        assert!(p.fork);
        assert_eq!(p.unshare_flags & CLONE_NEWTIME, CLONE_NEWTIME);
    }

    #[test]
    fn id_maps_are_one_line_each() {
        let m: Vec<LinuxIdMapping> = serde_json::from_value(serde_json::json!([
            {"containerID": 0, "hostID": 100000, "size": 65536}]))
        .unwrap();
        assert_eq!(id_map_text(&m), "0 100000 65536\n");
    }
}
