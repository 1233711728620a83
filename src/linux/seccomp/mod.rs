//! seccomp: compiles the runtime spec's `linux.seccomp` to a classic BPF filter, caches it,
//! installs it, and hands the user-notification listener to an agent.
//!
//! The compiler is rind's own, in pure Rust (no libseccomp), so the binary stays statically
//! linkable. It covers the x86 family: SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32.
//! `docs/seccomp.md` describes the filter's layout, the semantics chosen where the spec is
//! silent, and what is not supported.
//!
//! The intended use:
//!
//! ```no_run
//! # use std::path::Path;
//! # fn demo(spec: &oci_spec::runtime::LinuxSeccomp) -> Result<(), rind::linux::seccomp::SeccompError> {
//! use rind::linux::seccomp;
//! // In the runtime, before cloning: compile (or load from the cache).
//! let program = seccomp::compile_cached(spec, Path::new("/run/rind/.seccomp-cache"))?;
//! // In the container's init, after no_new_privs (or while holding CAP_SYS_ADMIN):
//! let listener = program.install()?;
//! # Ok(()) }
//! ```

mod bpf;
mod cache;
mod codegen;
#[cfg(test)]
mod differential_tests;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
mod interp;
mod notify;
mod parse;
mod profile;
mod program;
mod rules;
mod syscalls;
#[cfg(test)]
mod tests;

use oci_spec::runtime::LinuxSeccomp;

pub use bpf::{Insn, MAX_INSNS};
pub use cache::{cache_key, compile_cached, compile_cached_text};
pub use error::SeccompError;
pub use notify::send_listener;
pub use parse::{check_profile_value, parse_profile};
pub use profile::{default_profile, default_profile_for};
pub use program::Program;
pub use rules::BAD_ARCH_ACTION;

/// What the fuzz crate needs to check a compiled filter against its profile: the filter
/// interpreter, the kernel's load checks, the syscall tables and the return values.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use super::bpf::check;
    pub use super::interp::{Data, run};
    pub use super::rules::{
        RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRACE, RET_TRAP,
        RET_USER_NOTIF,
    };
    pub use super::syscalls::{Abi, X32_SYSCALL_BIT, all_names};
}

/// The actions `compile` accepts, for `rind features` (the runtime spec's `linux.seccomp`
/// features object): all of the spec's.
pub const SUPPORTED_ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
/// The argument operators `compile` accepts: all of the spec's.
pub const SUPPORTED_OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
/// The architectures `compile` has syscall tables for.
pub const SUPPORTED_ARCHES: &[&str] = &["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"];
/// The filter flags `compile` accepts: all of the spec's.
pub const SUPPORTED_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Compiles `spec` to a filter. Fails with an error naming the field for an unsupported
/// architecture, an argument index over 5, an errnoRet that does not fit, NOTIFY as the
/// default action or without a listenerPath, and a filter over 4096 instructions.
///
/// Syscall names unknown to an architecture are skipped for it; names unknown to all of the
/// filter's architectures are logged at debug level.
pub fn compile(spec: &LinuxSeccomp) -> Result<Program, SeccompError> {
    let rules = rules::lower(spec)?;
    let insns = codegen::generate(&rules);
    if insns.len() > MAX_INSNS {
        return Err(SeccompError::TooLong(insns.len()));
    }
    debug_assert!(bpf::check(&insns).is_ok());
    Ok(Program {
        insns,
        flags: rules.flags,
    })
}
