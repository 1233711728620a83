//! `create`: from a bundle to an init that waits for `start`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use super::state::{State, Status};
use super::{Container, LifecycleError, NewContainer, identity};
use crate::cgroups::{self, Cgroup};
use crate::linux::idmap::IdMapper;
use crate::linux::private_dir::IfMissing;
use crate::linux::terminal::ConsoleSocket;
use crate::linux::{hooks, seccomp};
use crate::process::{self, InitConfig, LaunchEvents, exec_stub, sealed_exe};
use crate::sys::trace;
use crate::sys::{Durability, write_atomic};
use crate::{logging, spec};

/// What `create` (and `run`) take from the command line.
#[derive(Debug, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<ConsoleSocket>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// The caller proxies the terminal itself (foreground `run`): if the process wants one and
    /// no console socket is given, the master comes back in [`Created::console`].
    pub proxy_terminal: bool,
    /// `--systemd-cgroup`: the cgroup is a scope unit of this systemd manager.
    pub systemd_cgroup: Option<cgroups::systemd::Manager>,
    /// An overlayfs init mounts on the root before anything else, inside its own namespaces:
    /// an image root made by a store without host privilege (`image::PreparedRoot`).
    pub root_overlay: Option<crate::linux::overlay::Overlay>,
}

/// A created container.
#[derive(Debug)]
pub struct Created {
    /// Host pid of init.
    pub pid: Pid,
    /// The process the runtime cloned (init, or the reaped intermediate of an extra fork).
    pub cloned: Pid,
    /// With `proxy_terminal`: the runtime's end of the console socket; the pty master arrives
    /// on it.
    pub console: Option<OwnedFd>,
    /// The spec's hooks, for a caller that goes on to `start` and `delete` (`run`): they need
    /// not read them back from the saved config.json.
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

/// Removes the cgroup when creation fails.
struct CgroupGuard<'a> {
    cgroup: &'a dyn Cgroup,
    armed: bool,
}

impl Drop for CgroupGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.cgroup.destroy();
        }
    }
}

/// Creates the container `opts.id` under `root`. Everything made on the way (state directory,
/// cgroup, init) is removed again if a step fails.
pub fn create(root: &Path, opts: &CreateOptions) -> Result<Created, LifecycleError> {
    create_locked(root, opts).map(|(created, _unlocked_on_drop)| created)
}

