//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope
//! unit that systemd makes over D-Bus, as runc's systemd driver does.
//!
//! Sequence, at `create`:
//! 1. before the clone, nothing is made: a scope needs a process to exist, so init is cloned
//!    without `CLONE_INTO_CGROUP` ([`Cgroup::clone_fd`] is `None`);
//! 2. right after the clone, `StartTransientUnit` makes `<prefix>-<name>.scope` in its slice
//!    with `PIDs=[init]`, `Delegate=yes` and the resource properties systemd owns, and rind
//!    waits for the job's `JobRemoved` signal: systemd has then made the cgroup and moved init
//!    into it (in every v1 hierarchy it manages, and the unified one);
//! 3. rind's cgroupfs code then works on the scope's directory as on any other: makes the v1
//!    hierarchies systemd does not manage (cpuset, freezer, net_cls ...; init joins them
//!    itself) and writes every limit to the files.
//!
//! `update` sets the unit's properties, then the files. `delete` stops the unit (StopUnit) and
//! resets it if it failed, then removes what is left of the directories. A scope whose last
//! process exits is stopped and collected by systemd itself, so a crashed container leaves no
//! unit. Nothing here runs without `--systemd-cgroup`.

pub mod dbus;
mod properties;
mod unit_path;
mod wire;

use std::cell::{Cell, RefCell, RefMut};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use super::{
    Cgroup, CgroupError, CgroupPaths, FreezerState, Layout, MountInfo, OomNotifier, Result, Stats,
};
use dbus::{Call, Conn, DbusError};
pub use properties::{Property, resource_properties};
pub use unit_path::{UnitPath, expand_slice};
use wire::Value;

/// Which systemd instance owns the container's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// The system manager (PID 1), on `/run/systemd/private`.
    System,
    /// The calling user's manager (`systemd --user`), on `$XDG_RUNTIME_DIR/systemd/private`.
    User,
}

impl Manager {
    /// runc's choice: the system manager for root, the user's own manager otherwise.
    pub fn for_caller() -> Manager {
        if nix::unistd::geteuid().is_root() {
            Manager::System
        } else {
            Manager::User
        }
    }

    /// The manager's private socket.
    pub fn socket(self) -> Result<PathBuf> {
        match self {
            Manager::System => Ok(PathBuf::from("/run/systemd/private")),
            Manager::User => match std::env::var_os("XDG_RUNTIME_DIR") {
                Some(dir) if !dir.is_empty() => Ok(Path::new(&dir).join("systemd/private")),
                _ => Err(CgroupError::Systemd(
                    "XDG_RUNTIME_DIR is not set: cannot find the user's systemd manager".into(),
                )),
            },
        }
    }

    /// The slice of a unit whose `cgroupsPath` names none (runc's defaults).
    pub fn default_slice(self) -> &'static str {
        match self {
            Manager::System => "system.slice",
            Manager::User => "user.slice",
        }
    }
}

/// What the container's state keeps of its unit, for `update` and `delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    pub unit: String,
    pub manager: Manager,
}

fn dbus_error(e: DbusError) -> CgroupError {
    CgroupError::Systemd(e.to_string())
}

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// A container's cgroup as a systemd scope: systemd makes and removes the unit, rind's
/// cgroupfs code (`inner`) does the rest in the unit's directories.
pub struct SystemdCgroup {
    unit: SystemdUnit,
    slice: String,
    /// The unit is a slice (runc's rule for a `name` ending in `.slice`), not a scope.
    is_slice: bool,
    description: String,
    inner: Box<dyn Cgroup>,
    /// The resource properties to start the unit with.
    start_properties: Vec<Property>,
    conn: RefCell<Option<Conn>>,
    /// This value started the unit (at `create`): its properties are set already.
    started: Cell<bool>,
    /// The unit may exist: it did before (`open`), or a start was asked of systemd. A create
    /// that could not reach systemd has nothing to stop.
    maybe_exists: Cell<bool>,
    v2: bool,
}

