//! What ties a container's `state.json` to the kernel objects it names, so that a rewritten
//! state file cannot turn a verb against something else.
//!
//! `state.json` is only a file: whoever rewrites it can name any pid (with its start time) and
//! any cgroup directory. Before rind signals, freezes, joins or removes anything, it checks
//! what the file says against two things the file cannot forge:
//!
//! - **The cgroup's mark.** When `create` makes a cgroup directory it sets the extended
//!   attribute `trusted.rind.<dev>-<ino>` on it, whose value is the container id; `<dev>` and
//!   `<ino>` identify the container's state directory itself (the inode, not its name or
//!   content). Only a process with `CAP_SYS_ADMIN` in the host's user namespace can set a
//!   `trusted.` attribute, so neither a container nor an edit of the state file can put the
//!   mark on a directory rind did not make for this very container. A cgroup directory
//!   without it is never signalled, frozen, updated or emptied; `delete` only removes it when
//!   it is empty (the one such directory rind can leave is the one a runtime killed between
//!   its `mkdir` and its mark made, with nothing in it yet).
//! - **The rootless mark.** A runtime without privilege in the host's user namespace (an
//!   ordinary user, or root in rootless podman's user namespace) cannot set `trusted.`
//!   attributes. It marks the cgroups it makes in its delegated subtree with
//!   `user.rind.<dev>-<ino>` (cgroup2 has user attributes from Linux 5.7), and a directory
//!   counts as marked only when it is also owned by the runtime's effective uid. Such a runtime
//!   acts with the user's own credentials, so a rewritten state gains nothing the user did not
//!   have; the ownership check keeps it from acting on cgroups the user does not own (another
//!   user's, or the host's), and the mark from acting on the user's other cgroups (another
//!   container's, the session's). A container cannot move the mark to a cgroup outside its
//!   own (it sees only its own subtree); one with a writable cgroup mount whose root is the
//!   user can remove its own mark, which makes rind treat it as gone, not anything else as it
//!   (docs/security.md).
//! - **The init process, held by a pidfd.** The recorded pid is opened as a pidfd, and then
//!   must have the recorded start time, not be a zombie, and be listed in the marked cgroup
//!   (or a cgroup below it). A pid that passes is signalled through that pidfd
//!   (`pidfd_send_signal`), so a pid recycled in between cannot receive it. A live process
//!   that fails the cgroup test is "not ours": the container is reported stopped, and no verb
//!   sends it anything.
//!
//! The checks are a pidfd, `/proc/<pid>/stat`, one `getxattr` and one `cgroup.procs` read
//! (their cost: docs/benchmarks.md, "Measurements the code cites"), on the verbs that act on
//! a container; `run` pays only the marks (one `setxattr` per cgroup directory) in `create`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::state::State;
use crate::cgroups::CgroupPaths;
use crate::error::SysError;
use crate::sys::{ProcStat, proc_stat};

/// The mark of one container: an extended attribute name and value for its cgroup
/// directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    name: CString,
    id: String,
    /// The uid a marked directory must be owned by: the rootless mark's second half.
    owner: Option<u32>,
}

/// Whether a cgroup directory carries a container's mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkState {
    Marked,
    /// The directory exists and does not carry the mark.
    Unmarked,
    /// The directory does not exist.
    Missing,
}

impl Mark {
    /// The mark of the container whose state directory is `state_dir`.
    /// A runtime without privilege in the host's user namespace gets the rootless mark.
    pub fn of(state_dir: &Path, id: &str) -> Result<Mark, SysError> {
        let st = std::fs::symlink_metadata(state_dir)
            .map_err(|e| SysError::new(format!("stat {}", state_dir.display()), e))?;
        let mark = Mark::from_inode(st.dev(), st.ino(), id);
        Ok(if crate::rootless::without_host_privilege() {
            mark.rootless(nix::unistd::geteuid().as_raw())
        } else {
            mark
        })
    }

