//! What rind keeps about a container (`<root>/<id>/state.json`), and its status, derived from
//! the live process rather than stored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupPaths;
use crate::sys::proc_stat;

/// The container's status, as the OCI runtime spec names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The stored state of one container.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// Host pid of the container's init; 0 until it is known.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/<pid>/stat), so that a recycled pid is never
    /// taken for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 time of creation.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: CgroupPaths,
    /// True once `create` finished; before that the container is `creating`.
    pub create_finished: bool,
    /// The container has its own PID namespace: killing init kills everything in it.
    pub private_pid_ns: bool,
    /// The systemd scope the cgroup belongs to, with `--systemd-cgroup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<crate::cgroups::systemd::SystemdUnit>,
}

/// The OCI state document that `state`, `list` and hooks print (runc's fields).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

impl State {
    /// The OCI state document for a given status. A stopped container reports pid 0.
    pub fn oci(&self, status: Status) -> OciState {
        OciState {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// True if `pid` is the same live process that started at `start_time` (zombies count as
/// exited).
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    proc_stat(pid).is_some_and(|s| s.start_time == start_time && s.state != 'Z' && s.state != 'X')
}

/// Waits (up to 10 s) until the process is gone or a zombie; returns whether it is.
pub fn wait_gone(pid: i32, start_time: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut delay = std::time::Duration::from_micros(100);
    while is_alive(pid, start_time) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_millis(20));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let st = proc_stat(me).unwrap();
        assert!(is_alive(me, st.start_time));
        assert!(!is_alive(me, st.start_time + 1));
    }

    #[test]
    fn stopped_state_reports_pid_zero() {
        let s = State {
            oci_version: "1.2.0".into(),
            id: "x".into(),
            pid: 42,
            init_start_time: 1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroup: CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/x".into(),
            },
            create_finished: true,
            private_pid_ns: true,
            systemd: None,
        };
        assert_eq!(s.oci(Status::Stopped).pid, 0);
        assert_eq!(s.oci(Status::Running).pid, 42);
        let json = serde_json::to_value(s.oci(Status::Running)).unwrap();
        assert_eq!(json["status"], "running");
        assert_eq!(json["ociVersion"], "1.2.0");
    }
}
