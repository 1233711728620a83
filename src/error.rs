//! The error contract, in one place.
//!
//! - Library modules return typed errors (`thiserror`) whose message names the step and the
//!   path: "mount proc on /proc: permission denied".
//! - The operating system's part of a message is a [`Cause`]: the lower-case text of the errno
//!   ("no such file or directory"), the words engines match on (podman maps "permission denied"
//!   to exit code 126 and "no such file or directory" to 127), without Rust's "(os error N)".
//! - Commands add context with `anyhow` and never print; `main` prints the whole chain on one
//!   line (`a: b: c`) and writes it to `--log` when asked. Errors are logged once, where handled.
//! - Nothing panics on user input.

use std::fmt;
use std::io;

use nix::errno::Errno;

/// The system-level reason an operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// An errno from a system call.
    Errno(Errno),
    /// Anything else, already worded for the user.
    Other(String),
}

impl Cause {
    /// The errno, if the cause is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Cause::Errno(e) => Some(*e),
            Cause::Other(_) => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Errno(e) => f.write_str(&errno_text(*e)),
            Cause::Other(s) => f.write_str(s),
        }
    }
}

impl From<Errno> for Cause {
    fn from(e: Errno) -> Self {
        Cause::Errno(e)
    }
}

impl From<io::Error> for Cause {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(n) => Cause::Errno(Errno::from_raw(n)),
            None => Cause::Other(e.to_string()),
        }
    }
}

/// The errno's description in lower case, as Go and runc print it: "no such file or directory".
///
/// The text is the C library's (`strerror`), which Go's table copies; nix's own descriptions
/// differ for about twenty errnos ("operation not supported on transport endpoint" for
/// EOPNOTSUPP, "try again" for EAGAIN, "out of memory" for ENOMEM).
pub fn errno_text(e: Errno) -> String {
    let full = io::Error::from_raw_os_error(e as i32).to_string();
    // std appends " (os error N)" to the C library's text.
    let desc = full.split(" (os error ").next().unwrap_or_default();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("errno {}", e as i32),
    }
}

/// A failed system step: what was done, to which path, and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {cause}")]
pub struct SysError {
    /// The step and its object, e.g. "mount proc on /proc".
    pub step: String,
    pub cause: Cause,
}

impl SysError {
    pub fn new(step: impl Into<String>, cause: impl Into<Cause>) -> Self {
        SysError {
            step: step.into(),
            cause: cause.into(),
        }
    }
}

/// Adds a step description to a `Result` whose error converts into a [`Cause`].
pub trait StepContext<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, SysError>;
}

impl<T, E: Into<Cause>> StepContext<T> for Result<T, E> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, SysError> {
        self.map_err(|e| SysError::new(step(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_lower_case_without_os_error_suffix() {
        assert_eq!(errno_text(Errno::ENOENT), "no such file or directory");
        assert_eq!(errno_text(Errno::EACCES), "permission denied");
    }

    #[test]
    fn errno_text_matches_go_where_nix_words_it_differently() {
        assert_eq!(errno_text(Errno::EOPNOTSUPP), "operation not supported");
        assert_eq!(
            errno_text(Errno::EAGAIN),
            "resource temporarily unavailable"
        );
        assert_eq!(errno_text(Errno::ENOMEM), "cannot allocate memory");
        assert_eq!(
            errno_text(Errno::ELOOP),
            "too many levels of symbolic links"
        );
        assert_eq!(errno_text(Errno::ERANGE), "numerical result out of range");
        assert_eq!(errno_text(Errno::ENOTTY), "inappropriate ioctl for device");
    }

    #[test]
    fn sys_error_reads_step_then_cause() {
        let e = SysError::new("mount proc on /proc", Errno::EPERM);
        assert_eq!(
            e.to_string(),
            "mount proc on /proc: operation not permitted"
        );
    }

    #[test]
    fn io_error_keeps_its_errno() {
        let c = Cause::from(io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(c.errno(), Some(Errno::EACCES));
    }
}
