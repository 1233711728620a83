//! procfs, reached only through a descriptor on a procfs the runtime verified.
//!
//! Every write rind makes to procfs (sysctls, `oom_score_adj`, `timens_offsets`, `uid_map` and
//! `gid_map`, the AppArmor exec attribute) and every read whose answer matters (`setgroups`,
//! `mountinfo`, the user namespace of init) goes through this module, never through a
//! `/proc/...` path. A path is resolved by whoever owns the mount namespace at the time: an
//! image can ship `/proc/sys/net/ipv4/tcp_keepalive_time` as a symlink to another procfs's
//! `sys/fs/lease-break-time` (CVE-2025-52881), a fake `/proc/self/attr/exec` in a directory
//! that is not procfs at all (CVE-2019-16884), or a container can mount over `/proc/self/attr`
//! before an `exec`.
//!
//! The handle is an `O_PATH` descriptor of a procfs root: `fstatfs` says `PROC_SUPER_MAGIC` and
//! the inode is procfs's root inode (1). It is, in this order of preference:
//!
//! 1. the container's own procfs, adopted right after init mounted it on `/proc` and checked
//!    ([`adopt`]): a fresh instance nothing has been mounted on yet, of the container's PID
//!    namespace, whose descriptor gives nothing a container process does not already see;
//! 2. else whatever `/proc` is when the process first needs it, verified: for the runtime and
//!    for init before its mounts, the host's.
//!
//! Files are opened beneath that root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_XDEV |
//! RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)`, and the file opened is checked to be on procfs
//! once more. A symlink on the way, or another mount over any part of the path (a tmpfs over
//! `/proc/self/attr`, a bind over `/proc/sys`), is refused with an error that says so. The one
//! symlink allowed is procfs's own `self` (to the process's directory), resolved without
//! crossing a mount.
//!
//! Cost: opening and checking the root is three system calls, once per process; each file is
//! two `openat2` (one for `self`) and one `fstatfs`. A private procfs (`fsopen`) or a clone of
//! `/proc` (`open_tree`) would be as safe, but creating one costs more than the whole of this
//! per process (docs/benchmarks.md, "Measurements the code cites") and tearing a detached
//! mount down waits for an RCU grace period.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use super::paths::openat2_retrying;
use crate::error::{Cause, SysError};

/// `PROC_SUPER_MAGIC` from <linux/magic.h>.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// `SYSFS_MAGIC` from <linux/magic.h>.
pub const SYSFS_MAGIC: i64 = 0x6265_6572;
/// `NSFS_MAGIC` from <linux/magic.h>.
const NSFS_MAGIC: i64 = 0x6e73_6673;
/// The inode number of every procfs instance's root directory (`PROC_ROOT_INO`).
const PROC_ROOT_INO: u64 = 1;

/// The verified procfs root of this process; opened on first use, or adopted.
static ROOT: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// The magic number of the filesystem `fd` is on (`fstatfs`).
pub fn fs_magic(fd: &impl AsFd) -> Result<i64, Errno> {
    // `f_type` is an i64 on 64-bit targets only.
    #[allow(clippy::unnecessary_cast)]
    nix::sys::statfs::fstatfs(fd).map(|s| s.filesystem_type().0 as i64)
}

/// Whether `fd` is open on the root directory of a procfs instance.
pub fn is_procfs_root(fd: &impl AsFd) -> Result<bool, Errno> {
    if fs_magic(fd)? != PROC_SUPER_MAGIC {
        return Ok(false);
    }
    Ok(nix::sys::stat::fstat(fd)?.st_ino == PROC_ROOT_INO)
}

/// Makes `fd` (a procfs root the caller just mounted) the handle of this process, in place of
/// whatever was opened before. Refused when it is not a procfs root.
pub fn adopt(fd: OwnedFd) -> Result<(), SysError> {
    match is_procfs_root(&fd) {
        Ok(true) => {
            *lock() = Some(fd);
            Ok(())
        }
        Ok(false) => Err(SysError::new(
            "use the container's /proc",
            Cause::Other("it is not the root of a procfs".into()),
        )),
        Err(e) => Err(SysError::new("use the container's /proc", e)),
    }
}