/// The scope for a new container: where it goes (`cgroups_path` in the `slice:prefix:name`
/// form) and the properties it starts with. Connects to the manager only when the unit's
/// place depends on it (a user manager's own cgroup).
pub fn resolve(
    mounts: &MountInfo,
    cgroups_path: Option<&str>,
    id: &str,
    manager: Manager,
    resources: &LinuxResources,
) -> Result<SystemdCgroup> {
    let path = UnitPath::parse(cgroups_path, id, manager.default_slice())?;
    let conn = RefCell::new(None);
    let base = match manager {
        Manager::System => String::new(),
        Manager::User => {
            let mut c = connect(manager)?;
            let reply = c
                .call(&Call {
                    destination: Some(DEST),
                    path: PATH,
                    interface: "org.freedesktop.DBus.Properties",
                    member: "Get",
                    body: vec![Value::str(MANAGER), Value::str("ControlGroup")],
                })
                .map_err(dbus_error)?;
            *conn.borrow_mut() = Some(c);
            reply
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_matches('/')
                .to_string()
        }
    };
    let rel = if base.is_empty() {
        path.relative_dir()
    } else {
        format!("{base}/{}", path.relative_dir())
    };
    let is_slice = path.is_slice();
    let layout = mounts.layout();
    let v2 = layout == Layout::Unified;
    let inner: Box<dyn Cgroup> = if v2 {
        let mount = mounts
            .unified_mount()
            .ok_or_else(|| CgroupError::Invalid("cgroup2 mount not found".into()))?;
        Box::new(super::v2::V2Cgroup::new(mount.join(&rel)))
    } else {
        let controllers: BTreeMap<String, PathBuf> = mounts
            .v1_controller_mounts()
            .into_iter()
            .map(|(name, mount)| (name, mount.join(&rel)))
            .collect();
        let unified = match mounts.unified_mount() {
            Some(m) if layout == Layout::Hybrid => Some(m.join(&rel)),
            _ => None,
        };
        Box::new(super::v1::V1Cgroup::new(controllers, unified))
    };
    Ok(SystemdCgroup {
        unit: SystemdUnit {
            unit: path.unit,
            manager,
        },
        is_slice,
        slice: path.slice,
        description: format!("rind container {id}"),
        inner,
        start_properties: resource_properties(resources, v2)?,
        conn,
        started: Cell::new(false),
        maybe_exists: Cell::new(false),
        v2,
    })
}

/// The cgroup of an existing container whose unit is `unit`, at `paths`.
fn open(paths: &CgroupPaths, unit: &SystemdUnit) -> SystemdCgroup {
    SystemdCgroup {
        unit: unit.clone(),
        slice: String::new(),
        is_slice: unit.unit.ends_with(".slice"),
        description: String::new(),
        inner: super::from_paths(paths),
        start_properties: Vec::new(),
        conn: RefCell::new(None),
        started: Cell::new(false),
        maybe_exists: Cell::new(true),
        v2: matches!(paths, CgroupPaths::V2 { .. }),
    }
}

/// Stops an existing container's unit (`delete`): systemd removes the directories it made.
/// A unit that is gone already is fine.
pub fn stop_unit(paths: &CgroupPaths, unit: &SystemdUnit) -> Result<()> {
    open(paths, unit).stop()
}

/// Sets the unit properties for `resources` (`update`); the caller writes the files.
pub fn set_unit_properties(
    paths: &CgroupPaths,
    unit: &SystemdUnit,
    resources: &LinuxResources,
) -> Result<()> {
    let cg = open(paths, unit);
    cg.set_properties(resource_properties(resources, cg.v2)?)
}

fn connect(manager: Manager) -> Result<Conn> {
    Conn::connect(&manager.socket()?, false).map_err(dbus_error)
}

fn properties_value(props: Vec<Property>) -> Value {
    Value::Array(
        "(sv)".into(),
        props
            .into_iter()
            .map(|(name, v)| Value::Struct(vec![Value::Str(name), Value::Variant(Box::new(v))]))
            .collect(),
    )
}

impl SystemdCgroup {
    /// The unit, for the container's state.
    pub fn unit(&self) -> &SystemdUnit {
        &self.unit
    }

