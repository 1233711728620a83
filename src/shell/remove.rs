//! Removing containers: the state (as `delete` does), and for an image container also its
//! root and bundle; leftovers of interrupted runs; and the sweep that removes `--rm`
//! containers whose monitor is gone.

use std::path::Path;

use super::launch::release_bundle;
use super::record::{BundleLock, Record};
use super::{ShellError, containers_dir};
use crate::container::{self, Container, ContainerError, LifecycleError, Status};

/// What [`remove`] removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// A container made from a bundle the caller owns: only its state (as `delete`).
    State,
    /// An image container: state, root and bundle.
    ImageContainer,
    /// The root and bundle of an image container whose state was already gone.
    Leftover,
}

/// Removes container `id` of `root`. Without `force` a running container is refused; with it,
/// it is killed first. For an image container (its bundle in `store` carries its record) the
/// overlayfs root is unmounted and the bundle removed too. A runc-style bundle is never
/// touched. An id with no state but a bundle in `store` made for this root (a run that was
/// interrupted) has its bundle removed.
pub fn remove(root: &Path, store: &Path, id: &str, force: bool) -> Result<Removed, ShellError> {
    match Container::load(root, id) {
        Ok(c) => {
            let record = Record::for_state(&c.state);
            drop(c);
            match record {
                Some(r) => remove_record(root, &r, force).map(|()| Removed::ImageContainer),
                None => {
                    container::delete(root, id, force)?;
                    Ok(Removed::State)
                }
            }
        }
        Err(ContainerError::NotExist(_)) => remove_leftover(root, store, id),
        Err(e) => Err(e.into()),
    }
}

/// Removes an image container given its record: under the bundle lock, the state (killing the
/// container first with `force`), then the root and the bundle. Safe to race with itself.
pub(super) fn remove_record(root: &Path, r: &Record, force: bool) -> Result<(), ShellError> {
    let Some(_lock) = BundleLock::acquire(&r.bundle)? else {
        // Someone else removed the bundle; the state went first.
        return match container::delete(root, &r.id, force) {
            Ok(()) | Err(LifecycleError::Container(ContainerError::NotExist(_))) => Ok(()),
            Err(e) => Err(e.into()),
        };
    };
    match container::delete(root, &r.id, force) {
        Ok(()) => {}
        Err(LifecycleError::Container(ContainerError::NotExist(_))) => {}
        Err(LifecycleError::State(msg)) => {
            return Err(ShellError::Invalid(format!(
                "{msg} (stop it first, or use rm -f)"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    release_bundle(&r.bundle)
}

/// Removes the bundle `<store>/containers/<id>` of a run that never got (or no longer has) a
/// container in `root`. A bundle whose record names another root is left alone.
pub fn remove_leftover(root: &Path, store: &Path, id: &str) -> Result<Removed, ShellError> {
    container::id::validate(id)?;
    let dir = containers_dir(store).join(id);
    let not_found = || Err(ContainerError::NotExist(id.to_string()).into());
    let Some(_lock) = BundleLock::acquire(&dir)? else {
        return not_found();
    };
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    if let Some(r) = Record::load(&dir)? {
        if r.root != root {
            return not_found();
        }
        // The container may have been created while we waited for the lock.
        if container::dir_of(&root, id)?.join("state.json").exists() {
            return Err(ShellError::Invalid(format!(
                "container {id} exists again; run rm once more"
            )));
        }
    }
    release_bundle(&dir)?;
    Ok(Removed::Leftover)
}

/// The sweep as the mutating shell verbs (`run --image`, `rm`) run it first: a failure is a
/// warning, never the verb's error. The read-only verbs (`list`, `ps`, `state`) never sweep:
/// engines call them to look, not to change anything.
pub fn sweep_and_warn(root: &Path) {
    for e in sweep(root).1 {
        crate::logging::warn(&format!("remove a stopped --rm container: {e}"));
    }
}

/// Removes every stopped image container of `root` that was run with `--rm` (its monitor was
/// killed, or the host went down before it could). Returns the ids removed; failures are
/// returned beside them so that the verb that sweeps can still do its own work.
pub fn sweep(root: &Path) -> (Vec<String>, Vec<ShellError>) {
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    let ids = match container::list_ids(root) {
        Ok(ids) => ids,
        Err(e) => return (removed, vec![e.into()]),
    };
    for id in ids {
        let Ok(c) = Container::load(root, &id) else {
            continue;
        };
        if c.status() != Status::Stopped {
            continue;
        }
        let Some(r) = Record::for_state(&c.state).filter(|r| r.rm) else {
            continue;
        };
        drop(c);
        match remove_record(root, &r, false) {
            Ok(()) => removed.push(id),
            Err(e) => errors.push(e),
        }
    }
    (removed, errors)
}