/// Closes the handle (`process::fds::close_from_except` does, before it closes every descriptor
/// a process does not pass on): a number kept here after that close would name whatever is
/// opened next under it. The next procfs access opens `/proc` again and checks it.
pub fn forget() {
    // try_lock: a child of a clone must not wait for a lock another thread of its parent held
    // at the clone (that thread is not in the child). Nothing else in this process can hold it.
    match ROOT.try_lock() {
        Ok(mut guard) => drop(guard.take()),
        Err(std::sync::TryLockError::Poisoned(p)) => drop(p.into_inner().take()),
        Err(std::sync::TryLockError::WouldBlock) => {}
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<OwnedFd>> {
    ROOT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` with the procfs root, opening and checking `/proc` first if nothing was adopted.
fn with_root<T>(f: impl FnOnce(BorrowedFd<'_>) -> Result<T, Errno>) -> Result<T, Cause> {
    let mut guard = lock();
    if guard.is_none() {
        let fd = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(Cause::from)?;
        if !is_procfs_root(&fd).map_err(Cause::from)? {
            return Err(Cause::Other(
                "/proc is not the root of a procfs (refused)".into(),
            ));
        }
        *guard = Some(fd);
    }
    let root = guard.as_ref().expect("set above");
    f(root.as_fd()).map_err(explain)
}

/// What an `openat2` refusal means here.
fn explain(e: Errno) -> Cause {
    let why = match e {
        Errno::EXDEV => "another filesystem is mounted on the way (refused)",
        Errno::ELOOP => "a symlink on the way (refused)",
        Errno::EMEDIUMTYPE => "it is not a procfs file (refused)",
        e => return Cause::Errno(e),
    };
    Cause::Other(why.into())
}

fn strict() -> ResolveFlag {
    ResolveFlag::RESOLVE_BENEATH
        | ResolveFlag::RESOLVE_NO_XDEV
        | ResolveFlag::RESOLVE_NO_MAGICLINKS
        | ResolveFlag::RESOLVE_NO_SYMLINKS
}

/// Opens `rel` beneath `dir` without following anything, and checks the file is on procfs
/// (`EMEDIUMTYPE` if not).
fn open_beneath(dir: BorrowedFd<'_>, rel: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
    let extra = if flags.contains(OFlag::O_PATH) {
        OFlag::O_CLOEXEC
    } else {
        OFlag::O_CLOEXEC | OFlag::O_NOCTTY
    };
    let how = OpenHow::new().flags(flags | extra).resolve(strict());
    let fd = openat2_retrying(dir, rel, how)?;
    if fs_magic(&fd)? != PROC_SUPER_MAGIC {
        return Err(Errno::EMEDIUMTYPE);
    }
    Ok(fd)
}

/// The process's own directory: procfs's `self` link, followed without crossing a mount.
fn self_dir(root: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_XDEV
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
    openat2_retrying(root, "self", how)
}

/// Which process's directory a file is in.
#[derive(Clone, Copy)]
enum Base {
    /// The calling process (`/proc/self`).
    Myself,
    /// Another process, by its pid in the procfs's PID namespace.
    Pid(i32),
    /// The procfs root (`/proc/sys/...`).
    Root,
}

fn shown(base: Base, rel: &str) -> String {
    match base {
        Base::Myself => format!("/proc/self/{rel}"),
        Base::Pid(pid) => format!("/proc/{pid}/{rel}"),
        Base::Root => format!("/proc/{rel}"),
    }
}

fn open_at(base: Base, rel: &str, flags: OFlag) -> Result<OwnedFd, Cause> {
    with_root(|root| match base {
        Base::Myself => open_beneath(self_dir(root)?.as_fd(), Path::new(rel), flags),
        Base::Pid(pid) => open_beneath(root, &Path::new(&pid.to_string()).join(rel), flags),
        Base::Root => open_beneath(root, Path::new(rel), flags),
    })
}

fn write_at(base: Base, rel: &str, data: &[u8]) -> Result<(), SysError> {
    let fd = open_at(base, rel, OFlag::O_WRONLY)
        .map_err(|c| SysError::new(format!("open {}", shown(base, rel)), c))?;
    // procfs files take a write whole, in one call.
    let n = nix::unistd::write(&fd, data)
        .map_err(|e| SysError::new(format!("write {}", shown(base, rel)), e))?;
    if n != data.len() {
        return Err(SysError::new(
            format!("write {}", shown(base, rel)),
            Cause::Other(format!("short write ({n} of {} bytes)", data.len())),
        ));
    }
    Ok(())
}

/// Opens `/proc/self/<rel>` with `flags` (the error names the path).
pub fn open_self(rel: &str, flags: OFlag) -> Result<OwnedFd, SysError> {
    open_at(Base::Myself, rel, flags)
        .map_err(|c| SysError::new(format!("open {}", shown(Base::Myself, rel)), c))
}

/// Writes `data` to `/proc/self/<rel>` in one write.
pub fn write_self(rel: &str, data: &[u8]) -> Result<(), SysError> {
    write_at(Base::Myself, rel, data)
}

/// Writes `data` to `/proc/<pid>/<rel>`, `pid` as the handle's PID namespace numbers it (the
/// runtime's: the host's).
pub fn write_pid(pid: i32, rel: &str, data: &[u8]) -> Result<(), SysError> {
    write_at(Base::Pid(pid), rel, data)
}

/// Reads `/proc/self/<rel>` whole (`capacity`: what it usually needs, see
/// [`read_pseudo_file`](crate::sys::read_pseudo_file)).
pub fn read_self(rel: &str, capacity: usize) -> Result<String, SysError> {
    use std::io::Read;
    let step = || format!("read {}", shown(Base::Myself, rel));
    let fd = open_at(Base::Myself, rel, OFlag::O_RDONLY).map_err(|c| SysError::new(step(), c))?;
    let mut buf = Vec::with_capacity(capacity);
    std::fs::File::from(fd)
        .read_to_end(&mut buf)
        .map_err(|e| SysError::new(step(), Cause::from(e)))?;
    String::from_utf8(buf).map_err(|_| SysError::new(step(), Cause::Other("not UTF-8".into())))
}

/// The `/proc/sys` file of a sysctl key, relative to the procfs root: dots become slashes
/// (`net.ipv4.ip_forward` or `net/ipv4/ip_forward` is `sys/net/ipv4/ip_forward`), as runc
/// reads keys.
pub fn sysctl_path(key: &str) -> PathBuf {
    Path::new("sys").join(key.replace('.', "/"))
}

/// Writes a sysctl through the handle: the file is the calling process's namespaces' (network,
/// IPC, UTS), whichever procfs instance it is reached through.
pub fn write_sysctl(key: &str, value: &str) -> Result<(), SysError> {
    let rel = sysctl_path(key);
    let rel = rel.to_string_lossy();
    write_at(Base::Root, &rel, value.as_bytes())
        .map_err(|e| SysError::new(format!("sysctl {key}={value:?}: {}", e.step), e.cause))
}

/// Opens the process's namespace of type `name` (`/proc/self/ns/<name>`), checked to be a
/// namespace of type `nstype` (`CLONE_NEWUSER`...).
pub fn open_self_ns(name: &str, nstype: libc::c_int) -> Result<OwnedFd, SysError> {
    open_ns(Base::Myself, name, nstype)
}

/// Opens the namespace of type `name` of process `pid` (`/proc/<pid>/ns/<name>`).
pub fn open_pid_ns(pid: i32, name: &str, nstype: libc::c_int) -> Result<OwnedFd, SysError> {
    open_ns(Base::Pid(pid), name, nstype)
}

/// The `ns` directory is reached as any file here; its entries are links into nsfs that only
/// the kernel makes (which `RESOLVE_NO_MAGICLINKS` would refuse), and the file opened is checked
/// to be a namespace of the type asked for.
fn open_ns(base: Base, name: &str, nstype: libc::c_int) -> Result<OwnedFd, SysError> {
    let rel = format!("ns/{name}");
    let step = || format!("open {}", shown(base, &rel));
    let dir = open_at(base, "ns", OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|c| SysError::new(step(), c))?;
    let fd = nix::fcntl::openat(
        &dir,
        name,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SysError::new(step(), e))?;
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the CLONE_NEW* type.
    let typ = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if fs_magic(&fd).map_err(|e| SysError::new(step(), e))? != NSFS_MAGIC || typ != nstype {
        return Err(SysError::new(
            step(),
            Cause::Other("it is not a namespace of that type".into()),
        ));
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_under_sys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            PathBuf::from("sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("kernel/shmmax"),
            PathBuf::from("sys/kernel/shmmax")
        );
    }

    #[test]
    fn the_hosts_proc_is_a_procfs_root_and_its_subdirectories_are_not() {
        let root = nix::fcntl::open("/proc", OFlag::O_PATH, Mode::empty()).unwrap();
        assert!(is_procfs_root(&root).unwrap());
        let sys = nix::fcntl::open("/proc/sys", OFlag::O_PATH, Mode::empty()).unwrap();
        assert!(!is_procfs_root(&sys).unwrap());
        let tmp = nix::fcntl::open("/tmp", OFlag::O_PATH, Mode::empty()).unwrap();
        assert!(!is_procfs_root(&tmp).unwrap());
    }

    #[test]
    fn own_files_are_read_through_the_handle() {
        let status = read_self("status", 4096).unwrap();
        let pid = std::process::id().to_string();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("Pid:") && l.ends_with(&pid)),
            "{status}"
        );
        let ns = open_self_ns("net", libc::CLONE_NEWNET).unwrap();
        assert_eq!(fs_magic(&ns).unwrap(), NSFS_MAGIC);
        assert!(open_self_ns("net", libc::CLONE_NEWUSER).is_err());
    }

    #[test]
    fn magic_links_and_dotdot_are_refused() {
        // exe is a magic link; `..` would climb out of the process's directory.
        assert!(open_self("exe", OFlag::O_RDONLY).is_err());
        assert!(open_self("../self/status", OFlag::O_RDONLY).is_err());
        let err = open_self("cwd/etc", OFlag::O_RDONLY).unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