/// [`create`], for a caller that goes on to start the container (`run`): the container comes
/// back still locked, as create left it, so that no other command can come between the two and
/// `start` need not read back what create just wrote ([`super::start_created`]).
pub fn create_locked(
    root: &Path,
    opts: &CreateOptions,
) -> Result<(Created, Container), LifecycleError> {
    trace::mark(|| format!("create {}", opts.id));
    // A bad id, or a state root other users could reach, is refused before any work, the
    // seccomp cache (kept in the root) included.
    super::id::validate(&opts.id).map_err(super::ContainerError::from)?;
    super::check_root(root, IfMissing::Create)?;
    let bundle = std::path::absolute(&opts.bundle)
        .map_err(|e| LifecycleError::Invalid(format!("bundle {}: {e}", opts.bundle.display())))?;
    let spec::Loaded {
        spec,
        seccomp: seccomp_text,
    } = spec::load(&bundle)?;
    let plan = spec::validate(&spec)?;
    if crate::rootless::active() {
        crate::rootless::validate(&spec, &plan)?;
    }
    let rootfs = spec::rootfs_path(&spec, &bundle)?;
    check_preserved_fds(opts.preserve_fds)?;
    trace::mark(|| "read and validated config.json".into());
    // CVE-2019-5736: init reaches the program through a sealed stub where that is safe, or
    // else rind re-executes itself sealed now, before anything has been changed.
    let exec_stub = exec_stub::usable_for(&spec, &plan)
        .then(exec_stub::sealed)
        .flatten();
    match &exec_stub {
        Some(_) => trace::mark(|| "sealed the exec stub in a memfd".into()),
        None => sealed_exe::ensure()?,
    }

    // Compiled here, before anything is made, and cached by the profile's text: a profile seen
    // before is not even parsed, a bad one fails create, and init only has to install it.
    // A NOTIFY profile's listener goes to the agent at its listenerPath, which only the profile
    // says: taken from the parse on a miss, and parsed for on a hit (a rare case).
    let listener_of = |p: &oci_spec::runtime::LinuxSeccomp| {
        p.listener_path()
            .clone()
            .map(|path| (path, p.listener_metadata().clone()))
    };
    let mut listener_to = None;
    let seccomp = match &seccomp_text {
        Some(text) => {
            let program =
                seccomp::compile_cached_text(text.text(), &root.join(".seccomp-cache"), || {
                    let profile = text.parse()?;
                    listener_to = listener_of(&profile);
                    Ok::<_, LifecycleError>(profile)
                })?;
            if program.has_listener() && listener_to.is_none() {
                listener_to = listener_of(&text.parse()?);
            }
            Some(program)
        }
        None => None,
    };
    trace::mark(|| "compiled seccomp filter".into());

    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let (console, console_socket) =
        super::console_for(opts.console_socket.as_ref(), terminal, opts.proxy_terminal)?;

    let linux = spec.linux().as_ref();
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    let cgroup_mounts = cgroups::MountInfo::read_self()?;
    let resources = resources_with_devices(&spec);
    // Rootless without the systemd driver: a delegated cgroup, or none (rootless/cgroup.rs).
    let (cgroup, systemd_unit) = if crate::rootless::active() && opts.systemd_cgroup.is_none() {
        let cgroup =
            crate::rootless::cgroup::resolve(&cgroup_mounts, cgroups_path, &opts.id, &resources)?;
        (cgroup, None)
    } else {
        resolve_cgroup(&cgroup_mounts, cgroups_path, opts, &resources)?
    };
    // A rootless container binds the host's nodes, whose permissions still hold: device
    // rules are applied only by a runtime privileged on the host (rootless/cgroup.rs).
    let resources = if crate::rootless::active() {
        crate::rootless::cgroup::applicable(&cgroup.paths(), resources)?
    } else {
        resources
    };
    check_existing_cgroup(cgroup.as_ref())?;
    let mut state = State {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        init_start_time: 0,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        owner: String::new(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup: cgroup.paths(),
        create_finished: false,
        private_pid_ns: plan.is_private(LinuxNamespaceType::Pid),
        systemd: systemd_unit,
    };
    // The state directory appears with this first state in it, which names the cgroup
    // directories before any is made: a runtime killed from here on leaves a container that
    // `delete --force` removes whole. config.json is copied in while init sets up
    // (`CreateEvents::init_pid_known`).
    let new = NewContainer::create(root, &opts.id, &state)?;

    // Armed before anything is made: a failure halfway removes what was made.
    let mut guard = CgroupGuard {
        cgroup: cgroup.as_ref(),
        armed: true,
    };
    for ignored in cgroups::ignored_resources(&resources) {
        logging::warn(&format!(
            "{ignored} is ignored (the kernel no longer has it)"
        ));
    }
    // Only what the clone needs, now: the rest of the cgroup and the limits are made while
    // init sets up its namespaces and mounts (CreateEvents::complete_cgroup). Each directory
    // gets the container's mark as soon as it is made (container::identity).
    cgroup.create_clone_target()?;
    // A systemd scope's directory appears only when the unit starts, after the clone: it is
    // marked with the others (CreateEvents::complete_cgroup).
    if state.systemd.is_none()
        && let Some(dir) = identity::clone_target(&state.cgroup)
    {
        new.mark.apply(dir)?;
    }
    trace::mark(|| "created the cgroup directory init is cloned into".into());

    let fifo = process::fifo::create(&new.dir.join("exec.fifo"))?;
    let cfg = InitConfig {
        spec: &spec,
        bundle: &bundle,
        rootfs: &rootfs,
        plan: &plan,
        cgroup: cgroup.paths(),
        cgroup_mounts,
        no_pivot: opts.no_pivot,
        new_keyring: !opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        console_socket,
        fifo,
        seccomp,
        exec_stub,
        root_overlay: opts.root_overlay.as_ref(),
    };
    let mut events = CreateEvents {
        new: &new,
        state: &mut state,
        spec: &spec,
        idmapper: IdMapper::new(&spec, &bundle),
        cgroup: cgroup.as_ref(),
        resources: &resources,
        bundle: &bundle,
        config_copied: false,
        listener_to,
    };
    let mut launched = process::launch(&cfg, cgroup.as_ref(), &mut events)?;
    drop(cfg);

    state.pid = launched.pid.as_raw();
    state.init_start_time = launched.start_time;
    state.create_finished = true;
    // The state is written while init executes the exec stub; then whether that worked.
    let finish = new
        .save(&state)
        .map_err(LifecycleError::from)
        .and_then(|()| launched.confirm_exec().map_err(LifecycleError::from))
        .and_then(|()| match &opts.pid_file {
            Some(pid_file) => write_pid_file(pid_file, launched.pid),
            None => Ok(()),
        });
    if let Err(e) = finish {
        // Init is alive and waiting: it must not outlive the failed create, and the cgroup can
        // only go once it is gone.
        let _ = nix::sys::signal::kill(launched.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(launched.cloned, None);
        super::state::wait_gone(launched.pid.as_raw(), launched.start_time);
        return Err(e);
    }
    guard.armed = false;
    let container = new.keep(state);
    trace::mark(|| "create done".into());
    logging::debug(|| {
        format!(
            "created container {} with init pid {}",
            opts.id, launched.pid
        )
    });
    let created = Created {
        pid: launched.pid,
        cloned: launched.cloned,
        console,
        hooks: spec.hooks().clone(),
    };
    Ok((created, container))
}

/// The container's cgroup: a systemd scope with `--systemd-cgroup` (and the unit, for the
/// state), a cgroupfs directory otherwise.
fn resolve_cgroup(
    mounts: &cgroups::MountInfo,
    cgroups_path: Option<&Path>,
    opts: &CreateOptions,
    resources: &LinuxResources,
) -> Result<(Box<dyn Cgroup>, Option<cgroups::systemd::SystemdUnit>), LifecycleError> {
    let Some(manager) = opts.systemd_cgroup else {
        return Ok((cgroups::resolve_in(mounts, cgroups_path, &opts.id)?, None));
    };
    let path = cgroups_path.map(|p| p.to_string_lossy());
    let scope = cgroups::systemd::resolve(mounts, path.as_deref(), &opts.id, manager, resources)?;
    let unit = scope.unit().clone();
    Ok((Box::new(scope), Some(unit)))
}

/// A cgroup that exists already, as runc checks it before making anything: frozen is an error
/// (init would join it and never run: create would wait for it for good), and left as it
/// was; with processes in it, a warning (runc 1.1 only warns). runc's words, which its tests
/// and scripts match.
fn check_existing_cgroup(cgroup: &dyn Cgroup) -> Result<(), LifecycleError> {
    if matches!(cgroup.freezer(), Ok(cgroups::FreezerState::Frozen)) {
        return Err(LifecycleError::State(
            "container's cgroup unexpectedly frozen".into(),
        ));
    }
    if let Ok(pids) = cgroup.pids()
        && !pids.is_empty()
    {
        logging::warn(&format!(
            "container's cgroup is not empty: {} process(es) found",
            pids.len()
        ));
    }
    Ok(())
}

/// The spec's resources with the device rules completed as runc does.
fn resources_with_devices(spec: &Spec) -> LinuxResources {
    let mut r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    r.set_devices(Some(spec::device_rules(spec)));
    r
}

struct CreateEvents<'a> {
    new: &'a NewContainer,
    state: &'a mut State,
    spec: &'a Spec,
    idmapper: IdMapper<'a>,
    cgroup: &'a dyn Cgroup,
    resources: &'a LinuxResources,
    bundle: &'a Path,
    config_copied: bool,
    /// Where a seccomp user-notification listener goes: the profile's listenerPath and
    /// listenerMetadata (the spec itself no longer holds the profile: `spec::load`).
    listener_to: Option<(PathBuf, Option<String>)>,
}

impl LaunchEvents for CreateEvents<'_> {
    fn init_pid_known(&mut self, pid: Pid, start_time: u64) -> anyhow::Result<()> {
        self.state.pid = pid.as_raw();
        self.state.init_start_time = start_time;
        self.new.save(self.state)?;
        // Done here, not before the clone: init is setting itself up meanwhile.
        if !self.config_copied {
            std::fs::copy(
                self.bundle.join("config.json"),
                self.new.dir.join("config.json"),
            )
            .map_err(|e| super::io_error("copy config.json to", &self.new.dir, e))?;
            self.config_copied = true;
        }
        Ok(())
    }

    fn complete_cgroup(&mut self) -> anyhow::Result<()> {
        self.cgroup.create_rest()?;
        let first = identity::clone_target(&self.state.cgroup);
        let systemd = self.state.systemd.is_some();
        for dir in identity::cgroup_dirs(&self.state.cgroup) {
            if Some(dir.as_path()) != first || systemd {
                self.new.mark.apply(&dir)?;
            }
        }
        self.cgroup.apply(self.resources)?;
        trace::mark(|| match self.cgroup.paths() {
            cgroups::CgroupPaths::V2 { .. } => "applied the cgroup's limits".into(),
            cgroups::CgroupPaths::V1 { controllers, .. } => format!(
                "created cgroup in {} v1 hierarchies, applied its limits",
                controllers.len()
            ),
        });
        Ok(())
    }

    fn mounts_ready(&mut self, pid: Pid) -> anyhow::Result<serde_json::Value> {
        self.state.pid = pid.as_raw();
        let doc = serde_json::to_value(self.state.oci(Status::Creating))?;
        let text = doc.to_string();
        if let Some(h) = self.spec.hooks() {
            if let Some(list) = h.prestart() {
                hooks::run_all("prestart", list, &text)?;
                trace::mark(|| format!("ran {} prestart hook(s)", list.len()));
            }
            if let Some(list) = h.create_runtime() {
                hooks::run_all("createRuntime", list, &text)?;
                trace::mark(|| format!("ran {} createRuntime hook(s)", list.len()));
            }
        }
        Ok(doc)
    }

    fn seccomp_listener(&mut self, pid: Pid, listener: OwnedFd) -> anyhow::Result<()> {
        let Some((path, metadata)) = &self.listener_to else {
            anyhow::bail!("init sent a seccomp listener but linux.seccomp.listenerPath is unset");
        };
        self.state.pid = pid.as_raw();
        let doc = serde_json::to_value(self.state.oci(Status::Creating))?;
        let state: oci_spec::runtime::State = serde_json::from_value(doc)?;
        seccomp::send_listener(path, listener.as_fd(), &state, metadata.as_deref())?;
        trace::mark(|| format!("sent seccomp listener to {}", path.display()));
        Ok(())
    }
    fn idmapped_mount(
        &mut self,
        index: usize,
        container_userns: Option<OwnedFd>,
    ) -> anyhow::Result<OwnedFd> {
        Ok(self.idmapper.open(index, container_userns)?)
    }

    fn child_closes(&self) -> Vec<std::os::fd::RawFd> {
        self.new.lock_fd().into_iter().collect()
    }
}

/// `--preserve-fds N` passes fds 3..3+N on; each must be open, or the runtime's own
/// descriptors could land in that range and leak into the container.
fn check_preserved_fds(n: u32) -> Result<(), LifecycleError> {
    for fd in 3..3 + n as i32 {
        // SAFETY: only checks whether the descriptor number is open.
        let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
        if !open {
            return Err(LifecycleError::Invalid(format!(
                "--preserve-fds {n}: fd {fd} is not open"
            )));
        }
    }
    Ok(())
}

/// Writes the pid file atomically (temp file and rename in the same directory), as engines
/// poll for it; readable by others (mode 0666 less the umask), as runc's is.
pub(super) fn write_pid_file(path: &Path, pid: Pid) -> Result<(), LifecycleError> {
    let path = std::path::absolute(path).map_err(|e| super::io_error("resolve", path, e))?;
    let pid = pid.to_string();
    Ok(write_atomic(
        &path,
        pid.as_bytes(),
        0o666,
        Durability::Volatile,
    )?)
}
