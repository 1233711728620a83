//! Containers run from images, for a person at a shell: `rind run --image`, `stop`, `rm`,
//! `logs`, `inspect`, and the image and command columns of `list`. See docs/shell.md.
//!
//! An image container is an ordinary rind container (state under `--root`, the same create,
//! start, kill and delete) whose bundle rind made itself, in the image store:
//!
//! ```text
//! <store>/containers/<name>/      the bundle, flock'ed while it is set up or removed
//!     config.json                 the spec: the image's config, the flags, the base spec
//!     rootfs/ upper/ work/        the overlayfs root (image::Store::prepare_rootfs)
//!     image-root.json             how the root was made, for releasing it
//!     run.json                    this module's record: image, command, --rm, log, root
//!     container.log               stdout and stderr of a detached container
//!     exit.json                   the exit code, once known
//! ```
//!
//! The bundle lives in the store, not in the state directory, because the state directory is
//! on tmpfs (`/run`) and is removed whole by `delete`: an upper directory there would spend
//! memory, and a recursive removal must never walk into a mounted root.

pub mod bundle;
mod launch;
pub mod logs;
pub mod names;
pub mod record;
mod remove;
mod run;
pub mod stop;
pub mod summary;

use std::path::PathBuf;

use crate::container::{ContainerError, LifecycleError};
use crate::error::SysError;
use crate::image::ImageError;

pub use bundle::{Network, RunRequest, Volume};
pub use launch::{Reserved, StartOptions, finish, reserve, start};
pub use record::{Exit, Record};
pub use remove::{Removed, remove, remove_leftover, sweep, sweep_and_warn};
pub use run::{detach_stdin, run_detached, run_foreground};
pub use stop::{StopOutcome, stop};

/// The file a detached container's stdout and stderr are appended to, in its bundle.
pub const LOG_FILE: &str = "container.log";

/// Why an image-container operation failed. Each message names the step and the container.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error(transparent)]
    InvalidId(#[from] crate::container::id::InvalidId),
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    /// A flag or argument that cannot be used as given.
    #[error("{0}")]
    Invalid(String),
    /// The name is used by a container or by a bundle in the store.
    #[error("the name {name:?} is already in use ({by})")]
    NameInUse { name: String, by: String },
    #[error("{what} {path}: {reason}")]
    Record {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// The directory under the store that holds image containers' bundles.
pub fn containers_dir(store: &std::path::Path) -> PathBuf {
    store.join("containers")
}
