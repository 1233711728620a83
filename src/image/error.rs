//! The image subsystem's error type. Each message names the step and the object (a path, a
//! digest, a tar entry) and ends with the reason, on one line.

use crate::error::SysError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A system call failed; the step names the path.
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error("invalid digest {0:?}: want sha256:<64 lower-case hex digits>")]
    BadDigest(String),
    #[error("invalid image reference {reference:?}: {reason}")]
    BadReference { reference: String, reason: String },
    /// Content did not hash to what its descriptor promised.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// Malformed input: bad JSON, a broken tar, a missing file in an archive.
    #[error("{what}: {reason}")]
    Malformed { what: String, reason: String },
    /// A layer entry that would escape the root or is otherwise unsafe; nothing was written
    /// for it.
    #[error("layer {layer}: entry {entry:?} refused: {reason}")]
    Refused {
        layer: String,
        entry: String,
        reason: String,
    },
    /// An expansion or entry-count limit was hit (a decompression bomb, or a limit set too low).
    #[error("layer {layer}: {reason} (override with {knob})")]
    Limit {
        layer: String,
        reason: String,
        knob: &'static str,
    },
    #[error("image {0:?} not found in the store")]
    NotFound(String),
    /// A registry answered with an error or could not be reached.
    #[error("registry {step}: {reason}")]
    Registry { step: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
    /// The store directory is not one only its owner can reach.
    #[error(transparent)]
    Private(#[from] crate::linux::private_dir::PrivateDirError),
}

impl ImageError {
    pub fn malformed(what: impl Into<String>, reason: impl ToString) -> Self {
        ImageError::Malformed {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub fn sys(step: impl Into<String>, cause: impl Into<crate::error::Cause>) -> Self {
        ImageError::Sys(SysError::new(step, cause))
    }
}
