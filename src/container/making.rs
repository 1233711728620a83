//! Making a container's directory, and clearing what a killed `create` left.
//!
//! A container directory appears with its `state.json` already in it: `create` makes it under
//! a temporary name (`.creating-<pid>-<n>`), writes the first state (which records the cgroup
//! directories before any is made) and renames it into place. So every `<root>/<id>` names
//! what was made for it, and `delete --force` can always finish the job of a runtime killed
//! halfway through `create`. A temporary directory left by such a runtime never holds an id;
//! the `delete` verb removes any it finds (`list` only reads, as engines expect).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::identity::Mark;
use super::state::State;
use super::{Container, ContainerError, Result, dir_of, existing_dir, io, lock_dir, save_state};

/// A freshly made, locked state directory for a container being created. Removed again on
/// drop unless [`NewContainer::keep`] is called.
pub struct NewContainer {
    pub dir: PathBuf,
    lock: Option<Flock<File>>,
    pub mark: Mark,
    keep: bool,
}

impl NewContainer {
    /// Makes `<root>/<id>` (mode 0700) holding `first` as its `state.json`, failing if the id
    /// is taken. The directory is made under a temporary name, locked, given its state, and
    /// only then renamed into place (`renameat2(RENAME_NOREPLACE)`), so that no other command
    /// ever sees it without a state. The root must have been checked ([`check_root`]).
    pub fn create(root: &Path, id: &str, first: &State) -> Result<Self> {
        let dir = dir_of(root, id)?;
        let tmp = root.join(format!(
            ".creating-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(io("create", &tmp))?;
        let made = (|| {
            let lock = lock_dir(&tmp)?;
            let mark = Mark::of(&tmp, id)?;
            let path = tmp.join("state.json");
            let bytes = serde_json::to_vec(first).map_err(|e| ContainerError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
            std::fs::write(&path, bytes).map_err(io("write", &path))?;
            match nix::fcntl::renameat2(
                nix::fcntl::AT_FDCWD,
                &tmp,
                nix::fcntl::AT_FDCWD,
                &dir,
                nix::fcntl::RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => Ok((lock, mark)),
                Err(nix::errno::Errno::EEXIST) | Err(nix::errno::Errno::ENOTEMPTY) => {
                    Err(ContainerError::Exists(id.to_string()))
                }
                Err(e) => Err(io("rename into place", &dir)(e.into())),
            }
        })();
        match made {
            Ok((lock, mark)) => Ok(NewContainer {
                dir,
                lock: Some(lock),
                mark,
                keep: false,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e)
            }
        }
    }

    /// Writes the state (atomically) while still holding the lock.
    pub fn save(&self, state: &State) -> Result<()> {
        save_state(&self.dir, state)
    }

    /// The descriptor that holds the lock.
    pub fn lock_fd(&self) -> Option<std::os::fd::RawFd> {
        self.lock.as_ref().map(|l| l.as_raw_fd())
    }

    /// Keeps the directory: creation succeeded. The container it returns still holds the
    /// lock, until it is dropped.
    pub fn keep(mut self, state: State) -> Container {
        self.keep = true;
        Container {
            dir: self.dir.clone(),
            _lock: self.lock.take(),
            mark: self.mark.clone(),
            state,
        }
    }
}

impl Drop for NewContainer {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes `<root>/<id>` when it holds no `state.json`: left by an older rind killed in
/// `create` before its first state write, with nothing else made for it. Returns whether there
/// was such a directory.
pub fn remove_stateless(root: &Path, id: &str) -> Result<bool> {
    let dir = existing_dir(root, id)?;
    let _lock = match lock_dir(&dir) {
        Ok(l) => l,
        Err(ContainerError::Io { cause, .. })
            if matches!(
                cause.errno(),
                Some(nix::errno::Errno::ENOENT) | Some(nix::errno::Errno::ENOTDIR)
            ) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    if dir.join("state.json").exists() {
        return Ok(false);
    }
    std::fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
    Ok(true)
}

/// Removes the temporary directories of creates that were killed before renaming theirs into
/// place (`.creating-*` whose lock nobody holds).
pub fn sweep_unfinished(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().as_encoded_bytes().starts_with(b".creating-") {
            continue;
        }
        let path = e.path();
        let unlocked = File::open(&path)
            .ok()
            .and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).ok());
        if let Some(_lock) = unlocked {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
