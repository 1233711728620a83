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

/// Reads a procfs (or sysfs, cgroupfs) file whole. Such files report a size of 0, so
/// `std::fs::read_to_string` starts with a 32-byte read and doubles from there: 7 reads for
/// mountinfo, each making the kernel walk the mount list again to its offset. `capacity` is
/// what the file usually needs, so that one read gets it and a second sees the end.
pub fn read_pseudo_file(
    path: impl AsRef<std::path::Path>,
    capacity: usize,
) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(capacity);
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
