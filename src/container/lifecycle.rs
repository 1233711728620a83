//! `start`, `kill` and `delete`: the transitions after `create`.

use std::path::Path;

use nix::sys::signal::{Signal, kill as send_signal};
use nix::unistd::Pid;
use oci_spec::runtime::Hooks;

use super::state::{Status, wait_gone};
use super::{Container, ContainerError, LifecycleError};
use crate::cgroups::{self, FreezerState};
use crate::linux::hooks;
use crate::logging;
use crate::process::fifo::{self, ReleaseError};
use crate::process::trace;

/// Where the hooks of a container's spec come from.
#[derive(Clone, Copy)]
pub enum HooksFrom<'a> {
    /// The config.json saved at create time.
    Saved,
    /// The caller, which created the container in this process (`run`).
    Given(Option<&'a Hooks>),
}

impl HooksFrom<'_> {
    fn get(self, c: &Container) -> Option<Hooks> {
        match self {
            HooksFrom::Saved => saved_hooks(c),
            HooksFrom::Given(h) => h.cloned(),
        }
    }
}

/// Lets a created container's init run its program, then runs the poststart hooks.
pub fn start(root: &Path, id: &str) -> Result<(), LifecycleError> {
    start_with(root, id, HooksFrom::Saved)
}

/// [`start`], with the hooks from `hooks`.
pub fn start_with(root: &Path, id: &str, hooks: HooksFrom) -> Result<(), LifecycleError> {
    let c = Container::load(root, id)?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(LifecycleError::State(format!(
                "cannot start container {id}: it has stopped"
            )));
        }
        s => {
            return Err(LifecycleError::State(format!(
                "cannot start container {id}: it is {s}, not created"
            )));
        }
    }
    release(&c, hooks)
}

/// [`start_with`] for the container that [`super::create_locked`] returned, still locked: it is
/// created, and nothing else can have changed that. If init has died meanwhile, the release
/// finds no reader on exec.fifo and says so.
pub fn start_created(c: Container, hooks: HooksFrom) -> Result<(), LifecycleError> {
    release(&c, hooks)
}

/// Releases init from exec.fifo, then runs the poststart hooks.
fn release(c: &Container, hooks: HooksFrom) -> Result<(), LifecycleError> {
    fifo::release(&c.exec_fifo()).map_err(|e| match e {
        ReleaseError::InitGone => {
            LifecycleError::State(format!("cannot start container {}: {e}", c.id()))
        }
        ReleaseError::Sys(s) => s.into(),
    })?;
    trace::mark(|| "start: released init".into());
    // A failing poststart hook is reported, and the container keeps running.
    if let Some(h) = hooks.get(c)
        && let Some(list) = h.poststart()
    {
        let state = serde_json::to_string(&c.state.oci(Status::Running)).unwrap_or_default();
        if let Err(e) = hooks::run_all("poststart", list, &state) {
            logging::warn(&e.to_string());
        }
    }
    Ok(())
}

/// The hooks of the spec saved at create time. Only that field is decoded: the rest of the
/// file (15 KB with Docker's seccomp profile) is skipped over, not built into a spec again.
fn saved_hooks(c: &Container) -> Option<Hooks> {
    #[derive(serde::Deserialize)]
    struct HooksOnly {
        hooks: Option<Hooks>,
    }
    let bytes = std::fs::read(c.config_path()).ok()?;
    serde_json::from_slice::<HooksOnly>(&bytes).ok()?.hooks
}

/// Sends `signal` to init, or with `all` to every process in the container's cgroup.
pub fn kill(root: &Path, id: &str, signal: Signal, all: bool) -> Result<(), LifecycleError> {
    let c = Container::load(root, id)?;
    let status = c.status();
    if status == Status::Stopped {
        return Err(LifecycleError::State(format!(
            "container {id} is not running"
        )));
    }
    let cg = cgroups::from_paths(&c.state.cgroup);
    // A rootless container without a cgroup of its own: init stands for all of it (with a
    // private PID namespace, its death ends the rest).
    if all && !crate::rootless::cgroup::is_none(&c.state.cgroup) {
        cg.signal_all(signal)?;
    } else {
        send_signal(Pid::from_raw(c.state.pid), signal).map_err(|e| {
            crate::error::SysError::new(format!("kill {} with {signal}", c.state.pid), e)
        })?;
    }
    // A frozen process only dies once thawed.
    if status == Status::Paused && signal == Signal::SIGKILL {
        cg.set_freezer(FreezerState::Thawed)?;
    }
    Ok(())
}

