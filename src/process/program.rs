//! From a configured process to `execve`: limits, privileges, working directory, environment
//! and the program itself. Shared by the container's init and by `exec`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::Process;

use super::channel::{InCgroup, ToRuntime};
use super::{cwd, fds, stdio};
use crate::error::{Cause, StepContext, SysError};
use crate::linux::capabilities::CapabilitySets;
use crate::linux::seccomp::Program as Filter;
use crate::linux::{rlimits, user};
use crate::sys::trace;

/// A step between the process's configuration and its program that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Sys(#[from] SysError),
    /// The program cannot be executed; the message carries "no such file or directory" or
    /// "permission denied", which engines map to exit codes 127 and 126.
    #[error("exec {0:?}: {1}")]
    Exec(String, String),
}

/// A process whose privileges are set and whose program was found, ready for `execve`.
pub struct Prepared<'a> {
    program: PathBuf,
    args: &'a [String],
    env: Vec<String>,
    umask: u32,
    /// The filter still to install as the last step before `Ready` (with no_new_privs).
    late_seccomp: Option<&'a Filter>,
}

/// What [`prepare`] works from.
pub struct Setup<'a> {
    pub process: &'a Process,
    pub seccomp: Option<&'a Filter>,
    /// `--preserve-fds`: fds 3.. 3+N reach the program.
    pub preserve_fds: u32,
    /// The runtime's descriptors the process still needs after [`prepare`] (the channel,
    /// exec.fifo, the exec stub): none of them is a directory, so none leads to a host path.
    pub keep: &'a [RawFd],
    /// Fds 0-2 are the pty the runtime opened for this process.
    pub own_terminal: bool,
}

/// Applies the process's limits and privileges, enters its working directory and finds its
/// program.
///
/// First every descriptor but stdio, the preserved ones and `setup.keep` is closed: before the
/// first path the container chose is resolved (CVE-2024-21626), and before any seccomp filter
/// is installed (a profile without `close_range` would refuse the call). rlimits go next,
/// while still privileged (raising a hard limit needs it); no_new_privs before the user
/// switch, as runc does. The working directory is entered as root, before the user switch
/// (runc's order: a directory the user cannot reach is still entered), and entered again as the
/// user when root was refused. Without no_new_privs, installing seccomp needs CAP_SYS_ADMIN,
/// so the filter goes in before capabilities are dropped; with it, as late as possible
/// ([`Prepared::finish`]), so that fewer of rind's own syscalls run under it. A filter with a
/// notify listener goes in here either way, because the listener must reach the runtime over
/// `chan` while it still listens. The bounding set is cut while CAP_SETPCAP is held; stdio is
/// handed to the user ([`super::stdio`]); keepcaps carries the permitted set across setuid;
/// then the exact sets are applied.
pub fn prepare<'a>(setup: &Setup<'a>, chan: &InCgroup) -> Result<Prepared<'a>, ProgramError> {
    let process = setup.process;
    // Read while the procfs handle is still open (the next step closes it): a user namespace
    // whose maps an ordinary user wrote has setgroups denied (rootless), and a setgroups call
    // there fails.
    let setgroups_allowed = crate::linux::procfs::read_self("setgroups", 64)
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    let first = 3 + setup.preserve_fds as RawFd;
    // The procfs handle goes with the rest (for `exec` it may be the host's procfs); the
    // AppArmor attribute below reopens the container's, and lets it go again.
    fds::close_from_except(first, setup.keep)?;
    for fd in 3..first {
        // The preserved ones reach the program: never close-on-exec (one not open just fails).
        let _ = fds::set_cloexec(fd, false);
    }
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        crate::linux::security::apparmor_on_exec(profile)?;
        // The last procfs access before the program: a process waiting for `start` holds no
        // directory.
        crate::linux::procfs::forget();
    }
    if let Some(limits) = process.rlimits() {
        rlimits::apply(limits)?;
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    if nnp {
        // SAFETY: prctl with constant integer arguments.
        Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
            .step(|| "set no_new_privs".to_string())?;
    }
    let cwd = process.cwd();
    let cwd_as_user = match cwd::enter(cwd) {
        Ok(()) => false,
        Err(e) if matches!(e.cause.errno(), Some(Errno::EACCES | Errno::EPERM)) => true,
        Err(e) => return Err(e.into()),
    };
    let early = setup.seccomp.filter(|f| !nnp || f.has_listener());
    if let Some(filter) = early {
        install(filter, Some(chan))?;
        trace::mark(|| "init: seccomp installed".into());
    }
    let caps = process
        .capabilities()
        .as_ref()
        .map(CapabilitySets::from_spec)
        .unwrap_or_default();
    caps.drop_bounding()?;
    set_keepcaps(true)?;
    let uid = process.user().uid();
    stdio::hand_to_user(uid, setup.own_terminal)?;
    user::switch_user(process.user(), setgroups_allowed)?;
    // A credential change resets dumpability to fs.suid_dumpable, which may be 1.
    super::init::set_dumpable(false)?;
    set_keepcaps(false)?;
    caps.apply()?;
    trace::mark(|| "init: user and capabilities set".into());
    if cwd_as_user {
        cwd::enter(cwd)?;
    }

    let env = environment(process.env().as_deref().unwrap_or_default(), uid);
    let args = process.args().as_deref().unwrap_or_default();
    let name = args
        .first()
        .ok_or_else(|| ProgramError::Exec(String::new(), "no program given".into()))?;
    let program = find_executable(name, &env)?;
    Ok(Prepared {
        program,
        args,
        env,
        umask: process.user().umask().unwrap_or(0o022),
        late_seccomp: if early.is_none() { setup.seccomp } else { None },
    })
}

