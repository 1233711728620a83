//! The container's init, from the clone to `execve`: one linear sequence, each step placed
//! where it must be for a reason given beside it.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, Gid, Uid, fork, setresgid, setresuid};
use oci_spec::runtime::LinuxNamespaceType;

use super::InitConfig;
use super::channel::{InitEnd, ToInit, ToRuntime};
use super::fifo;
use crate::error::{Cause, StepContext, SysError};
use crate::linux::capabilities::CapabilitySets;
use crate::linux::hooks::{self, HookError};
use crate::linux::namespaces::{self, CLONE_NEWTIME};
use crate::linux::rootfs::{self, RootfsContext};
use crate::linux::seccomp::Program;
use crate::linux::{rlimits, sysctl, terminal, user};

/// A step of init that failed.
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("runtime went away during setup")]
    RuntimeGone,
    #[error("unexpected message from the runtime: {0:?}")]
    Protocol(ToInit),
    #[error("exec {0:?}: {1}")]
    Exec(String, String),
}

/// Runs init in the cloned child and never returns: it either becomes the container's process
/// through `execve`, or reports the failed step to the runtime and exits.
pub fn main(cfg: &InitConfig, chan: InitEnd) -> ! {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(cfg, &chan)));
    let message = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e.to_string(),
        Err(_) => "container init panicked".to_string(),
    };
    // After `start` nobody listens on the channel any more: the error goes to stderr, which is
    // the container's.
    if chan
        .send(&ToRuntime::Failed {
            message: message.clone(),
        })
        .is_err()
    {
        eprintln!("rind init: {message}");
    }
    // SAFETY: _exit skips atexit handlers and unwinding, which belong to the runtime's copy.
    unsafe { libc::_exit(1) }
}

fn expect(chan: &InitEnd, want: ToInit) -> Result<(), InitError> {
    match chan.recv()? {
        Some(m) if m == want => Ok(()),
        Some(m) => Err(InitError::Protocol(m)),
        None => Err(InitError::RuntimeGone),
    }
}

