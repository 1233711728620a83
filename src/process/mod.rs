//! Starting the container's init: the runtime side ([`launch`]), the init side ([`init`]),
//! the channel between them ([`channel`]), and the exec FIFO that holds init between `create`
//! and `start` ([`fifo`]).

pub mod channel;
mod clone;
mod cwd;
pub mod exec;
pub mod exec_stub;
pub mod fds;
pub mod fifo;
mod init;
mod launch;
mod program;
pub mod sealed_exe;
mod stdio;
pub mod supervise;

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::Spec;

use crate::cgroups::CgroupPaths;
use crate::linux::namespaces::NamespacePlan;

pub use launch::{
    AfterReady, ChildFds, LaunchError, LaunchEvents, Launched, follow_init_to_exec, launch, spawn,
};

/// Everything the container's init needs. Built by the runtime before the clone; the child
/// inherits it as a copy of the runtime's memory, so nothing is serialized.
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub plan: &'a NamespacePlan,
    pub cgroup: CgroupPaths,
    /// The host's cgroup mounts, as the runtime read them (for the container's cgroup mount).
    pub cgroup_mounts: crate::cgroups::MountInfo,
    /// `--no-pivot`: MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Give the container a new session keyring, so it cannot read the caller's keys.
    pub new_keyring: bool,
    /// Number of fds after stdio that the process keeps (`--preserve-fds`).
    pub preserve_fds: u32,
    /// Connected `--console-socket`, when the process wants a terminal.
    pub console_socket: Option<OwnedFd>,
    /// The exec FIFO, opened read-write: init blocks reading it until `start` writes.
    pub fifo: OwnedFd,
    /// The compiled seccomp filter, installed by init (before the user switch without
    /// no_new_privs, last before execve with it).
    pub seccomp: Option<crate::linux::seccomp::Program>,
    /// The sealed exec stub init executes the program through ([`exec_stub`]); None when rind
    /// re-executed itself sealed instead.
    pub exec_stub: Option<std::os::fd::OwnedFd>,
    /// An overlayfs to mount on the rootfs first (see `linux::overlay`).
    pub root_overlay: Option<&'a crate::linux::overlay::Overlay>,
}
