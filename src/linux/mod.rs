//! Linux building blocks of a container: namespaces, the root filesystem, devices,
//! capabilities, users, rlimits, seccomp, terminals and hooks.

pub mod seccomp;
