//! The runtime's side of starting init: the clone, the cgroup placement, the id maps, the
//! hooks that run in the runtime's namespaces, and the wait for init to be ready.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::InitConfig;
use super::channel::{self, InitEnd, RuntimeEnd, ToInit, ToRuntime};
use super::clone::{Forked, clone3};
use super::{fds, init};
use crate::cgroups::{Cgroup, CgroupError};
use crate::error::SysError;
use crate::linux::namespaces::{self, NamespacePlan, describe};
use crate::linux::procfs;
use crate::sys::proc_stat;
use crate::sys::trace;

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

/// A started, ready child: init blocked on the exec FIFO (or about to be), or an exec'd process
/// about to execve.
#[derive(Debug)]
pub struct Launched {
    pub pid: Pid,
    pub start_time: u64,
    /// The clone's pid, which is init itself unless init was forked once more (PID/time
    /// namespace): then it is the already reaped intermediate.
    pub cloned: Pid,
    /// The channel, still to be read to its end ([`Launched::confirm_exec`]).
    pending: Option<(RuntimeEnd, AfterReady)>,
}

/// What the child still does after `Ready` that can fail, and so what the runtime waits for
/// ([`Launched::confirm_exec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterReady {
    /// Nothing: `Ready` is the last word (init that waits on exec.fifo itself).
    Nothing,
    /// An execve that closes the channel, after which the process keeps running (init's
    /// execveat of the exec stub, which then waits on exec.fifo): end of file on the channel
    /// while the process still has an address space is success.
    ExecThenWait,
    /// An execve that closes the channel, after which the program may exit at once (`exec`):
    /// end of file without a `Failed` before it is success.
    Exec,
}

/// The descriptors a child keeps from the runtime: stdio, the `preserve` fds after it (the
/// caller's `--preserve-fds`), the channel, and `keep`. Everything else is closed right after
/// the clone (see [`super::fds`]).
pub struct ChildFds<'a> {
    pub preserve: u32,
    pub keep: &'a [RawFd],
}

/// Clones the container's init and drives it until it waits on the exec FIFO (with the exec
/// stub: until [`Launched::confirm_exec`]).
pub fn launch(
    cfg: &InitConfig,
    cgroup: &dyn Cgroup,
    events: &mut dyn LaunchEvents,
) -> Result<Launched, LaunchError> {
    let mut keep = vec![cfg.fifo.as_raw_fd()];
    keep.extend(cfg.console_socket.as_ref().map(AsRawFd::as_raw_fd));
    keep.extend(cfg.exec_stub.as_ref().map(AsRawFd::as_raw_fd));
    let fds = ChildFds {
        preserve: cfg.preserve_fds,
        keep: &keep,
    };
    let after_ready = match cfg.exec_stub {
        Some(_) => AfterReady::ExecThenWait,
        None => AfterReady::Nothing,
    };
    spawn(cfg.plan, cgroup, events, &fds, after_ready, |end| {
        init::main(cfg, end)
    })
}

/// Clones a child that runs `child` with its end of the channel (`child` ends the process
/// itself, by execve or _exit), and drives it through the protocol until it reports `Ready`.
/// On failure the child is killed and reaped; the caller removes the cgroup and the state.
pub fn spawn(
    plan: &NamespacePlan,
    cgroup: &dyn Cgroup,
    events: &mut dyn LaunchEvents,
    fds: &ChildFds,
    after_ready: AfterReady,
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
            // First of all, the runtime's descriptors go (CVE-2024-21626): the state
            // directory's lock, the cgroup directory, the caller's leaked ones.
            let mut keep = fds.keep.to_vec();
            keep.push(init_end.as_fd().as_raw_fd());
            if let Err(e) = fds::close_from_except(3 + fds.preserve as RawFd, &keep) {
                let message = e.to_string();
                let _ = init_end.report_failure(message);
                // SAFETY: the child must never return into the runtime's code.
                unsafe { libc::_exit(1) }
            }
            trace::forward_to(init_end.as_fd().as_raw_fd(), encode_trace);
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
            let pending = match after_ready {
                AfterReady::Nothing => {
                    // Traced: init's steps after `create` (the release by `start`, the
                    // execve) still come over the channel; a foreground `run` reads them until
                    // execve closes it.
                    keep_init_channel(runtime_end);
                    None
                }
                wait => Some((runtime_end, wait)),
            };
            Ok(Launched {
                pid: init_pid,
                start_time,
                cloned,
                pending,
            })
        }
        Err(e) => {
            abandon(init_pid, cloned);
            Err(e)
        }
    }
}