    fn from_inode(dev: u64, ino: u64, id: &str) -> Mark {
        Mark {
            name: CString::new(format!("trusted.rind.{dev}-{ino}")).unwrap_or_default(),
            id: id.to_string(),
            owner: None,
        }
    }

    /// The same mark as a `user.` attribute, valid only on directories `uid` owns.
    fn rootless(self, uid: u32) -> Mark {
        let name = self.name.to_string_lossy().replacen("trusted.", "user.", 1);
        Mark {
            name: CString::new(name).unwrap_or_default(),
            id: self.id,
            owner: Some(uid),
        }
    }

    /// Puts the mark on the cgroup directory `dir`. A directory that does not exist (not made
    /// yet) is left alone.
    pub fn apply(&self, dir: &Path) -> Result<(), SysError> {
        let path = c_path(dir);
        // SAFETY: valid NUL-terminated strings and a buffer of the given length.
        let r = unsafe {
            libc::lsetxattr(
                path.as_ptr(),
                self.name.as_ptr(),
                self.id.as_ptr().cast(),
                self.id.len(),
                0,
            )
        };
        match Errno::result(r) {
            Ok(_) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(SysError::new(
                format!("mark cgroup {} as container {}'s", dir.display(), self.id),
                e,
            )),
        }
    }

    /// Whether `dir` carries this mark.
    pub fn state_of(&self, dir: &Path) -> MarkState {
        let path = c_path(dir);
        let mut buf = [0u8; 256];
        // SAFETY: valid NUL-terminated strings and a buffer of the given length.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                self.name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        let owned = |dir: &Path| {
            self.owner.is_none_or(|uid| {
                std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid)
            })
        };
        match Errno::result(n) {
            Ok(n) if &buf[..n as usize] == self.id.as_bytes() && owned(dir) => MarkState::Marked,
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) if !dir.exists() => MarkState::Missing,
            _ => MarkState::Unmarked,
        }
    }
}

fn c_path(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

/// Every directory of a container's cgroup, each once (co-mounted v1 controllers share one).
pub fn cgroup_dirs(paths: &CgroupPaths) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match paths {
        CgroupPaths::V2 { dir } => vec![dir.clone()],
        CgroupPaths::V1 {
            controllers,
            unified,
        } => controllers.values().chain(unified).cloned().collect(),
    };
    v.sort();
    v.dedup();
    v
}

/// The directory `create` makes first, the one init is cloned into (the cgroup v2 one), or
/// None on a host with only v1 hierarchies.
pub fn clone_target(paths: &CgroupPaths) -> Option<&Path> {
    match paths {
        CgroupPaths::V2 { dir } => Some(dir),
        CgroupPaths::V1 { unified, .. } => unified.as_deref(),
    }
}

/// The directory whose `cgroup.procs` must list the container's init: the one it was cloned
/// into where there is one (it is there from its first instruction), else a v1 hierarchy.
pub fn membership_dir(paths: &CgroupPaths) -> Option<&Path> {
    clone_target(paths).or_else(|| match paths {
        CgroupPaths::V1 { controllers, .. } => ["pids", "freezer", "memory", "devices", "cpu"]
            .iter()
            .find_map(|c| controllers.get(*c))
            .or_else(|| controllers.values().next())
            .map(PathBuf::as_path),
        CgroupPaths::V2 { .. } => None,
    })
}