/// How [`Prepared::exec`] reaches the program.
#[derive(Clone, Copy)]
pub enum Route<'a> {
    /// `execve` of the program.
    Direct,
    /// Through the exec stub ([`super::exec_stub`]), which first waits on this exec.fifo
    /// descriptor for `start`.
    StubAfterStart(BorrowedFd<'a>, BorrowedFd<'a>),
}

impl Prepared<'_> {
    /// The last steps that can fail before the execve: exec.fifo left open across the exec for
    /// the stub, the umask, and the late seccomp filter. Their failure must reach `create`
    /// (as in runc): the caller reports `Ready` after this, or reads the channel to its end.
    /// Nothing after this may need more than `write` and the execve (the filter may forbid
    /// the rest).
    pub fn finish(&self, route: Route<'_>) -> Result<(), ProgramError> {
        // Marks go before the filter, which may forbid the channel's sendmsg.
        if self.late_seccomp.is_some() {
            trace::mark(|| "init: installing the seccomp filter (late: no_new_privs)".into());
        }
        if let Route::StubAfterStart(_, fifo) = route {
            trace::mark(|| {
                format!(
                    "init: execve of the exec stub, which waits for start, then executes {}",
                    self.program.display()
                )
            });
            // The stub reads it, then marks it close-on-exec again before the program.
            fds::set_cloexec(fifo.as_raw_fd(), false)?;
        }
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(self.umask));
        if let Some(filter) = self.late_seccomp {
            install(filter, None)?;
        }
        Ok(())
    }

    /// Executes the program by `route`. Returns only on failure.
    pub fn exec(self, route: Route<'_>) -> ProgramError {
        let cstr = |s: &[u8]| {
            CString::new(s).map_err(|_| SysError::new("exec: argument contains NUL", Errno::EINVAL))
        };
        let strings = || -> Result<_, SysError> {
            let path = cstr(self.program.as_os_str().as_bytes())?;
            let argv = self
                .args
                .iter()
                .map(|a| cstr(a.as_bytes()))
                .collect::<Result<Vec<_>, _>>()?;
            let envp = self
                .env
                .iter()
                .map(|e| cstr(e.as_bytes()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((path, argv, envp))
        };
        let (path, argv, envp) = match strings() {
            Ok(s) => s,
            Err(e) => return e.into(),
        };
        let err = match route {
            Route::Direct => nix::unistd::execve(&path, &argv, &envp).unwrap_err(),
            Route::StubAfterStart(stub, fifo) => {
                super::exec_stub::exec(stub, fifo, &path, &argv, &envp)
            }
        };
        ProgramError::Exec(
            self.program.display().to_string(),
            Cause::Errno(err).to_string(),
        )
    }

    /// The program's path, as found.
    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// Installs the filter; a notify listener goes to the runtime over `chan`.
fn install(filter: &Filter, chan: Option<&InCgroup>) -> Result<(), SysError> {
    let listener = filter
        .install()
        .map_err(|e| SysError::new("install seccomp filter", Cause::Other(e.to_string())))?;
    if let (Some(fd), Some(chan)) = (listener, chan) {
        chan.send_with_fd(&ToRuntime::SeccompListener, &fd)?;
    }
    Ok(())
}

fn set_keepcaps(on: bool) -> Result<(), SysError> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
        .step(|| "set keepcaps".to_string())
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process environment: the spec's, plus `HOME` from the container's passwd when absent.
fn environment(env: &[String], uid: u32) -> Vec<String> {
    let mut out: Vec<String> = env.to_vec();
    if !out.iter().any(|kv| kv.starts_with("HOME=")) {
        out.push(format!("HOME={}", user::default_home(Path::new("/"), uid)));
    }
    out
}

/// Finds the program like execvp: a name with a `/` is taken as is, otherwise each `PATH`
/// entry (the container's, or the default) is tried. The errors carry the words engines look
/// for: "no such file or directory" and "permission denied".
fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, ProgramError> {
    let check = |p: &Path| -> Result<(), Errno> {
        let meta =
            std::fs::metadata(p).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
        if meta.is_dir() {
            return Err(Errno::EACCES);
        }
        nix::unistd::access(p, nix::unistd::AccessFlags::X_OK)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return check(&p)
            .map(|()| p)
            .map_err(|e| ProgramError::Exec(name.into(), Cause::Errno(e).to_string()));
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(name);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    let why = if denied {
        "permission denied"
    } else {
        "executable file not found in $PATH: no such file or directory"
    };
    Err(ProgramError::Exec(name.into(), why.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_error_names_the_words_engines_match() {
        let env = vec!["PATH=/nonexistent-a:/nonexistent-b".to_string()];
        let e = find_executable("no-such-program", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file or directory"), "{e}");
        let e = find_executable("/nonexistent/prog", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file or directory"), "{e}");
    }

    #[test]
    fn non_executable_file_is_permission_denied() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("rind-noexec-{}", std::process::id()));
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let result = find_executable(path.to_str().unwrap(), &[]);
        std::fs::remove_file(&path).unwrap();
        let e = result.unwrap_err().to_string();
        assert!(e.contains("permission denied"), "{e}");
    }

    #[test]
    fn program_is_found_on_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let p = find_executable("sh", &env).unwrap();
        assert!(p.ends_with("sh"));
    }

    #[test]
    fn home_is_added_only_when_missing() {
        let env = environment(&["HOME=/x".to_string()], 0);
        assert_eq!(env, vec!["HOME=/x".to_string()]);
        let env = environment(&[], 0);
        assert!(env[0].starts_with("HOME="));
    }
}
