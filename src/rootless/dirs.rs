//! Where a rootless user's containers and images live.
//!
//! runc keeps a rootless user's state in `$XDG_RUNTIME_DIR/runc`; rind uses
//! `$XDG_RUNTIME_DIR/rind`. That directory is the user's own (systemd-logind makes
//! `/run/user/<uid>` with mode 0700 and removes it at the last logout), so no other user can
//! see the containers in it. The image store goes under `$XDG_DATA_HOME/rind`, or
//! `~/.local/share/rind` when `XDG_DATA_HOME` is unset, and is made with mode 0700: a layer may
//! hold setuid files.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::RootlessError;

/// Where runc's rule puts the state: `$XDG_RUNTIME_DIR/rind` for a user that is not root (and
/// for root inside a user namespace, unless `USER` says root); `/run/rind` otherwise.
pub fn default_root(euid: u32) -> Result<PathBuf, RootlessError> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    let honour = euid != 0
        || (xdg.is_some()
            && crate::sys::in_user_namespace()
            && std::env::var("USER").map_or(true, |u| u != "root"));
    if !honour {
        return Ok(PathBuf::from("/run/rind"));
    }
    let Some(xdg) = xdg else {
        return Err(RootlessError::Dir(
            "XDG_RUNTIME_DIR is not set: rind keeps a rootless user's containers in $XDG_RUNTIME_DIR/rind (a login session sets it to /run/user/<uid>); set it to a directory you own, or pass --root DIR"
                .into(),
        ));
    };
    let dir = PathBuf::from(xdg);
    check_own_dir("XDG_RUNTIME_DIR", &dir, euid)?;
    Ok(dir.join("rind"))
}

/// `$XDG_DATA_HOME/rind`, or `$HOME/.local/share/rind`.
pub fn default_store() -> Result<PathBuf, RootlessError> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        let data = PathBuf::from(data);
        if !data.is_absolute() {
            return Err(RootlessError::Dir(format!(
                "XDG_DATA_HOME={} is not an absolute path",
                data.display()
            )));
        }
        return Ok(data.join("rind"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/rind")),
        None => Err(RootlessError::Dir(
            "neither XDG_DATA_HOME nor HOME is set: rind cannot place a rootless user's image store; set one, or pass --store DIR"
                .into(),
        )),
    }
}

/// `XDG_RUNTIME_DIR` must be an absolute path to an existing directory that the caller owns
/// and may write (the XDG base directory specification asks the same of it).
fn check_own_dir(var: &str, dir: &Path, euid: u32) -> Result<(), RootlessError> {
    let show = dir.display();
    if !dir.is_absolute() {
        return Err(RootlessError::Dir(format!(
            "{var}={show} is not an absolute path"
        )));
    }
    let md = std::fs::metadata(dir).map_err(|e| {
        RootlessError::Dir(format!("{var}={show}: {}", crate::error::Cause::from(e)))
    })?;
    if !md.is_dir() {
        return Err(RootlessError::Dir(format!(
            "{var}={show} is not a directory"
        )));
    }
    if md.uid() != euid {
        return Err(RootlessError::Dir(format!(
            "{var}={show} belongs to uid {}, not to you (uid {euid}): set it to your own runtime directory, or pass --root DIR",
            md.uid()
        )));
    }
    if md.permissions().mode() & 0o700 != 0o700 {
        return Err(RootlessError::Dir(format!(
            "{var}={show} (mode {:o}) is not writable and searchable by you",
            md.permissions().mode() & 0o7777
        )));
    }
    Ok(())
}

/// Creates the image store directory, private to the user (0700), when it is missing. The
/// parents are made as `mkdir -p` makes them.
pub fn ensure_private_store(store: &Path) -> Result<(), RootlessError> {
    if store.is_dir() {
        return Ok(());
    }
    if let Some(parent) = store.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            RootlessError::Dir(format!(
                "create {}: {}",
                parent.display(),
                crate::error::Cause::from(e)
            ))
        })?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(store) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(RootlessError::Dir(format!(
            "create image store {}: {}",
            store.display(),
            crate::error::Cause::from(e)
        ))),
    }
}
