//! rind: a small, fast OCI container runtime.
//!
//! The library holds everything; `src/main.rs` only parses the command line and maps errors to
//! exit codes. See `docs/architecture.md` for the map of modules.

pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod error;
pub mod image;
pub mod layers;
pub mod linux;
pub mod logging;
pub mod process;
pub mod rootless;
pub mod shell;
pub mod spec;
pub mod sys;