fn run(cfg: &InitConfig, chan: &InitEnd) -> Result<Infallible, InitError> {
    let trace = |step: &str| {
        if let Some(clock) = cfg.trace {
            let _ = chan.send(&ToRuntime::Trace {
                nanos: clock.nanos(),
                step: step.to_string(),
            });
        }
    };
    let spec = &cfg.spec;
    let plan = &cfg.plan;
    let process = spec
        .process()
        .as_ref()
        .expect("validated: process is present");

    // The runtime may block signals (run forwards them); the container starts with none
    // blocked and default handlers.
    reset_signals();

    // 1. Wait until the runtime has put us in our cgroup (so nothing we start can escape its
    //    limits) and, if the clone made a user namespace, written our id maps.
    expect(chan, ToInit::Proceed)?;
    trace("init: in cgroup");

    // 2. Namespaces. Join by path first, while still privileged in the runtime's user
    //    namespace; then a new user namespace, alone, so the runtime can map it; then the rest,
    //    which the new user namespace then owns. The cgroup namespace comes after the cgroup
    //    placement, so its root is the container's cgroup.
    let joins = namespaces::open_joins(plan)?;
    namespaces::join(joins)?;
    let user_flag = CloneFlags::CLONE_NEWUSER.bits() as u64;
    if plan.user_in_child {
        namespaces::unshare_flags(user_flag)?;
        chan.send(&ToRuntime::IdMapRequest)?;
        expect(chan, ToInit::IdMapsWritten)?;
    }
    if plan.is_private(LinuxNamespaceType::User) {
        become_root_in_userns()?;
    }
    namespaces::unshare_flags(plan.unshare_flags & !user_flag)?;
    if plan.unshare_flags & CLONE_NEWTIME != 0 && !plan.time_offsets.is_empty() {
        namespaces::write_time_offsets(&plan.time_offsets)?;
    }
    trace(&format!(
        "init: namespaces ready ({})",
        namespaces::describe(plan.clone_flags | plan.unshare_flags)
    ));

    // 3. A joined or unshared PID (or time) namespace applies to children only: fork once so
    //    that init is inside it. The forking process reports the pid and leaves.
    if plan.fork {
        // SAFETY: the process is single-threaded; the child continues with plain code.
        match unsafe { fork() }.step(|| "fork into the pid namespace".to_string())? {
            ForkResult::Parent { child } => {
                let _ = chan.send(&ToRuntime::InitPid {
                    pid: child.as_raw(),
                });
                // SAFETY: leave without running the runtime's exit handlers.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Child => {}
        }
    }

    // A session keyring of its own: the caller's keys are not the container's business.
    if cfg.new_keyring {
        join_new_session_keyring()?;
    }

    // 4. oom_score_adj must be written while the process is still dumpable (/proc/self files
    //    of a non-dumpable process belong to root of the initial user namespace). Then become
    //    non-dumpable: until execve, no other process in the container may ptrace us or open
    //    /proc/<pid>/exe (the runtime's binary).
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .step(|| format!("write oom_score_adj {adj}"))?;
    }
    set_dumpable(false)?;

    // 5. The filesystem view, up to pivot_root. Then the runtime runs the prestart and
    //    createRuntime hooks (in its own namespaces), which must see the mounts but not yet
    //    the pivot.
    let in_userns = plan.is_private(LinuxNamespaceType::User);
    let root = if plan.is_private(LinuxNamespaceType::Mount) {
        let ctx = RootfsContext {
            spec,
            rootfs: &cfg.rootfs,
            bundle: &cfg.bundle,
            in_userns,
            cgroupns: plan.is_private(LinuxNamespaceType::Cgroup),
            cgroup: &cfg.cgroup,
        };
        Some(rootfs::prepare(&ctx)?)
    } else {
        None
    };
    trace("init: mounts done");
    chan.send(&ToRuntime::MountsReady)?;
    let mut hook_state = match chan.recv()? {
        Some(ToInit::HooksDone { state }) => state,
        Some(m) => return Err(InitError::Protocol(m)),
        None => return Err(InitError::RuntimeGone),
    };

    // 6. createContainer hooks run in the container's namespaces, before pivot_root.
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        hooks::run_all("createContainer", h, &hook_state.to_string())?;
    }

    // 7. Enter the new root. Without a mount namespace, chroot is all that is possible.
    match &root {
        Some(root) => rootfs::pivot(root, cfg.no_pivot)?,
        None => {
            nix::unistd::chroot(&cfg.rootfs).step(|| format!("chroot {}", cfg.rootfs.display()))?;
            nix::unistd::chdir("/").step(|| "chdir /".to_string())?;
        }
    }
    drop(root);
    trace("init: pivot_root done");

    // 8. The terminal, once the container's devpts is at /dev/pts.
    if process.terminal().unwrap_or(false) {
        let socket = cfg.console_socket.as_ref().ok_or_else(|| {
            SysError::new(
                "allocate a terminal: process.terminal is set but no --console-socket was given",
                Errno::EINVAL,
            )
        })?;
        let socket = socket
            .try_clone()
            .step(|| "dup console socket".to_string())?;
        terminal::setup_console(socket, process.console_size())?;
    }

    // 9. The rest of the filesystem view: read-only root, then hostname and sysctls (written
    //    through the container's /proc before /proc/sys becomes read-only), then readonly and
    //    masked paths.
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::make_root_readonly()?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).step(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        sysctl::apply(s)?;
    }
    if plan.is_private(LinuxNamespaceType::Mount) {
        rootfs::mask_and_protect(spec)?;
    }
    trace("init: rootfs finalized");

    // 10. Limits and privileges. rlimits while still privileged (raising a hard limit needs
    //     it). no_new_privs before the user switch, as runc does. Without no_new_privs,
    //     installing seccomp needs CAP_SYS_ADMIN, so it goes in before capabilities are
    //     dropped; with it, as late as possible (step 14), so that fewer of init's own
    //     syscalls run under the filter. A filter with a notify listener goes in before Ready
    //     either way, because the listener must reach the runtime while it still listens.
    //     The bounding set is cut while CAP_SETPCAP is still held; keepcaps carries the
    //     permitted set across setuid; then the exact sets are applied.
    if let Some(limits) = process.rlimits() {
        rlimits::apply(limits)?;
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    if nnp {
        // SAFETY: prctl with constant integer arguments.
        Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
            .step(|| "set no_new_privs".to_string())?;
    }
    let seccomp_early = cfg.seccomp.as_ref().filter(|f| !nnp || f.has_listener());
    if let Some(filter) = seccomp_early {
        install_seccomp(filter, chan)?;
        trace("init: seccomp installed");
    }
    let caps = process
        .capabilities()
        .as_ref()
        .map(CapabilitySets::from_spec)
        .unwrap_or_default();
    caps.drop_bounding()?;
    set_keepcaps(true)?;
    let setgroups_allowed = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    user::switch_user(process.user(), setgroups_allowed)?;
    set_keepcaps(false)?;
    caps.apply()?;
    trace("init: user and capabilities set");

    // 11. Working directory, environment and the program, checked now so that a missing or
    //     non-executable binary fails `create`, not `start`.
    let cwd = process.cwd();
    nix::unistd::chdir(cwd.as_path()).step(|| format!("chdir to cwd {}", cwd.display()))?;
    let env = environment(
        process.env().as_deref().unwrap_or_default(),
        process.user().uid(),
    );
    let args = process.args().as_deref().unwrap_or_default();
    let program = find_executable(&args[0], &env)?;

    // 12. Ready. Init now waits for `start`. Nothing may be reported through the channel
    //     after this point: `create` has returned.
    chan.send(&ToRuntime::Ready)?;
    fifo::wait(&cfg.fifo)?;
    trace("init: released by start");

    // 13. startContainer hooks run in the container, after start, before the program.
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        hook_state["status"] = "created".into();
        hooks::run_all("startContainer", h, &hook_state.to_string())?;
    }

    // 14. Only stdio and the preserved fds reach the program (a leaked descriptor was
    //     CVE-2024-21626). Everything else is marked close-on-exec.
    prepare_fds(cfg.preserve_fds)?;
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    if let Some(filter) = cfg.seccomp.as_ref().filter(|_| seccomp_early.is_none()) {
        filter
            .install()
            .map_err(|e| SysError::new("install seccomp filter", Cause::Other(e.to_string())))?;
    }
    exec(&program, args, &env)
}

