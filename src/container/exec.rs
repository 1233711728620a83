//! `exec`: start another process in a running container.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::identity::Init;
use super::state::Status;
use super::{Container, LifecycleError};
use crate::linux::namespaces::NamespacePlan;
use crate::linux::seccomp;
use crate::linux::terminal::ConsoleSocket;
use crate::process::exec::{ExecConfig, child_main};
use crate::process::{AfterReady, ChildFds, LaunchEvents, spawn};
use crate::spec;
use crate::sys::trace;

/// What `exec` takes besides the container id.
pub struct ExecOptions {
    /// The complete process (from `--process` or built from the container's own process and
    /// the command-line flags).
    pub process: Process,
    pub console_socket: Option<ConsoleSocket>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// Allow exec into a paused container (the process starts frozen).
    pub ignore_paused: bool,
    /// The caller proxies the terminal itself (foreground `exec -t` without a socket).
    pub proxy_terminal: bool,
    /// `--cgroup` arguments: existing cgroups below the container's to put the process in.
    pub sub_cgroups: Vec<String>,
}

/// A started exec'd process.
#[derive(Debug)]
pub struct Execed {
    pub pid: Pid,
    /// With `proxy_terminal`: the runtime's end of the console socket.
    pub console: Option<OwnedFd>,
}

/// Starts `opts.process` in container `id` and returns its host pid once it is about to
/// execve. A missing or non-executable program fails here.
pub fn exec(root: &Path, id: &str, opts: ExecOptions) -> Result<Execed, LifecycleError> {
    let mut c = Container::load(root, id)?;
    let init = c.init();
    match c.status_with(&init) {
        Status::Running | Status::Created => {}
        // The process joins the frozen cgroup and waits there until `resume`, which needs the
        // container's lock: exec must not hold it meanwhile, or the two wait for each other.
        Status::Paused if opts.ignore_paused => c.unlock(),
        // runc's words, which its tests and scripts match.
        Status::Paused => {
            return Err(LifecycleError::State(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ));
        }
        s => {
            return Err(LifecycleError::State(format!(
                "cannot exec in container {id}: it is {s}"
            )));
        }
    }
    // The namespaces joined are those of the init found in the container's marked cgroup
    // (container::identity), never merely of the pid state.json names.
    let Init::Alive(target) = &init else {
        return Err(LifecycleError::State(format!(
            "cannot exec in container {id}: its init is gone"
        )));
    };
    let saved = saved_spec(&c)?;
    let plan =
        NamespacePlan::from_spec(&saved).map_err(|e| LifecycleError::Invalid(e.to_string()))?;
    let linux = saved.linux().as_ref();
    let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(seccomp::compile_cached(
            profile,
            &root.join(".seccomp-cache"),
        )?),
        None => None,
    };
    let terminal = opts.process.terminal().unwrap_or(false);
    let (console, console_socket) =
        super::console_for(opts.console_socket.as_ref(), terminal, opts.proxy_terminal)?;
    let cfg = ExecConfig {
        target: target.pid,
        namespaces: plan.private.clone(),
        process: opts.process,
        seccomp,
        console_socket,
        preserve_fds: opts.preserve_fds,
    };
    let exec_plan = cfg.plan();
    // Every directory of the container's cgroup must carry its mark before a process joins.
    c.cgroup()?;
    let cgroup = crate::cgroups::from_paths(&crate::cgroups::sub_cgroup_paths(
        &c.state.cgroup,
        &opts.sub_cgroups,
    )?);
    let mut events = ExecEvents {
        container: &c,
        spec: &saved,
    };
    trace::mark(|| format!("exec in {id}"));
    // The child keeps stdio, the preserved fds, the channel and the console socket: the
    // container's lock on its state directory and every other descriptor go at the clone.
    let keep: Vec<_> = cfg.console_socket.iter().map(AsRawFd::as_raw_fd).collect();
    let fds = ChildFds {
        preserve: opts.preserve_fds,
        keep: &keep,
    };
    let mut launched = spawn(
        &exec_plan,
        cgroup.as_ref(),
        &mut events,
        &fds,
        AfterReady::Exec,
        |end| child_main(&cfg, &exec_plan, end),
    )?;
    // A failed execve is this command's error, not a silent exit of the process.
    launched.confirm_exec()?;
    if let Some(pid_file) = &opts.pid_file {
        super::create::write_pid_file(pid_file, launched.pid)?;
    }
    Ok(Execed {
        pid: launched.pid,
        console,
    })
}

fn saved_spec(c: &Container) -> Result<oci_spec::runtime::Spec, LifecycleError> {
    let path = c.config_path();
    let bytes = std::fs::read(&path).map_err(|e| super::io_error("read", &path, e))?;
    spec::parse(&bytes)
        .map_err(|message| LifecycleError::Spec(spec::SpecError::Parse { path, message }))
}

struct ExecEvents<'a> {
    container: &'a Container,
    spec: &'a oci_spec::runtime::Spec,
}

impl LaunchEvents for ExecEvents<'_> {
    fn init_pid_known(&mut self, _pid: Pid, _start_time: u64) -> anyhow::Result<()> {
        Ok(())
    }

    fn mounts_ready(&mut self, _pid: Pid) -> anyhow::Result<serde_json::Value> {
        anyhow::bail!("exec'd process asked for hooks")
    }

    fn seccomp_listener(&mut self, pid: Pid, listener: OwnedFd) -> anyhow::Result<()> {
        let seccomp = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref());
        let Some(path) = seccomp.and_then(|s| s.listener_path().as_ref()) else {
            anyhow::bail!("seccomp listener without linux.seccomp.listenerPath");
        };
        let mut doc = serde_json::to_value(self.container.state.oci(Status::Running))?;
        doc["pid"] = pid.as_raw().into();
        let state: oci_spec::runtime::State = serde_json::from_value(doc)?;
        let metadata = seccomp.and_then(|s| s.listener_metadata().as_deref());
        seccomp::send_listener(path, listener.as_fd(), &state, metadata)?;
        Ok(())
    }
    fn idmapped_mount(&mut self, index: usize, _: Option<OwnedFd>) -> anyhow::Result<OwnedFd> {
        anyhow::bail!("exec'd process asked for id-mapped mount {index}")
    }

    fn child_closes(&self) -> Vec<std::os::fd::RawFd> {
        self.container.lock_fd().into_iter().collect()
    }
}
