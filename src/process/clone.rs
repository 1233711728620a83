//! `clone3(2)`: a fork that can also place the child in new namespaces and, on cgroup v2, in
//! its cgroup, atomically.
//!
//! The runtime is single-threaded up to this point (no async runtime, no thread pool), so the
//! child is an ordinary copy of the runtime and may run Rust code. It bypasses glibc's fork
//! handlers, so in the child glibc's cached thread id is stale: the child must not call
//! `raise`/`abort` and leaves through `_exit` (see `init::main`).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::SysError;

/// `CLONE_INTO_CGROUP` from <linux/sched.h> (libc types it too narrowly).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
use crate::linux::namespaces::{CLONE_NEWTIME, describe};

/// Which side of the clone this is.
pub enum Forked {
    Child,
    Parent {
        pid: Pid,
        /// The kernel placed the child in the cgroup (CLONE_INTO_CGROUP).
        in_cgroup: bool,
    },
}

/// Clones with `flags` (namespace flags, may include `CLONE_NEWTIME`), into `cgroup` when
/// given. Falls back to a clone without the cgroup when the kernel refuses it, and to
/// clone(2) on kernels without clone3.
pub fn clone3(flags: u64, cgroup: Option<&OwnedFd>) -> Result<Forked, SysError> {
    if let Some(fd) = cgroup {
        match raw_clone3(flags | CLONE_INTO_CGROUP, Some(fd)) {
            Ok(r) => return Ok(with_cgroup(r, true)),
            Err(Errno::ENOSYS) => return legacy_clone(flags),
            // E.g. the cgroup has no domain controllers enabled: place it by hand instead.
            Err(_) => {}
        }
    }
    match raw_clone3(flags, None) {
        Ok(r) => Ok(with_cgroup(r, false)),
        Err(Errno::ENOSYS) => legacy_clone(flags),
        Err(e) => Err(SysError::new(
            format!("clone3 with namespaces {}", describe(flags)),
            e,
        )),
    }
}

fn with_cgroup(r: Option<Pid>, in_cgroup: bool) -> Forked {
    match r {
        None => Forked::Child,
        Some(pid) => Forked::Parent { pid, in_cgroup },
    }
}

fn raw_clone3(flags: u64, cgroup: Option<&OwnedFd>) -> Result<Option<Pid>, Errno> {
    // SAFETY: clone_args is plain data; zero is a valid value for every field.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags;
    args.exit_signal = libc::SIGCHLD as u64;
    if let Some(fd) = cgroup {
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: without CLONE_VM the child gets a copy of the address space, like fork(2); the
    // arguments point to a live, correctly sized struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match Errno::result(r)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// clone(2) without a new stack behaves like fork. It cannot express CLONE_NEWTIME.
fn legacy_clone(flags: u64) -> Result<Forked, SysError> {
    if flags & CLONE_NEWTIME != 0 {
        return Err(SysError::new(
            "clone a time namespace (the kernel lacks clone3)",
            Errno::ENOSYS,
        ));
    }
    // SAFETY: a null stack makes clone(2) copy the address space like fork(2).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    };
    match Errno::result(r) {
        Ok(0) => Ok(Forked::Child),
        Ok(pid) => Ok(Forked::Parent {
            pid: Pid::from_raw(pid as i32),
            in_cgroup: false,
        }),
        Err(e) => Err(SysError::new(
            format!("clone with namespaces {}", describe(flags)),
            e,
        )),
    }
}