/// Removes a container. A stopped or created one is removed; a running or paused one only
/// with `force` (everything in it is killed first). `force` on an unknown id succeeds, which
/// containerd's shim relies on.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), LifecycleError> {
    delete_with(root, id, force, HooksFrom::Saved)
}

/// [`delete`], with the hooks from `hooks`.
pub fn delete_with(
    root: &Path,
    id: &str,
    force: bool,
    hooks: HooksFrom,
) -> Result<(), LifecycleError> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(ContainerError::NotExist(_)) if force => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let status = c.status();
    match status {
        Status::Stopped => {}
        Status::Created | Status::Creating => kill_and_wait(&c)?,
        Status::Running | Status::Paused if force => kill_and_wait(&c)?,
        s => {
            return Err(LifecycleError::State(format!(
                "cannot delete container {id} that is not stopped: {s}"
            )));
        }
    }
    destroy(c, hooks)
}

/// SIGKILLs init (and, without a private PID namespace, everything else in the cgroup), thaws
/// a frozen cgroup so the kill lands, and waits for init to be gone.
fn kill_and_wait(c: &Container) -> Result<(), LifecycleError> {
    let cg = cgroups::from_paths(&c.state.cgroup);
    let _ = send_signal(Pid::from_raw(c.state.pid), Signal::SIGKILL);
    let _ = cg.signal_all(Signal::SIGKILL);
    if matches!(cg.freezer(), Ok(FreezerState::Frozen)) {
        cg.set_freezer(FreezerState::Thawed)?;
    }
    if !wait_gone(c.state.pid, c.state.init_start_time) {
        return Err(LifecycleError::State(format!(
            "container {} init (pid {}) did not exit after SIGKILL",
            c.id(),
            c.state.pid
        )));
    }
    Ok(())
}

/// Final cleanup of a stopped container: leftover processes, the cgroup, poststop hooks, the
/// state directory.
fn destroy(c: Container, hooks: HooksFrom) -> Result<(), LifecycleError> {
    let cg = cgroups::from_paths(&c.state.cgroup);
    // Without a private PID namespace, children of init can outlive it.
    if !c.state.private_pid_ns && cg.pids().is_ok_and(|p| !p.is_empty()) {
        let _ = cg.signal_all(Signal::SIGKILL);
    }
    cg.destroy()?;
    if let Some(h) = hooks.get(&c)
        && let Some(list) = h.poststop()
    {
        let state = serde_json::to_string(&c.state.oci(Status::Stopped)).unwrap_or_default();
        if let Err(e) = hooks::run_all("poststop", list, &state) {
            logging::warn(&e.to_string());
        }
    }
    c.remove_dir()?;
    Ok(())
}

/// Freezes every process of a running container.
pub fn pause(root: &Path, id: &str) -> Result<(), LifecycleError> {
    set_frozen(root, id, Status::Running, FreezerState::Frozen, "pause")
}

/// Thaws a paused container.
pub fn resume(root: &Path, id: &str) -> Result<(), LifecycleError> {
    set_frozen(root, id, Status::Paused, FreezerState::Thawed, "resume")
}

fn set_frozen(
    root: &Path,
    id: &str,
    from: Status,
    to: FreezerState,
    verb: &str,
) -> Result<(), LifecycleError> {
    let c = Container::load(root, id)?;
    if crate::rootless::cgroup::is_none(&c.state.cgroup) {
        return Err(LifecycleError::State(format!(
            "cannot {verb} container {id}: it has no cgroup of its own (rootless, without a delegated cgroup), so no freezer"
        )));
    }
    let status = c.status();
    if status != from {
        return Err(LifecycleError::State(format!(
            "cannot {verb} container {id}: it is {status}, not {from}"
        )));
    }
    cgroups::from_paths(&c.state.cgroup).set_freezer(to)?;
    Ok(())
}

/// Applies new resource limits to a live container's cgroup.
pub fn update(
    root: &Path,
    id: &str,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<(), LifecycleError> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(LifecycleError::State(format!(
            "cannot update container {id}: it is stopped"
        )));
    }
    for ignored in cgroups::ignored_resources(resources) {
        logging::warn(&format!(
            "{ignored} is ignored (the kernel no longer has it)"
        ));
    }
    cgroups::from_paths(&c.state.cgroup).apply(resources)?;
    Ok(())
}
