//! The runtime's side of starting init: the clone, the cgroup placement, the id maps, the
//! hooks that run in the runtime's namespaces, and the wait for init to be ready.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::InitConfig;
use super::channel::{self, InitEnd, RuntimeEnd, ToInit, ToRuntime};
use super::clone::{Forked, clone3};
use super::{init, trace};
use crate::cgroups::{Cgroup, CgroupError};
use crate::container::state::proc_stat;
use crate::error::SysError;
use crate::linux::namespaces::{self, NamespacePlan, describe};

/// Why init could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A step inside init failed; the message names it.
    #[error("{0}")]
    Init(String),
    #[error("container init exited during setup ({0})")]
    InitDied(String),
    #[error("unexpected message from init: {0:?}")]
    Protocol(ToRuntime),
    /// A callback (state write, hooks) failed.
    #[error(transparent)]
    Callback(#[from] anyhow::Error),
}

/// What the caller does at the points where the runtime must act during setup.
pub trait LaunchEvents {
    /// Init's host pid is known: record it, so that a runtime that dies now leaves a container
    /// that `delete --force` can find.
    fn init_pid_known(&mut self, pid: Pid, start_time: u64) -> anyhow::Result<()>;
    /// Init runs: complete its cgroup (what the clone did not need) and apply the limits,
    /// while init sets up its namespaces and mounts. Init joins only after this returned.
    fn complete_cgroup(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Init's mounts are done, before pivot_root: run the prestart and createRuntime hooks.
    /// Returns the state document to pass to the hooks init runs itself.
    fn mounts_ready(&mut self, pid: Pid) -> anyhow::Result<serde_json::Value>;
    /// Init installed a seccomp filter with user notification: hand the listener to the
    /// agent at `listenerPath`.
    fn seccomp_listener(&mut self, pid: Pid, listener: OwnedFd) -> anyhow::Result<()>;
    /// Init asks for the id-mapped mount of spec mount `index`, which only the runtime can
    /// make; `container_userns` is init's user namespace, when it has one of its own.
    fn idmapped_mount(
        &mut self,
        index: usize,
        container_userns: Option<OwnedFd>,
    ) -> anyhow::Result<OwnedFd>;
    /// Descriptors the child closes first thing: the container's state lock. A `flock` belongs
    /// to the open file, which the clone shares; were the child to keep it, a runtime killed
    /// during `create` would leave the lock held by its orphaned init, and every later command
    /// on the id (`delete --force` first) would wait for that init to go.
    fn child_closes(&self) -> Vec<RawFd> {
        Vec::new()
    }
}

/// A started, ready, blocked init.
#[derive(Debug, Clone, Copy)]
pub struct Launched {
    pub pid: Pid,
    pub start_time: u64,
    /// The clone's pid, which is init itself unless init was forked once more (PID/time
    /// namespace): then it is the already reaped intermediate.
    pub cloned: Pid,
}

/// Clones the container's init and drives it until it waits on the exec FIFO.
pub fn launch(
    cfg: &InitConfig,
    cgroup: &dyn Cgroup,
    events: &mut dyn LaunchEvents,
) -> Result<Launched, LaunchError> {
    spawn(cfg.plan, cgroup, events, |end| init::main(cfg, end))
}

/// Clones a child that runs `child` with its end of the channel (`child` ends the process
/// itself, by execve or _exit), and drives it through the protocol until it reports `Ready`. On failure the child is killed and reaped; the caller
/// removes the cgroup and the state.
pub fn spawn(
    plan: &NamespacePlan,
    cgroup: &dyn Cgroup,
    events: &mut dyn LaunchEvents,
    child: impl FnOnce(InitEnd),
) -> Result<Launched, LaunchError> {
    let (runtime_end, init_end) = channel::pair()?;
    // `Proceed` waits for init in the socket already, unless the clone makes a user namespace
    // whose maps the runtime must write first: init need not wait for the runtime to come back
    // from the clone.
    if !plan.user_in_clone() {
        runtime_end.send(&ToInit::Proceed)?;
    }
    let child_closes = events.child_closes();
    let cgroup_fd = cgroup.clone_fd();
    trace::mark(|| format!("clone3 (namespaces: {})", describe(plan.clone_flags)));
    let (cloned, in_cgroup) = match clone3(plan.clone_flags, cgroup_fd.as_ref())? {
        Forked::Child => {
            for fd in child_closes {
                // SAFETY: the child's copy of a descriptor only the runtime uses.
                unsafe { libc::close(fd) };
            }
            drop(runtime_end);
            trace::forward_to_runtime(&init_end);
            child(init_end);
            // SAFETY: the child must never return into the runtime's code.
            unsafe { libc::_exit(127) }
        }
        Forked::Parent { pid, in_cgroup } => (pid, in_cgroup),
    };
    drop(init_end);
    drop(cgroup_fd);
    trace::mark(|| format!("cloned init pid {cloned} (into cgroup: {in_cgroup})"));

    let mut init_pid = cloned;
    let result = drive(
        plan,
        cgroup,
        events,
        &runtime_end,
        cloned,
        in_cgroup,
        &mut init_pid,
    );
    match result {
        Ok(start_time) => {
            // Traced: init's steps after `create` (the release by `start`, the execve) still
            // come over the channel; a foreground `run` reads them until execve closes it.
            trace::keep_init_channel(runtime_end);
            Ok(Launched {
                pid: init_pid,
                start_time,
                cloned,
            })
        }
        Err(e) => {
            let _ = kill(init_pid, Signal::SIGKILL);
            if init_pid != cloned {
                let _ = kill(cloned, Signal::SIGKILL);
            }
            let _ = waitpid(cloned, None);
            Err(e)
        }
    }
}

fn drive(
    plan: &NamespacePlan,
    cgroup: &dyn Cgroup,
    events: &mut dyn LaunchEvents,
    chan: &RuntimeEnd,
    cloned: Pid,
    in_cgroup: bool,
    init_pid: &mut Pid,
) -> Result<u64, LaunchError> {
    cgroup.add_after_clone(cloned, in_cgroup)?;
    if !in_cgroup {
        trace::mark(|| "placed init in the cgroup the clone could not".into());
    }
    if plan.user_in_clone() {
        namespaces::write_id_maps(cloned, plan)?;
        trace::mark(|| "wrote uid_map and gid_map".into());
        chan.send(&ToInit::Proceed)?;
    }
    events.complete_cgroup()?;
    let task_files = cgroup.task_files()?;
    let raw: Vec<_> = task_files.iter().map(AsRawFd::as_raw_fd).collect();
    if let Err(e) = chan.send_with_fds(&ToInit::CgroupReady, &raw) {
        // Init sets up while the runtime completes the cgroup: it may have failed and gone
        // already, and then its own message says why.
        let gone = e.cause.errno() == Some(nix::errno::Errno::EPIPE);
        return Err(failure_or(e, gone, chan, cloned));
    }
    drop(task_files);
    let start_time = |pid: Pid| proc_stat(pid.as_raw()).map(|s| s.start_time).unwrap_or(0);
    if !plan.fork {
        events.init_pid_known(cloned, start_time(cloned))?;
    }
    loop {
        let (msg, fd) = match chan.recv_with_fd()? {
            Some(m) => m,
            None => return Err(LaunchError::InitDied(exit_status(cloned))),
        };
        match msg {
            ToRuntime::IdMapRequest => {
                namespaces::write_id_maps(cloned, plan)?;
                trace::mark(|| "wrote uid_map and gid_map".into());
                chan.send(&ToInit::IdMapsWritten)?;
            }
            ToRuntime::InitPid { pid } => {
                *init_pid = Pid::from_raw(pid);
                let _ = waitpid(cloned, None);
                events.init_pid_known(*init_pid, start_time(*init_pid))?;
            }
            ToRuntime::IdMappedMountRequest { index } => {
                let tree = events.idmapped_mount(index, fd)?;
                trace::mark(|| format!("made id-mapped mount {index} for init"));
                chan.send_with_fd(&ToInit::IdMappedMount, &tree)?;
            }
            ToRuntime::MountsReady => {
                let state = events.mounts_ready(*init_pid)?;
                chan.send(&ToInit::HooksDone { state })?;
            }
            ToRuntime::Ready => {
                trace::mark(|| "init ready, waiting on exec.fifo".into());
                return Ok(start_time(*init_pid));
            }
            ToRuntime::Failed { message } => return Err(LaunchError::Init(message)),
            ToRuntime::Trace { nanos, step } => trace::record_init(nanos, step),
            ToRuntime::SeccompListener => match fd {
                Some(fd) => events.seccomp_listener(*init_pid, fd)?,
                None => return Err(LaunchError::Protocol(ToRuntime::SeccompListener)),
            },
        }
    }
}

/// The error for a step that failed, `e`; or, when the way it failed says init is `gone`, why
/// init went (see [`init_failure`]), which is the error the user needs.
fn failure_or(e: SysError, gone: bool, chan: &RuntimeEnd, cloned: Pid) -> LaunchError {
    gone.then(|| init_failure(chan, cloned))
        .flatten()
        .unwrap_or(e.into())
}

/// Why init is gone, from what it sent before it went: its `Failed` message, or how it ended.
/// None if the channel holds no sign of it having gone.
fn init_failure(chan: &RuntimeEnd, cloned: Pid) -> Option<LaunchError> {
    loop {
        match chan.recv_with_fd() {
            Ok(Some((ToRuntime::Failed { message }, _))) => {
                return Some(LaunchError::Init(message));
            }
            Ok(Some((ToRuntime::Trace { nanos, step }, _))) => trace::record_init(nanos, step),
            Ok(Some(_)) => continue,
            Ok(None) => return Some(LaunchError::InitDied(exit_status(cloned))),
            Err(_) => return None,
        }
    }
}

/// How the cloned process ended, for the error when it died without a message.
fn exit_status(pid: Pid) -> String {
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("wait: {e}"),
    }
}
