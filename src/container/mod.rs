//! A container on disk: `<root>/<id>/` holding `state.json`, `config.json` (the spec it was
//! created with) and, between `create` and `start`, `exec.fifo`.
//!
//! Every command that changes a container holds an exclusive `flock` on its directory, so two
//! commands on the same id never interleave.
//!
//! The state root is a private directory (`linux::private_dir`: 0700, owned by the user
//! running rind, not a symbolic link), checked by every command before it reads or writes
//! under it.
//!
//! How a container directory is made, and what a killed `create` can leave: `making.rs`.

mod create;
mod exec;
pub mod id;
pub mod identity;
mod lifecycle;
mod making;
pub mod state;

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::cgroups::{self, Cgroup, FreezerState};
use crate::error::Cause;
use crate::linux::private_dir::{self, IfMissing, PrivateDirError};
use crate::sys::{Durability, write_atomic};
pub use create::{CreateOptions, Created, create, create_locked};
pub use exec::{ExecOptions, Execed, exec};
use identity::{Init, Mark};
pub use lifecycle::{
    HooksFrom, delete, delete_with, kill, pause, resume, start, start_created, start_with, update,
};
pub use making::{NewContainer, remove_stateless, sweep_unfinished};
pub use state::{OciState, State, Status};

/// Errors about containers as a whole (not about one step inside them).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container {0} does not exist")]
    NotExist(String),
    #[error("container with id {0} already exists")]
    Exists(String),
    #[error(transparent)]
    InvalidId(#[from] id::InvalidId),
    #[error("{op} {path}: {cause}")]
    Io {
        op: &'static str,
        path: PathBuf,
        cause: Cause,
    },
    #[error("parse {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error(transparent)]
    Root(#[from] PrivateDirError),
    #[error(transparent)]
    Sys(#[from] crate::error::SysError),
    /// A cgroup directory named in `state.json` does not carry the container's mark
    /// ([`identity`]): rind did not make it for this container.
    #[error(
        "container {id}: cgroup {dir} does not carry this container's mark (state.json names a cgroup rind did not make for it); refusing to act on it"
    )]
    ForeignCgroup { id: String, dir: PathBuf },
}

type Result<T> = std::result::Result<T, ContainerError>;

