//! From a configured process to `execve`: limits, privileges, working directory, environment
//! and the program itself. Shared by the container's init and by `exec`.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::Process;

use super::channel::{InitEnd, ToRuntime};
use crate::error::{Cause, StepContext, SysError};
use crate::linux::capabilities::CapabilitySets;
use crate::linux::seccomp::Program as Filter;
use crate::linux::{rlimits, user};

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
    preserve_fds: u32,
    /// The filter still to install right before execve (with no_new_privs).
    late_seccomp: Option<&'a Filter>,
}

/// Applies the process's limits and privileges, enters its working directory and finds its
/// program.
///
/// rlimits go first, while still privileged (raising a hard limit needs it); no_new_privs
/// before the user switch, as runc does. Without no_new_privs, installing seccomp needs
/// CAP_SYS_ADMIN, so the filter goes in before capabilities are dropped; with it, as late as
/// possible ([`Prepared::exec`]), so that fewer of rind's own syscalls run under it. A filter
/// with a notify listener goes in here either way, because the listener must reach the runtime
/// over `chan` while it still listens. The bounding set is cut while CAP_SETPCAP is held;
/// keepcaps carries the permitted set across setuid; then the exact sets are applied.
pub fn prepare<'a>(
    process: &'a Process,
    seccomp: Option<&'a Filter>,
    chan: &InitEnd,
    preserve_fds: u32,
    trace: &dyn Fn(&str),
) -> Result<Prepared<'a>, ProgramError> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        crate::linux::security::apparmor_on_exec(profile)?;
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
    let early = seccomp.filter(|f| !nnp || f.has_listener());
    if let Some(filter) = early {
        install(filter, Some(chan))?;
        trace("seccomp installed");
    }
    let caps = process
        .capabilities()
        .as_ref()
        .map(CapabilitySets::from_spec)
        .unwrap_or_default();
    caps.drop_bounding()?;
    set_keepcaps(true)?;
    let setgroups_allowed = crate::linux::procfs::read_self("setgroups", 64)
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    user::switch_user(process.user(), setgroups_allowed)?;
    set_keepcaps(false)?;
    caps.apply()?;
    trace("user and capabilities set");

    let cwd = process.cwd();
    nix::unistd::chdir(cwd.as_path()).step(|| format!("chdir to cwd {}", cwd.display()))?;
    let env = environment(
        process.env().as_deref().unwrap_or_default(),
        process.user().uid(),
    );
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
        preserve_fds,
        late_seccomp: if early.is_none() { seccomp } else { None },
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
    /// Closes what must not leak, sets the umask, installs a late seccomp filter, and executes
    /// the program by `route`. Returns only on failure.
    pub fn exec(self, route: Route<'_>) -> Result<Infallible, ProgramError> {
        // Marks go before the filter, which may forbid the channel's sendmsg.
        if self.late_seccomp.is_some() {
            super::trace::mark(|| {
                "init: installing the seccomp filter (late: no_new_privs)".into()
            });
        }
        super::trace::mark(|| match route {
            Route::Direct => format!("init: execve {}", self.program.display()),
            Route::StubAfterStart(..) => format!(
                "init: execve of the exec stub, which waits for start, then executes {}",
                self.program.display()
            ),
        });
        // Only stdio and the preserved fds reach the program (a leaked descriptor was
        // CVE-2024-21626). Everything else is marked close-on-exec; exec.fifo stays open
        // for the stub, which closes it before the program.
        prepare_fds(self.preserve_fds)?;
        if let Route::StubAfterStart(_, fifo) = route {
            // SAFETY: F_SETFD on a descriptor init holds open.
            Errno::result(unsafe { libc::fcntl(fifo.as_raw_fd(), libc::F_SETFD, 0) })
                .step(|| "keep exec.fifo open for the exec stub".to_string())?;
        }
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(self.umask));
        if let Some(filter) = self.late_seccomp {
            install(filter, None)?;
        }
        let cstr = |s: &[u8]| {
            CString::new(s).map_err(|_| SysError::new("exec: argument contains NUL", Errno::EINVAL))
        };
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
        let err = match route {
            Route::Direct => nix::unistd::execve(&path, &argv, &envp).unwrap_err(),
            Route::StubAfterStart(stub, fifo) => {
                super::exec_stub::exec(stub, fifo, &path, &argv, &envp)
            }
        };
        Err(ProgramError::Exec(
            self.program.display().to_string(),
            Cause::Errno(err).to_string(),
        ))
    }
}

/// Installs the filter; a notify listener goes to the runtime over `chan`.
fn install(filter: &Filter, chan: Option<&InitEnd>) -> Result<(), SysError> {
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

/// Marks every fd from 3 + `preserve` upward close-on-exec, and makes sure the preserved ones
/// are not.
fn prepare_fds(preserve: u32) -> Result<(), SysError> {
    let first = 3 + preserve;
    // SAFETY: close_range only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(r).step(|| format!("mark fds from {first} close-on-exec"))?;
    for fd in 3..first {
        // SAFETY: F_SETFD on a descriptor number; an unopened one just fails.
        unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
    }
    Ok(())
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
