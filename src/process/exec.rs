//! `exec`: a new process inside a running container. It joins the container's cgroup (at the
//! clone) and namespaces, and then goes through the same privilege steps as the container's
//! init ([`program::prepare`]), without any of init's filesystem work.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use nix::unistd::{ForkResult, Pid, fork};
use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::channel::{InitEnd, ToInit, ToRuntime};
use super::init::{become_root_in_userns, reset_signals, set_dumpable};
use super::program::{self, ProgramError};

use crate::error::{StepContext, SysError};
use crate::linux::namespaces::{self, NamespacePlan, proc_name};
use crate::linux::seccomp::Program as Filter;
use crate::linux::terminal;

/// What the exec'd process needs; inherited by the clone like [`super::InitConfig`].
pub struct ExecConfig {
    /// The container's init, whose namespaces are joined.
    pub target: Pid,
    /// The container's private namespace types (joined in this order, user last).
    pub namespaces: Vec<LinuxNamespaceType>,
    pub process: Process,
    pub seccomp: Option<Filter>,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
}

impl ExecConfig {
    /// The namespace plan: join each of the container's namespaces by its /proc path; fork
    /// once if that includes a PID or time namespace (they apply to children only).
    pub fn plan(&self) -> NamespacePlan {
        let mut joins: Vec<(LinuxNamespaceType, PathBuf)> = self
            .namespaces
            .iter()
            .map(|t| {
                let name = proc_name(*t);
                (
                    *t,
                    PathBuf::from(format!("/proc/{}/ns/{name}", self.target)),
                )
            })
            .collect();
        joins.sort_by_key(|(t, _)| matches!(t, LinuxNamespaceType::User));
        let fork = self
            .namespaces
            .iter()
            .any(|t| matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time));
        NamespacePlan {
            joins,
            fork,
            private: self.namespaces.clone(),
            ..NamespacePlan::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ExecError {
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error(transparent)]
    Program(#[from] ProgramError),
}

/// Runs in the cloned child; never returns.
pub fn child_main(cfg: &ExecConfig, plan: &NamespacePlan, chan: InitEnd) -> ! {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(cfg, plan, &chan)));
    let message = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e.to_string(),
        Err(_) => "exec panicked".to_string(),
    };
    if chan.report_failure(message.clone()).is_err() {
        eprintln!("rind exec: {message}");
    }
    // SAFETY: leave without running the runtime's exit handlers.
    unsafe { libc::_exit(1) }
}

fn run(
    cfg: &ExecConfig,
    plan: &NamespacePlan,
    chan: &InitEnd,
) -> Result<std::convert::Infallible, ExecError> {
    reset_signals();
    // Non-dumpable before it joins anything (CVE-2016-9962): once in the container's PID
    // namespace, no process of the container may ptrace it or open its /proc/<pid>/{exe,fd,
    // mem} until it executes the program.
    set_dumpable(false)?;
    // In the container's cgroup once the runtime says so; then its namespaces, user last.
    chan.expect_only("wait for the runtime to proceed", ToInit::Proceed)?;
    let requests = chan.join_cgroup()?;
    let fds = namespaces::open_joins(plan)?;
    namespaces::join(fds)?;
    if plan.is_private(LinuxNamespaceType::User) {
        become_root_in_userns()?;
    }
    if plan.fork {
        // SAFETY: single-threaded; the child continues with plain code.
        match unsafe { fork() }.step(|| "fork into the container's pid namespace".to_string())? {
            ForkResult::Parent { child } => {
                let _ = requests.send(&ToRuntime::InitPid {
                    pid: child.as_raw(),
                });
                // SAFETY: leave without running the runtime's exit handlers.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Child => {}
        }
    }
    let terminal = cfg.process.terminal().unwrap_or(false);
    if terminal {
        let socket = cfg.console_socket.as_ref().ok_or_else(|| {
            SysError::new(
                "allocate a terminal: no console socket",
                nix::errno::Errno::EINVAL,
            )
        })?;
        let socket = socket
            .try_clone()
            .step(|| "dup console socket".to_string())?;
        terminal::setup_terminal(socket, cfg.process.console_size(), false)?;
    } else {
        // A session of its own, as runc gives every container process: `kill(0, ...)` inside
        // must not reach the caller's process group (conmon's, under podman).
        nix::unistd::setsid().step(|| "setsid".to_string())?;
    }
    // The container's root is this process's root since it joined the mount namespace:
    // `prepare` resolves the cwd and the program under it, with only stdio, the preserved fds
    // and the channel (a socket) open.
    let keep = [chan.as_fd().as_raw_fd()];
    let setup = program::Setup {
        process: &cfg.process,
        seccomp: cfg.seccomp.as_ref(),
        preserve_fds: cfg.preserve_fds,
        keep: &keep,
        own_terminal: terminal,
    };
    let prepared = program::prepare(&setup, &requests)?;
    // The runtime reads on to the channel's end (the execve): what fails from here on
    // arrives as `Failed`.
    requests.ready()?;
    prepared.finish(program::Route::Direct)?;
    // `exec` re-executed rind sealed at its start: no stub. The channel is close-on-exec: its
    // end of file tells the runtime the execve happened; a failed one is reported over it.
    Err(prepared.exec(program::Route::Direct).into())
}