/// `paths` with only the directories that carry `mark`, and the other existing ones.
pub fn split_marked(paths: &CgroupPaths, mark: &Mark) -> (CgroupPaths, Vec<PathBuf>) {
    let mut foreign = Vec::new();
    let mut keep = |d: &PathBuf| match mark.state_of(d) {
        MarkState::Marked | MarkState::Missing => true,
        MarkState::Unmarked => {
            if !foreign.contains(d) {
                foreign.push(d.clone());
            }
            false
        }
    };
    let ours = match paths {
        CgroupPaths::V2 { dir } => {
            if keep(dir) {
                paths.clone()
            } else {
                CgroupPaths::V1 {
                    controllers: Default::default(),
                    unified: None,
                }
            }
        }
        CgroupPaths::V1 {
            controllers,
            unified,
        } => CgroupPaths::V1 {
            controllers: controllers
                .iter()
                .filter(|(_, d)| keep(d))
                .map(|(c, d)| (c.clone(), d.clone()))
                .collect(),
            unified: unified.clone().filter(|d| keep(d)),
        },
    };
    (ours, foreign)
}

/// What the recorded init pid turned out to be.
#[derive(Debug)]
pub enum Init {
    /// The container's init, alive, held by a pidfd.
    Alive(InitProcess),
    /// No such process, or one that started at another time, or a zombie: init has exited.
    Gone,
    /// A live process with the recorded pid and start time that is not in the container's
    /// marked cgroup: not the container's, whatever `state.json` says.
    NotOurs { pid: i32, why: String },
}

/// The container's verified init process.
#[derive(Debug)]
pub struct InitProcess {
    pub pid: Pid,
    /// None where the kernel has no pidfds (before Linux 5.3).
    pidfd: Option<OwnedFd>,
}

impl InitProcess {
    /// Sends `signal` (None: signal 0, a liveness check) to init.
    pub fn signal(&self, signal: Option<Signal>) -> Result<(), SysError> {
        let sig = signal.map_or(0, |s| s as i32);
        let r = match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, sig),
            // SAFETY: kill with a verified pid and a valid signal number.
            None => Errno::result(unsafe { libc::kill(self.pid.as_raw(), sig) }).map(drop),
        };
        r.map_err(|e| {
            let name = signal.map_or("signal 0".to_string(), |s| s.to_string());
            SysError::new(format!("kill {} with {name}", self.pid), e)
        })
    }
}

fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open with a pid and no flags returns a new descriptor or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    Errno::result(r).map(|fd| {
        // SAFETY: a fresh descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd as i32) }
    })
}

fn pidfd_send_signal(fd: &OwnedFd, sig: i32) -> Result<(), Errno> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// Finds the container's init from its state, checked as the module comment says.
pub fn find_init(state: &State, mark: &Mark) -> Init {
    let pid = state.pid;
    if pid <= 0 {
        return Init::Gone;
    }
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => Some(fd),
        Err(Errno::ESRCH) => return Init::Gone,
        Err(_) => None,
    };
    let alive_then =
        |s: &ProcStat| s.start_time == state.init_start_time && s.state != 'Z' && s.state != 'X';
    if !proc_stat(pid).is_some_and(|s| alive_then(&s)) {
        return Init::Gone;
    }
    let not_ours = |why: String| Init::NotOurs { pid, why };
    // A rootless container without a cgroup of its own has no mark to check. Its state is
    // the user's own (a 0700 directory under the user's runtime directory) and the kernel
    // lets the user signal only its own processes (root in rootless podman's user namespace:
    // only those of the user and its subordinate ids): the start time and the pidfd suffice.
    let Some(dir) = membership_dir(&state.cgroup) else {
        if crate::rootless::cgroup::is_none(&state.cgroup)
            && crate::rootless::without_host_privilege()
        {
            if let Some(fd) = &pidfd
                && pidfd_send_signal(fd, 0) == Err(Errno::ESRCH)
            {
                return Init::Gone;
            }
            return Init::Alive(InitProcess {
                pid: Pid::from_raw(pid),
                pidfd,
            });
        }
        return not_ours("the container has no cgroup directory to find it in".into());
    };
    match mark.state_of(dir) {
        MarkState::Marked => {}
        MarkState::Missing => return not_ours(format!("its cgroup {} is gone", dir.display())),
        MarkState::Unmarked => {
            return not_ours(format!(
                "the cgroup {} does not carry the container's mark",
                dir.display()
            ));
        }
    }
    if !in_cgroup(dir, pid) {
        return not_ours(format!("it is not in the cgroup {}", dir.display()));
    }
    // The pid still names the pidfd's process only if that process is still there: a
    // process that exited since the pidfd was opened may have had its pid reused meanwhile,
    // and then the checks above read another process.
    if let Some(fd) = &pidfd
        && pidfd_send_signal(fd, 0) == Err(Errno::ESRCH)
    {
        return Init::Gone;
    }
    Init::Alive(InitProcess {
        pid: Pid::from_raw(pid),
        pidfd,
    })
}

