//! `start`, `kill` and `delete`: the transitions after `create`.

use std::path::Path;

use nix::sys::signal::{Signal, kill as send_signal};
use nix::unistd::Pid;
use oci_spec::runtime::Hooks;

use super::identity::{self, Init};
use super::state::{Status, wait_gone};
use super::{Container, ContainerError, LifecycleError};
use crate::cgroups::{self, FreezerState};
use crate::linux::hooks;
use crate::logging;
use crate::process::fifo::{self, ReleaseError};
use crate::sys::trace;

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

/// Releases init from exec.fifo and waits until it executed its program (failing with init's
/// reason when it could not), then runs the poststart hooks.
fn release(c: &Container, hooks: HooksFrom) -> Result<(), LifecycleError> {
    fifo::release(&c.exec_fifo()).map_err(|e| match e {
        ReleaseError::InitGone | ReleaseError::DiedAfterRelease | ReleaseError::Failed(_) => {
            LifecycleError::State(format!("cannot start container {}: {e}", c.id()))
        }
        ReleaseError::Sys(s) => s.into(),
    })?;
    trace::mark(|| "start: released init, which executed its program".into());
    // A failing poststart hook is reported, the ones after it still run, and the container
    // keeps running.
    if let Some(h) = hooks.get(c)
        && let Some(list) = h.poststart()
    {
        let state = serde_json::to_string(&c.state.oci(Status::Running)).unwrap_or_default();
        hooks::run_each_warning("poststart", list, &state);
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

/// Sends `signal` to init, or with `all` to every process in the container's cgroup. `None`
/// is signal 0: nothing is sent, and the result says whether init is alive.
///
/// As runc does: `all` signals whatever is left in the cgroup whatever the status, and
/// succeeds on a stopped container whose cgroup is gone (containerd's shim sends
/// `kill --all ID KILL` after every exit, and takes any other error for a failure); without
/// `all`, a stopped container is an error whose text holds runc's "container not running",
/// which the shim matches.
pub fn kill(
    root: &Path,
    id: &str,
    signal: Option<Signal>,
    all: bool,
) -> Result<(), LifecycleError> {
    let c = Container::load(root, id)?;
    let init = c.init();
    let status = c.status_with(&init);
    // A rootless container without a cgroup of its own: init stands for all of it (with a
    // private PID namespace, its death ends the rest), and `all` of a stopped one succeeds.
    let no_cgroup = crate::rootless::cgroup::is_none(&c.state.cgroup);
    if all && !no_cgroup {
        if !identity::cgroup_dirs(&c.state.cgroup)
            .iter()
            .any(|d| d.exists())
        {
            return Ok(());
        }
        let cg = c.cgroup()?;
        if let Some(signal) = signal {
            // A SIGKILL also leaves a paused cgroup thawed, so that the kill lands.
            cg.signal_all(signal)?;
        }
        return Ok(());
    }
    match init {
        Init::Alive(process) => {
            process.signal(signal)?;
            // A frozen process only dies once thawed.
            if status == Status::Paused && signal == Some(Signal::SIGKILL) {
                c.cgroup()?.set_freezer(FreezerState::Thawed)?;
            }
            Ok(())
        }
        Init::Gone if all => Ok(()),
        Init::Gone => Err(LifecycleError::State(format!(
            "cannot kill container {id}: {NOT_RUNNING}"
        ))),
        Init::NotOurs { pid, why } => Err(LifecycleError::State(format!(
            "cannot kill container {id}: {NOT_RUNNING} (state.json names pid {pid} as its \
             init, which is not the container's: {why}; nothing was signalled)"
        ))),
    }
}

/// runc's words for a container without a live init, which containerd's shim matches.
pub const NOT_RUNNING: &str = "container not running";

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
        Err(ContainerError::NotExist(_)) => {
            // A directory without a state, left by an older rind killed in `create`, holds
            // nothing else and would keep the id taken: removed, as runc does.
            if super::remove_stateless(root, id)? || force {
                return Ok(());
            }
            return Err(ContainerError::NotExist(id.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let init = c.init();
    let status = c.status_with(&init);
    match status {
        Status::Stopped => {}
        Status::Created | Status::Creating => kill_and_wait(&c, &init)?,
        Status::Running | Status::Paused if force => kill_and_wait(&c, &init)?,
        s => {
            return Err(LifecycleError::State(format!(
                "cannot delete container {id} that is not stopped: {s}"
            )));
        }
    }
    if let Init::NotOurs { pid, why } = &init {
        logging::warn(&format!(
            "container {id}: state.json names pid {pid} as its init, which is not the \
             container's ({why}); it was left alone"
        ));
    }
    let init_seen_dead = !matches!(init, Init::NotOurs { .. });
    destroy(c, hooks, init_seen_dead)
}

/// SIGKILLs init and everything else in the cgroup, thaws a frozen cgroup so the kill lands,
/// and waits for init to be gone. Only a verified init and marked cgroup directories are
/// signalled ([`identity`]).
fn kill_and_wait(c: &Container, init: &Init) -> Result<(), LifecycleError> {
    if let Init::Alive(process) = init {
        let _ = process.signal(Some(Signal::SIGKILL));
    }
    let (ours, _) = identity::split_marked(&c.state.cgroup, c.mark());
    let cg = cgroups::from_paths(&ours);
    let _ = cg.signal_all(Signal::SIGKILL);
    if matches!(cg.freezer(), Ok(FreezerState::Frozen)) {
        cg.set_freezer(FreezerState::Thawed)?;
    }
    if let Init::Alive(process) = init
        && !wait_gone(process.pid.as_raw(), c.state.init_start_time)
    {
        return Err(LifecycleError::State(format!(
            "container {} init (pid {}) did not exit after SIGKILL",
            c.id(),
            process.pid
        )));
    }
    Ok(())
}

/// Final cleanup of a stopped container: leftover processes, the cgroup, poststop hooks, the
/// state directory. `init_seen_dead`: the container's own init was found and is gone (not merely a process
/// that is not the container's in its place).
fn destroy(c: Container, hooks: HooksFrom, init_seen_dead: bool) -> Result<(), LifecycleError> {
    let paths = &c.state.cgroup;
    let dirs = identity::cgroup_dirs(paths);
    // Without a private PID namespace, children of init can outlive it; and a create that was
    // killed may have left an init whose pid it never recorded, in the cgroup it was cloned
    // into and perhaps not yet in the others (so every directory is searched then). Reading
    // is harmless; only the directories that carry the mark are signalled.
    let leftovers = if !c.state.create_finished {
        !identity::pids_in(&dirs).is_empty()
    } else if c.state.private_pid_ns && init_seen_dead {
        // Init's death took every process of its PID namespace with it.
        false
    } else {
        cgroups::from_paths(paths)
            .pids()
            .is_ok_and(|p| !p.is_empty())
    };
    if leftovers {
        let (ours, _) = identity::split_marked(paths, c.mark());
        let _ = cgroups::from_paths(&ours).signal_all(Signal::SIGKILL);
        for pid in identity::pids_in(&identity::cgroup_dirs(&ours)) {
            let _ = send_signal(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    // With --systemd-cgroup the unit goes first: systemd removes the directories it made.
    if let Some(unit) = &c.state.systemd {
        cgroups::systemd::stop_unit(paths, unit)?;
    }
    // Usually each directory is empty by now and one rmdir removes it. What is left (child
    // cgroups, processes still exiting) is removed by the cgroup's own removal, which thaws,
    // waits and recurses: only where the directory carries the mark. An unmarked one goes
    // only if it is empty, as above: the one rind can leave unmarked is that of a create
    // killed between its mkdir and its mark, with nothing in it.
    let left = dirs.iter().any(|d| match std::fs::remove_dir(d) {
        Ok(()) => false,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    });
    if left {
        let (ours, foreign) = identity::split_marked(paths, c.mark());
        cgroups::from_paths(&ours).destroy()?;
        for dir in foreign {
            if std::fs::remove_dir(&dir).is_err() && dir.exists() {
                logging::warn(&format!(
                    "container {}: cgroup {} does not carry this container's mark and is \
                     not empty; left in place",
                    c.id(),
                    dir.display()
                ));
            }
        }
    }
    if let Some(h) = hooks.get(&c)
        && let Some(list) = h.poststop()
    {
        let state = serde_json::to_string(&c.state.oci(Status::Stopped)).unwrap_or_default();
        hooks::run_each_warning("poststop", list, &state);
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
    c.cgroup()?.set_freezer(to)?;
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
    let rootless;
    let resources = if crate::rootless::active() {
        rootless = crate::rootless::cgroup::applicable(&c.state.cgroup, resources.clone())?;
        &rootless
    } else {
        resources
    };
    if let Some(unit) = &c.state.systemd {
        cgroups::systemd::set_unit_properties(&c.state.cgroup, unit, resources)?;
    }
    c.cgroup()?.apply(resources)?;
    Ok(())
}