    fn conn(&self) -> Result<RefMut<'_, Conn>> {
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            *slot = Some(connect(self.unit.manager)?);
        }
        Ok(RefMut::map(slot, |c| c.as_mut().expect("connected above")))
    }

    /// Calls a Manager method that queues a job, and waits until the job is done.
    fn run_job(&self, member: &str, body: Vec<Value>) -> std::result::Result<(), DbusError> {
        let mut conn = self
            .conn()
            .map_err(|e| DbusError::Io(std::io::Error::other(e.to_string())))?;
        let reply = conn.call(&Call {
            destination: Some(DEST),
            path: PATH,
            interface: MANAGER,
            member,
            body,
        })?;
        let job = reply
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // JobRemoved(u id, o job, s unit, s result)
        let done = conn.wait_signal("JobRemoved", |b| {
            b.get(1).and_then(Value::as_str) == Some(&job)
        })?;
        let result = done.get(3).and_then(Value::as_str).unwrap_or_default();
        if result != "done" {
            return Err(DbusError::Reply {
                method: member.into(),
                name: "job".into(),
                message: format!("unit {}: job {result}", self.unit.unit),
            });
        }
        Ok(())
    }

    /// Makes the scope with `pid` in it and waits until systemd has moved it there.
    ///
    /// A slice unit gets what runc 1.1 gives it: `Wants=` the parent slice instead of
    /// `Slice=`, no `Delegate`, and `PIDs` all the same. systemd (252) takes `PIDs` only for a
    /// scope and refuses the unit ("Cannot set property PIDs, or unknown property."), so
    /// such a create fails with systemd's message, as runc's does; nothing is left.
    fn start(&self, pid: Pid) -> Result<()> {
        let mut props = vec![(
            "Description".to_string(),
            Value::Str(self.description.clone()),
        )];
        if self.is_slice {
            props.push((
                "Wants".to_string(),
                Value::Array("s".into(), vec![Value::Str(self.slice.clone())]),
            ));
        } else {
            props.push(("Slice".to_string(), Value::Str(self.slice.clone())));
            props.push(("Delegate".to_string(), Value::Bool(true)));
        }
        props.extend([
            // Not ordered against shutdown.target and friends: the engine stops it.
            ("DefaultDependencies".to_string(), Value::Bool(false)),
            (
                "PIDs".to_string(),
                Value::Array("u".into(), vec![Value::U32(pid.as_raw() as u32)]),
            ),
            ("MemoryAccounting".to_string(), Value::Bool(true)),
            ("CPUAccounting".to_string(), Value::Bool(true)),
            ("TasksAccounting".to_string(), Value::Bool(true)),
        ]);
        props.push(if self.v2 {
            ("IOAccounting".to_string(), Value::Bool(true))
        } else {
            ("BlockIOAccounting".to_string(), Value::Bool(true))
        });
        props.extend(self.start_properties.iter().cloned());
        drop(self.conn()?);
        self.maybe_exists.set(true);
        self.run_job(
            "StartTransientUnit",
            vec![
                Value::Str(self.unit.unit.clone()),
                Value::str("fail"),
                properties_value(props),
                Value::Array("(sa(sv))".into(), vec![]),
            ],
        )
        .map_err(|e| CgroupError::Systemd(format!("start unit {}: {e}", self.unit.unit)))?;
        self.started.set(true);
        crate::sys::trace::mark(|| format!("systemd started {} with init in it", self.unit.unit));
        Ok(())
    }

    /// Stops the unit and forgets a failed state; a unit that is gone already is fine.
    fn stop(&self) -> Result<()> {
        let unit = Value::Str(self.unit.unit.clone());
        match self.run_job("StopUnit", vec![unit.clone(), Value::str("replace")]) {
            Ok(()) => {}
            Err(DbusError::Reply { name, .. }) if name == "org.freedesktop.systemd1.NoSuchUnit" => {
            }
            Err(e) => {
                return Err(CgroupError::Systemd(format!(
                    "stop unit {}: {e}",
                    self.unit.unit
                )));
            }
        }
        let mut conn = self.conn()?;
        let _ = conn.call(&Call {
            destination: Some(DEST),
            path: PATH,
            interface: MANAGER,
            member: "ResetFailedUnit",
            body: vec![unit],
        });
        Ok(())
    }

    fn set_properties(&self, props: Vec<Property>) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        conn.call(&Call {
            destination: Some(DEST),
            path: PATH,
            interface: MANAGER,
            member: "SetUnitProperties",
            body: vec![
                Value::Str(self.unit.unit.clone()),
                Value::Bool(true),
                properties_value(props),
            ],
        })
        .map(drop)
        .map_err(|e| CgroupError::Systemd(format!("set properties of {}: {e}", self.unit.unit)))
    }
}

impl Cgroup for SystemdCgroup {
    fn paths(&self) -> CgroupPaths {
        self.inner.paths()
    }

    /// Nothing before the clone: systemd makes the directory when the scope starts.
    fn create_clone_target(&self) -> Result<()> {
        Ok(())
    }

    /// Completes what systemd made: the v1 hierarchies it does not manage (init joins them
    /// itself), and on v2 the controllers the limits need.
    fn create_rest(&self) -> Result<()> {
        self.inner.create_clone_target()?;
        self.inner.create_rest()
    }

    /// Sets the unit's properties (unless the unit was just started with them), then the
    /// cgroup files.
    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        if !self.started.get() {
            self.set_properties(resource_properties(resources, self.v2)?)?;
        }
        self.inner.apply(resources)
    }

    fn add_process(&self, pid: Pid) -> Result<()> {
        self.inner.add_process(pid)
    }

    fn clone_fd(&self) -> Option<OwnedFd> {
        None
    }

    fn add_after_clone(&self, pid: Pid, _cloned_into: bool) -> Result<()> {
        self.start(pid)
    }

    fn task_files(&self) -> Result<Vec<OwnedFd>> {
        self.inner.task_files()
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        self.inner.pids()
    }

    fn signal_all(&self, signal: Signal) -> Result<()> {
        self.inner.signal_all(signal)
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        self.inner.set_freezer(state)
    }

    fn freezer(&self) -> Result<FreezerState> {
        self.inner.freezer()
    }

    /// Stops the unit (systemd removes its cgroup), then removes whatever is left, such as the
    /// v1 hierarchies rind made itself.
    fn destroy(&self) -> Result<()> {
        if self.maybe_exists.get() {
            self.stop()?;
        }
        self.inner.destroy()
    }

    fn stats(&self) -> Result<Stats> {
        self.inner.stats()
    }

    fn oom_kill_count(&self) -> Result<u64> {
        self.inner.oom_kill_count()
    }

    fn oom_notifier(&self) -> Result<OomNotifier> {
        self.inner.oom_notifier()
    }
}