/// Installs the filter; a notify listener goes to the runtime with the next message.
fn install_seccomp(program: &Program, chan: &InitEnd) -> Result<(), SysError> {
    let listener = program
        .install()
        .map_err(|e| SysError::new("install seccomp filter", Cause::Other(e.to_string())))?;
    if let Some(fd) = listener {
        chan.send_with_fd(&ToRuntime::SeccompListener, &fd)?;
    }
    Ok(())
}

fn reset_signals() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: restoring the default disposition installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) };
    }
}

/// In a new user namespace the process starts as the overflow uid until it switches to the
/// mapped root.
fn become_root_in_userns() -> Result<(), SysError> {
    let zero_g = Gid::from_raw(0);
    let zero_u = Uid::from_raw(0);
    setresgid(zero_g, zero_g, zero_g).step(|| "setgid 0 in the user namespace".to_string())?;
    setresuid(zero_u, zero_u, zero_u).step(|| "setuid 0 in the user namespace".to_string())
}

fn join_new_session_keyring() -> Result<(), SysError> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a null name asks for a new anonymous session keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    match Errno::result(r) {
        // Kernels without keyrings, or seccomp profiles that deny keyctl: nothing to isolate.
        Ok(_) | Err(Errno::ENOSYS) => Ok(()),
        Err(e) => Err(SysError::new("join a new session keyring", e)),
    }
}

fn set_dumpable(on: bool) -> Result<(), SysError> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
        .step(|| "set dumpable".to_string())
}

fn set_keepcaps(on: bool) -> Result<(), SysError> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
        .step(|| "set keepcaps".to_string())
}

fn set_domainname(name: &str) -> Result<(), SysError> {
    // SAFETY: the pointer and length describe the string's bytes.
    Errno::result(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) })
        .map(drop)
        .step(|| format!("setdomainname {name:?}"))
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
fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, InitError> {
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
            .map_err(|e| InitError::Exec(name.into(), Cause::Errno(e).to_string()));
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
    Err(InitError::Exec(name.into(), why.into()))
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

fn exec(program: &Path, args: &[String], env: &[String]) -> Result<Infallible, InitError> {
    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| SysError::new("exec: argument contains NUL", Errno::EINVAL))
    };
    let path = cstr(program.as_os_str().as_bytes())?;
    let argv = args
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = env
        .iter()
        .map(|e| cstr(e.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let err = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(InitError::Exec(
        program.display().to_string(),
        Cause::Errno(err).to_string(),
    ))
}
