//! The errors of the seccomp module: one line each, naming what is wrong.

use crate::error::SysError;

/// Why a seccomp profile could not be parsed, compiled, cached, installed or handed to an
/// agent.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A string in the profile that the runtime spec does not define: an action, operator,
    /// architecture or flag.
    #[error("seccomp: unknown {kind} {value:?} at {at}")]
    Unknown {
        kind: &'static str,
        value: String,
        /// Where in the profile, e.g. `syscalls[3].args[0].op`.
        at: String,
    },
    /// A profile that does not parse as the runtime spec's `linux.seccomp`.
    #[error("seccomp: parse profile: {0}")]
    Parse(String),
    /// An architecture the spec defines but this compiler has no syscall table for.
    #[error(
        "seccomp: architecture {0} is not supported (rind compiles SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32)"
    )]
    UnsupportedArch(String),
    /// A profile whose parts contradict each other or the kernel's limits.
    #[error("seccomp: {0}")]
    Invalid(String),
    /// The compiled filter is over the kernel's 4096-instruction limit.
    #[error("seccomp: the filter has {0} instructions, over the kernel's limit of 4096")]
    TooLong(usize),
    /// Bytes that are not a filter written by `Program::to_bytes`.
    #[error("seccomp: decode compiled filter: {0}")]
    Decode(String),
    /// A failed system step (install, cache file, agent socket).
    #[error(transparent)]
    Sys(#[from] SysError),
}