/// A lifecycle operation (create, start, kill, delete) that failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Launch(#[from] crate::process::LaunchError),
    #[error(transparent)]
    Sys(#[from] crate::error::SysError),
    #[error("linux.seccomp: {0}")]
    Seccomp(#[from] crate::linux::seccomp::SeccompError),
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    /// The operation does not fit the container's current status.
    #[error("{0}")]
    State(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// The console sockets for a process, checked against `process.terminal`: a terminal needs a
/// socket to send its master to, and a socket without a terminal is a mistake in the caller's
/// setup. With `proxy` and no socket given, the runtime makes a pair and keeps one end (the
/// first value) to receive the master itself. The second value goes to the process.
pub(crate) fn console_for(
    socket: Option<&crate::linux::terminal::ConsoleSocket>,
    terminal: bool,
    proxy: bool,
) -> std::result::Result<(Option<OwnedFd>, Option<OwnedFd>), LifecycleError> {
    match (socket, terminal) {
        (Some(s), true) => Ok((None, Some(s.connect()?))),
        (Some(_), false) => Err(LifecycleError::Invalid(
            "--console-socket was given but the process has no terminal".into(),
        )),
        (None, true) if proxy => {
            let (ours, theirs) = crate::linux::terminal::console_pair()?;
            Ok((Some(ours), Some(theirs.connect()?)))
        }
        (None, true) => Err(LifecycleError::Invalid(
            "the process wants a terminal (process.terminal): give --console-socket, or run it \
             in the foreground"
                .into(),
        )),
        (None, false) => Ok((None, None)),
    }
}

/// An I/O failure on a path, as a lifecycle error.
pub(crate) fn io_error(op: &'static str, path: &Path, e: std::io::Error) -> LifecycleError {
    LifecycleError::Container(ContainerError::Io {
        op,
        path: path.to_path_buf(),
        cause: e.into(),
    })
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ContainerError + 'a {
    move |e| ContainerError::Io {
        op,
        path: path.to_path_buf(),
        cause: e.into(),
    }
}

/// A container's state directory, locked for the lifetime of the value.
pub struct Container {
    dir: PathBuf,
    _lock: Option<Flock<File>>,
    mark: Mark,
    pub state: State,
}

/// Checks the state root before anything is read or written under it ([`private_dir`]);
/// `missing` says whether a missing one is made. Returns whether it exists.
pub fn check_root(root: &Path, missing: IfMissing) -> Result<bool> {
    Ok(private_dir::ensure(root, "state root", missing)?)
}

/// The state directory of `id` under `root`, after checking the id.
pub fn dir_of(root: &Path, id: &str) -> Result<PathBuf> {
    id::validate(id)?;
    Ok(root.join(id))
}

/// The directory of an existing container: the id and the root checked, and the root there.
fn existing_dir(root: &Path, id: &str) -> Result<PathBuf> {
    let dir = dir_of(root, id)?;
    if !check_root(root, IfMissing::Leave)? {
        return Err(ContainerError::NotExist(id.to_string()));
    }
    Ok(dir)
}

fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    let f = File::open(dir).map_err(io("open", dir))?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| ContainerError::Io {
        op: "lock",
        path: dir.to_path_buf(),
        cause: e.into(),
    })
}

fn save_state(dir: &Path, state: &State) -> Result<()> {
    let path = dir.join("state.json");
    let bytes = serde_json::to_vec(state).map_err(|e| ContainerError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    // Under /run (tmpfs): a sync buys nothing. The directory is the owner's alone (0700).
    Ok(write_atomic(&path, &bytes, 0o666, Durability::Volatile)?)
}

fn read_state(dir: &Path, id: &str) -> Result<State> {
    let path = dir.join("state.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        // Gone (a concurrent delete). A directory without a state is left by an older rind
        // killed in `create`; `delete` removes it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContainerError::NotExist(id.to_string()));
        }
        Err(e) => return Err(io("read", &path)(e)),
    };
    serde_json::from_slice(&bytes).map_err(|e| ContainerError::Corrupt {
        path,
        message: e.to_string(),
    })
}

fn mark_of(dir: &Path, id: &str) -> Result<Mark> {
    Mark::of(dir, id).map_err(|e| match e.cause.errno() {
        Some(nix::errno::Errno::ENOENT) => ContainerError::NotExist(id.to_string()),
        _ => e.into(),
    })
}

impl Container {
    /// Opens and locks an existing container, for commands that change it.
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        let dir = existing_dir(root, id)?;
        let lock = match lock_dir(&dir) {
            Ok(l) => l,
            Err(ContainerError::Io { cause, .. })
                if cause.errno() == Some(nix::errno::Errno::ENOENT) =>
            {
                return Err(ContainerError::NotExist(id.to_string()));
            }
            Err(e) => return Err(e),
        };
        let state = read_state(&dir, id)?;
        let mark = mark_of(&dir, id)?;
        Ok(Container {
            dir,
            _lock: Some(lock),
            mark,
            state,
        })
    }

    /// Opens an existing container without locking it, for commands that only look (`state`,
    /// `list`, `ps`, `events`). `state.json` is replaced by rename, so a reader sees the old or
    /// the new version, never a mix; and a `create` stuck in a hook does not block them.
    pub fn read(root: &Path, id: &str) -> Result<Self> {
        let dir = existing_dir(root, id)?;
        let state = read_state(&dir, id)?;
        let mark = mark_of(&dir, id)?;
        Ok(Container {
            dir,
            _lock: None,
            mark,
            state,
        })
    }

    /// Releases the lock early; the value stays usable to read what was loaded.
    pub fn unlock(&mut self) {
        self._lock = None;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The descriptor that holds the lock, when this command holds it.
    pub fn lock_fd(&self) -> Option<std::os::fd::RawFd> {
        self._lock.as_ref().map(|l| l.as_raw_fd())
    }

    /// The mark of this container's cgroup directories.
    pub fn mark(&self) -> &Mark {
        &self.mark
    }

    /// The FIFO that holds init between `create` and `start`.
    pub fn exec_fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    /// The spec the container was created with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn save(&self) -> Result<()> {
        save_state(&self.dir, &self.state)
    }

    /// The container's init as the kernel shows it: alive and verified, gone, or a process
    /// that is not the container's ([`identity`]).
    pub fn init(&self) -> Init {
        identity::find_init(&self.state, &self.mark)
    }

    /// The status, derived from the live init process ([`Container::init`]).
    pub fn status(&self) -> Status {
        self.status_with(&self.init())
    }

    /// The status, given what [`Container::init`] found.
    pub fn status_with(&self, init: &Init) -> Status {
        let s = &self.state;
        if !matches!(init, Init::Alive(_)) {
            // Before init's pid is known, a create still at work holds the lock; a create
            // that was killed does not, and left a stopped container for `delete` to remove.
            if !s.create_finished && s.pid == 0 && self.locked_by_another() {
                return Status::Creating;
            }
            return Status::Stopped;
        }
        if !s.create_finished {
            return Status::Creating;
        }
        if self.exec_fifo().exists() {
            return Status::Created;
        }
        let cg = cgroups::from_paths(&s.cgroup);
        if matches!(cg.freezer(), Ok(FreezerState::Frozen)) {
            return Status::Paused;
        }
        Status::Running
    }

    /// Whether another command holds the container's lock (never when this one does).
    fn locked_by_another(&self) -> bool {
        if self._lock.is_some() {
            return false;
        }
        File::open(&self.dir).is_ok_and(|f| {
            Flock::lock(f, FlockArg::LockSharedNonblock)
                .is_err_and(|(_, e)| e == nix::errno::Errno::EWOULDBLOCK)
        })
    }

    /// The container's cgroup, once every directory of it that exists is checked to carry the
    /// container's mark: for the verbs that signal, freeze, update or read it.
    pub fn cgroup(&self) -> Result<Box<dyn Cgroup>> {
        let (_, foreign) = identity::split_marked(&self.state.cgroup, &self.mark);
        if let Some(dir) = foreign.into_iter().next() {
            return Err(ContainerError::ForeignCgroup {
                id: self.state.id.clone(),
                dir,
            });
        }
        Ok(cgroups::from_paths(&self.state.cgroup))
    }

    /// Removes the state directory (the lock goes with it).
    pub fn remove_dir(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(io("remove", &self.dir))
    }
}

/// The ids of every container under `root` (directories whose names are valid ids).
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    if !check_root(root, IfMissing::Leave)? {
        return Ok(Vec::new());
    }
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", root)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        // Dot-names are rind's own (the seccomp cache), never containers.
        .filter(|n| !n.starts_with('.') && id::validate(n).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}
