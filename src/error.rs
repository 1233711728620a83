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

/// The longest run of non-blank characters (a path, a quoted value) a printed line keeps
/// whole; a longer one keeps its head and tail around an ellipsis.
pub const MAX_VALUE: usize = 200;

/// The longest line printed; a longer one keeps its head and tail (the cause) around an
/// ellipsis.
pub const MAX_LINE: usize = 2000;

/// A message made fit to print as one line of an error, a warning or a log entry, whatever
/// values it quotes: control characters (newlines from a config value, escape sequences from
/// a file name) are escaped as `\n`, `\t`, `\u{1b}`; each run of non-blank characters longer
/// than [`MAX_VALUE`] (a 20 KB path) is cut to its head and tail; and the line to
/// [`MAX_LINE`]. `main` and `logging` pass every line they print through it.
pub fn one_line(msg: &str) -> String {
    let mut escaped = String::with_capacity(msg.len());
    for c in msg.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            // Also the Unicode line and paragraph separators, which some terminals break on.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                escaped.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => escaped.push(c),
        }
    }
    let mut out = String::with_capacity(escaped.len().min(MAX_LINE + 8));
    for (i, word) in escaped.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&cut_middle(word, MAX_VALUE));
    }
    cut_middle(&out, MAX_LINE).into_owned()
}

/// `s` if it has at most `max` characters, else its first and last characters around "…".
fn cut_middle(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let n = s.chars().count();
    if n <= max {
        return s.into();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out.into()
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
    fn one_line_escapes_control_characters() {
        assert_eq!(
            one_line("bad value \"a\nb\tc\u{1b}[31m\"\r"),
            "bad value \"a\\nb\\tc\\u{1b}[31m\"\\r"
        );
        assert_eq!(one_line("plain: no such file"), "plain: no such file");
    }

    #[test]
    fn one_line_cuts_a_long_value_and_keeps_the_cause() {
        let path = format!("/{}", "d/".repeat(10_000));
        let line = one_line(&format!("resolve {path}: file name too long"));
        assert!(line.starts_with("resolve /d/d/"), "{line}");
        assert!(line.ends_with(": file name too long"), "{line}");
        assert!(line.contains('…'));
        assert!(line.chars().count() < 300, "{}", line.len());
        // A long line of short words keeps its ends too.
        let words = "word ".repeat(2000);
        let line = one_line(&format!("start {words}end"));
        assert_eq!(line.chars().count(), MAX_LINE);
        assert!(line.starts_with("start ") && line.ends_with(" end"));
    }

    #[test]
    fn one_line_cuts_on_character_boundaries() {
        let v = "é".repeat(500);
        let line = one_line(&v);
        assert_eq!(line.chars().count(), MAX_VALUE);
    }

    #[test]
    fn io_error_keeps_its_errno() {
        let c = Cause::from(io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(c.errno(), Some(Errno::EACCES));
    }
}
