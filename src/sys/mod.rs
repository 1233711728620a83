//! The ground floor: small pieces every other module may use and that use nothing of rind's
//! but [`crate::error`]: whole reads of procfs-like files ([`read_pseudo_file`],
//! [`proc_stat`]), the one `/proc/<pid>/mountinfo` parser ([`mountinfo`]), the one
//! write-to-a-temporary-file-and-rename ([`atomic_file`]), and the `--trace` timeline
//! ([`trace`]).
//!
//! Writes into procfs, and reads of a procfs a container could have reached, do not belong
//! here: they go through the verified procfs root of [`crate::linux::procfs`].

pub mod atomic_file;
pub mod mountinfo;
pub mod proc_stat;
pub mod trace;

pub use atomic_file::{Durability, write_atomic};
pub use proc_stat::{ProcStat, parse_stat, proc_stat};

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

/// True inside a user namespace other than the initial one: its `uid_map` is not the identity
/// over all 2^32-1 ids.
pub fn in_user_namespace() -> bool {
    match read_pseudo_file("/proc/self/uid_map", 64) {
        Ok(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => false,
    }
}

/// For a unit test that needs what only the host's checkout has (the source tree, binutils):
/// in the VM guest (`RIND_VM_MODE`) it records `test` as skipped with `reason` in the suite's
/// skip log (`RIND_SKIP_LOG`, which `scripts/test.sh` counts) and returns true, so the test
/// returns; on the host it returns false and the test runs, failing if the prerequisite is
/// missing.
#[cfg(test)]
pub(crate) fn skipped_in_vm_guest(test: &str, reason: &str) -> bool {
    if std::env::var_os("RIND_VM_MODE").is_none() {
        return false;
    }
    if let Some(log) = std::env::var_os("RIND_SKIP_LOG") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        writeln!(f, "lib::{test}: {reason}").unwrap();
    }
    true
}