/// Every pid listed in `cgroup.procs` of `dirs` and of the cgroups below them, once each.
pub fn pids_in(dirs: &[PathBuf]) -> Vec<i32> {
    fn collect(dir: &Path, out: &mut Vec<i32>) {
        let Ok(text) = crate::sys::read_pseudo_file(dir.join("cgroup.procs"), 4096) else {
            return;
        };
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    collect(&e.path(), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        collect(d, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `pid` is in the cgroup `dir` or in one below it.
fn in_cgroup(dir: &Path, pid: i32) -> bool {
    let listed = |d: &Path| {
        crate::sys::read_pseudo_file(d.join("cgroup.procs"), 4096).is_ok_and(|text| {
            text.lines()
                .any(|l| l.trim().parse::<i32>().is_ok_and(|p| p == pid))
        })
    };
    if listed(dir) {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .any(|e| in_cgroup(&e.path(), pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_names_the_state_directory_inode() {
        let a = Mark::from_inode(1, 2, "c1");
        assert_eq!(a.name.to_str().unwrap(), "trusted.rind.1-2");
        assert_ne!(a, Mark::from_inode(1, 3, "c1"));
        assert_ne!(a, Mark::from_inode(1, 2, "c2"));
        let r = a.clone().rootless(1000);
        assert_eq!(r.name.to_str().unwrap(), "user.rind.1-2");
        assert_eq!(r.owner, Some(1000));
    }

    #[test]
    fn every_directory_once_and_the_clone_target_first() {
        let paths = CgroupPaths::V1 {
            controllers: [
                ("cpu".to_string(), PathBuf::from("/c/cpu,cpuacct/x")),
                ("cpuacct".to_string(), PathBuf::from("/c/cpu,cpuacct/x")),
                ("pids".to_string(), PathBuf::from("/c/pids/x")),
            ]
            .into(),
            unified: Some(PathBuf::from("/c/unified/x")),
        };
        assert_eq!(cgroup_dirs(&paths).len(), 3);
        assert_eq!(membership_dir(&paths), Some(Path::new("/c/unified/x")));
        let legacy = CgroupPaths::V1 {
            controllers: [("pids".to_string(), PathBuf::from("/c/pids/x"))].into(),
            unified: None,
        };
        assert_eq!(membership_dir(&legacy), Some(Path::new("/c/pids/x")));
    }

    #[test]
    fn a_missing_directory_is_missing_not_unmarked() {
        let m = Mark::from_inode(1, 2, "c1");
        assert_eq!(
            m.state_of(Path::new("/nonexistent/rind/cgroup")),
            MarkState::Missing
        );
        let t = tempfile::tempdir().unwrap();
        assert_eq!(m.state_of(t.path()), MarkState::Unmarked);
    }

    #[test]
    fn a_dead_pid_is_gone() {
        let s = State {
            oci_version: "1.2.0".into(),
            id: "x".into(),
            pid: 0,
            init_start_time: 1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            owner: String::new(),
            annotations: Default::default(),
            cgroup: CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/x".into(),
            },
            create_finished: true,
            private_pid_ns: true,
            systemd: None,
        };
        assert!(matches!(
            find_init(&s, &Mark::from_inode(1, 2, "x")),
            Init::Gone
        ));
    }
}