/// A step init traced, as the channel's `Trace` message ([`trace::forward_to`]).
fn encode_trace(nanos: u64, step: String) -> Option<Vec<u8>> {
    serde_json::to_vec(&ToRuntime::Trace { nanos, step }).ok()
}

/// In the runtime, when tracing: its end of init's channel, kept after `create` is done.
static KEPT_CHANNEL: Mutex<Option<RuntimeEnd>> = Mutex::new(None);

/// When tracing, keeps the runtime's end of init's channel after setup, for
/// [`follow_init_to_exec`]; otherwise drops it.
fn keep_init_channel(chan: RuntimeEnd) {
    if trace::clock().is_some()
        && let Ok(mut kept) = KEPT_CHANNEL.lock()
    {
        *kept = Some(chan);
    }
}

/// Files the steps init reports after `start` released it, until its channel closes: the
/// channel is close-on-exec, so the close is the moment of the successful execve (or of
/// init's exit, if the exec failed). Does nothing when tracing is off or no channel was kept.
pub fn follow_init_to_exec() {
    let Some(chan) = KEPT_CHANNEL.lock().ok().and_then(|mut k| k.take()) else {
        return;
    };
    loop {
        match chan.recv() {
            Ok(Some(ToRuntime::Trace { nanos, step })) => trace::record_init(nanos, step),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    trace::mark(|| "init's channel closed (the execve)".into());
}

/// Writes the child's uid and gid maps from the runtime side, through the runtime's procfs
/// handle ([`procfs`](crate::linux::procfs)). A runtime that is not root writes them the
/// rootless way (`rootless/idmap.rs`).
fn write_id_maps(pid: Pid, plan: &NamespacePlan) -> Result<(), SysError> {
    if !nix::unistd::geteuid().is_root() {
        return crate::rootless::idmap::write(pid, &plan.uid_mappings, &plan.gid_mappings);
    }
    let pid = pid.as_raw();
    let text = namespaces::id_map_text;
    procfs::write_pid(pid, "uid_map", text(&plan.uid_mappings).as_bytes())?;
    procfs::write_pid(pid, "gid_map", text(&plan.gid_mappings).as_bytes())
}

/// Kills the child and reaps the process the runtime cloned.
fn abandon(pid: Pid, cloned: Pid) {
    let _ = kill(pid, Signal::SIGKILL);
    if pid != cloned {
        let _ = kill(cloned, Signal::SIGKILL);
    }
    let _ = waitpid(cloned, None);
}

impl Launched {
    /// Reads the channel to its end: what the child does after `Ready` (see [`AfterReady`])
    /// either fails with the child's reason, or succeeds. The caller overlaps its own
    /// bookkeeping with the child's execve by calling this after it. On failure the child is
    /// killed and reaped.
    pub fn confirm_exec(&mut self) -> Result<(), LaunchError> {
        let Some((chan, after)) = self.pending.take() else {
            return Ok(());
        };
        let outcome = read_to_end(&chan, after, self.pid, self.cloned);
        if outcome.is_err() {
            abandon(self.pid, self.cloned);
        }
        trace::mark(|| "the child executed (its channel closed)".into());
        outcome
    }
}

fn read_to_end(
    chan: &RuntimeEnd,
    after: AfterReady,
    pid: Pid,
    cloned: Pid,
) -> Result<(), LaunchError> {
    loop {
        match chan.recv()? {
            Some(ToRuntime::Trace { nanos, step }) => trace::record_init(nanos, step),
            Some(ToRuntime::Failed { message }) => return Err(LaunchError::Init(message)),
            Some(other) => return Err(LaunchError::Protocol(other)),
            None if after == AfterReady::ExecThenWait => {
                // The channel closes at the execve (close-on-exec) or at exit. A process
                // that exited has no address space left by the time its descriptors close,
                // so its exe link is gone; one that executed has the new program's.
                return match std::fs::read_link(format!("/proc/{pid}/exe")) {
                    Ok(_) => Ok(()),
                    Err(_) if pid == cloned => Err(LaunchError::InitDied(exit_status(cloned))),
                    Err(_) => Err(LaunchError::InitDied("it exited".into())),
                };
            }
            None => return Ok(()),
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
        write_id_maps(cloned, plan)?;
        trace::mark(|| "wrote uid_map and gid_map".into());
        chan.send(&ToInit::Proceed)
            .map_err(|e| failure_or(e, chan, cloned))?;
    }
    events.complete_cgroup()?;
    let task_files = cgroup.task_files()?;
    let raw: Vec<_> = task_files.iter().map(AsRawFd::as_raw_fd).collect();
    // Init sets up while the runtime completes the cgroup: it may have failed and gone
    // already, and then its own message says why.
    chan.send_with_fds(&ToInit::CgroupReady, &raw)
        .map_err(|e| failure_or(e, chan, cloned))?;
    drop(task_files);
    let start_time = |pid: Pid| proc_stat(pid.as_raw()).map(|s| s.start_time).unwrap_or(0);
    if !plan.fork {
        events.init_pid_known(cloned, start_time(cloned))?;
    }
    // With an extra fork, the intermediate reports the pid while the child goes on: the
    // child's next messages can come first. They wait until the pid is known (the hooks, the
    // seccomp agent and `Ready` must name the right process).
    let mut pid_known = !plan.fork;
    let mut deferred = std::collections::VecDeque::new();
    loop {
        let next = match pid_known {
            true if !deferred.is_empty() => deferred.pop_front(),
            _ => chan.recv_with_fd()?,
        };
        let (msg, fd) = match next {
            Some(m) => m,
            None => return Err(LaunchError::InitDied(exit_status(cloned))),
        };
        if !pid_known && !matches!(msg, ToRuntime::InitPid { .. } | ToRuntime::Failed { .. }) {
            deferred.push_back((msg, fd));
            continue;
        }
        match msg {
            ToRuntime::IdMapRequest => {
                write_id_maps(cloned, plan)?;
                trace::mark(|| "wrote uid_map and gid_map".into());
                chan.send(&ToInit::IdMapsWritten)
                    .map_err(|e| failure_or(e, chan, cloned))?;
            }
            ToRuntime::InitPid { pid } => {
                pid_known = true;
                *init_pid = Pid::from_raw(pid);
                let _ = waitpid(cloned, None);
                events.init_pid_known(*init_pid, start_time(*init_pid))?;
            }
            ToRuntime::IdMappedMountRequest { index } => {
                let tree = events.idmapped_mount(index, fd)?;
                trace::mark(|| format!("made id-mapped mount {index} for init"));
                chan.send_with_fd(&ToInit::IdMappedMount, &tree)
                    .map_err(|e| failure_or(e, chan, cloned))?;
            }
            ToRuntime::MountsReady => {
                let state = events.mounts_ready(*init_pid)?;
                chan.send(&ToInit::HooksDone { state })
                    .map_err(|e| failure_or(e, chan, cloned))?;
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

/// The error for a send that failed, `e`; or, when the way it failed says init is gone (its
/// end closed: EPIPE, or ECONNRESET when it left a message of ours unread), why init went
/// (see [`init_failure`]), which is the error the user needs.
fn failure_or(e: SysError, chan: &RuntimeEnd, cloned: Pid) -> LaunchError {
    use nix::errno::Errno;
    let gone = matches!(e.cause.errno(), Some(Errno::EPIPE | Errno::ECONNRESET));
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
