//! Linux building blocks of a container: namespaces, the root filesystem, devices,
//! capabilities, users, rlimits, sysctls, seccomp, terminals and hooks.

pub mod capabilities;
pub mod cgroup_mount;
pub mod console;
pub mod devices;
pub mod fsmount;
pub mod hooks;
pub mod idmap;
pub mod masks;
pub mod mount_options;
pub mod mount_target;
pub mod namespaces;
pub mod network;
pub mod overlay;
pub mod paths;
pub mod pivot;
pub mod private_dir;
pub mod procfs;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod security;
pub mod signals;
pub mod sysctl;
pub mod terminal;
pub mod tmpcopyup;
pub mod user;

/// Kept at its old path for `rootless/`, which still names it here.
pub use crate::sys::read_pseudo_file;
