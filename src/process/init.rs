//! The container's init, from the clone to `execve`: one linear sequence, each step placed
//! where it must be for a reason given beside it.

use std::cell::{Cell, OnceCell};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::panic::AssertUnwindSafe;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, Gid, Uid, fork, setresgid, setresuid};
use oci_spec::runtime::LinuxNamespaceType;

use super::InitConfig;
use super::channel::{InCgroup, InitEnd, ToInit, ToRuntime};
use super::{fifo, program};
use crate::error::{StepContext, SysError};
use crate::linux::hooks::{self, HookError};
use crate::linux::namespaces::{self, CLONE_NEWTIME};
use crate::linux::rootfs::{self, RootfsContext, RootfsRequests};
use crate::linux::{network, sysctl, terminal};
use crate::sys::trace;

/// A step of init that failed.
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Program(#[from] program::ProgramError),
}

/// Who hears of a failure: the runtime over the channel while `create` waits, `start` through
/// exec.fifo once `start` released init.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listener {
    Create,
    Start,
}

/// Runs init in the cloned child and never returns: it either becomes the container's process
/// through `execve`, or reports the failed step and exits: to `create` (over the channel),
/// or after the release to `start` (through exec.fifo) and to the container's stderr.
pub fn main(cfg: &InitConfig, chan: InitEnd) -> ! {
    let listener = Cell::new(Listener::Create);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(cfg, &chan, &listener)));
    let message = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e.to_string(),
        Err(_) => "container init panicked".to_string(),
    };
    let reported = match listener.get() {
        Listener::Create => chan.report_failure(message.clone()).is_ok(),
        Listener::Start => {
            fifo::report(&cfg.fifo, &message);
            false
        }
    };
    if !reported {
        eprintln!("rind init: {message}");
    }
    // SAFETY: _exit skips atexit handlers and unwinding, which belong to the runtime's copy.
    unsafe { libc::_exit(1) }
}

fn run(
    cfg: &InitConfig,
    chan: &InitEnd,
    listener: &Cell<Listener>,
) -> Result<Infallible, InitError> {
    let spec = cfg.spec;
    let plan = cfg.plan;
    let process = spec
        .process()
        .as_ref()
        .expect("validated: process is present");

    // Step 0, closing the runtime's descriptors, came right after the clone (`launch::spawn`).
    //
    // 1. The runtime may block signals (run forwards them); the container starts with none
    //    blocked and default handlers.
    reset_signals();

    // Non-dumpable from the start (CVE-2016-9962): until execve no process of the container
    // (or of a container whose PID namespace this one joins) may ptrace init or open its
    // /proc/<pid>/{exe,fd,mem}. oom_score_adj first: init is still root of the host's user
    // namespace here, so the write needs no dumpable /proc/self (it is inherited across the
    // fork into a PID namespace).
    if let Some(adj) = process.oom_score_adj() {
        crate::linux::procfs::write_self("oom_score_adj", adj.to_string().as_bytes())
            .map_err(|e| SysError::new(format!("write oom_score_adj {adj}"), e.cause))?;
    }
    // Rootless: an ordinary user's runtime may open this process's uid_map and gid_map only
    // while it is dumpable (the files of a non-dumpable process belong to the host's root), so
    // init turns non-dumpable once its maps are written. Until then it runs nothing of the
    // container and has joined nothing; the only processes that could reach it are the
    // user's own, which could ptrace the runtime itself.
    let defer_nondumpable =
        crate::rootless::unprivileged() && (plan.user_in_clone() || plan.user_in_child);
    if !defer_nondumpable {
        set_dumpable(false)?;
    }

    // Then wait until, if the clone made a user namespace, our id maps are written.
    chan.expect_only("wait for the runtime to proceed", ToInit::Proceed)?;
    let cgroup = CgroupEntry {
        chan,
        new_namespace: plan.is_new(LinuxNamespaceType::Cgroup),
        entered: OnceCell::new(),
    };
    // 2. The cgroup is still being completed by the runtime: init enters it
    //    (`cgroup.enter()`) as late as it can, once, before anything that needs it: a request
    //    to the runtime (which only the entry's `InCgroup` can send), a fork, the cgroup
    //    mount, and at the latest when the mounts are done.

    // 3. Namespaces. Join by path first, while still privileged in the runtime's user
    //    namespace; then a new user namespace, alone, so the runtime can map it; then the rest,
    //    which the new user namespace then owns. The cgroup namespace comes with the cgroup
    //    placement (`cgroup.enter()`), so that its root is the container's cgroup.
    let joins = namespaces::open_joins(plan)?;
    namespaces::join(joins)?;
    let user_flag = CloneFlags::CLONE_NEWUSER.bits() as u64;
    if plan.user_in_child {
        let requests = cgroup.enter()?;
        namespaces::unshare_flags(user_flag)?;
        requests.send(&ToRuntime::IdMapRequest)?;
        requests.expect_only("wait for the id maps", ToInit::IdMapsWritten)?;
    }
    if defer_nondumpable {
        set_dumpable(false)?;
    }
    if plan.is_private(LinuxNamespaceType::User) {
        become_root_in_userns()?;
    }
    namespaces::unshare_flags(plan.unshare_flags & !user_flag & !CGROUP_FLAG)?;
    if plan.unshare_flags & CLONE_NEWTIME != 0 && !plan.time_offsets.is_empty() {
        // /proc/self/timens_offsets of a non-dumpable process belongs to the host's root,
        // which init in its own user namespace is not: dumpable for this one write. Init is
        // not yet in any PID namespace the container's processes share (the fork is next).
        let in_userns = plan.is_private(LinuxNamespaceType::User);
        if in_userns {
            set_dumpable(true)?;
        }
        let written = namespaces::write_time_offsets(&plan.time_offsets);
        if in_userns {
            set_dumpable(false)?;
        }
        written?;
    }
    // A new network namespace (always unshared here, never made by the clone) starts with
    // `lo` down; runc brings it up, and programs expect 127.0.0.1 to work.
    if plan.is_new(LinuxNamespaceType::Network) {
        network::loopback_up()?;
    }
    trace::mark(|| {
        format!(
            "init: namespaces ready ({})",
            namespaces::describe(plan.clone_flags | plan.unshare_flags)
        )
    });

    // 4. A joined or unshared PID (or time) namespace applies to children only: fork once so
    //    that init is inside it. The forking process reports the pid and leaves.
    if plan.fork {
        let requests = cgroup.enter()?;
        // SAFETY: the process is single-threaded; the child continues with plain code.
        match unsafe { fork() }.step(|| "fork into the pid namespace".to_string())? {
            ForkResult::Parent { child } => {
                let _ = requests.send(&ToRuntime::InitPid {
                    pid: child.as_raw(),
                });
                // SAFETY: leave without running the runtime's exit handlers.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Child => {}
        }
    }

    // 5. A session keyring of its own: the caller's keys are not the container's business.
    if cfg.new_keyring {
        join_new_session_keyring()?;
    }

    // 6. The filesystem view, up to pivot_root. An id-mapped bind mount needs privileges init
    //    no longer has in its user namespace: the runtime makes it detached, on request, and
    //    init attaches it in order.
    let in_userns = plan.is_private(LinuxNamespaceType::User);
    let own_mount_ns = plan.is_private(LinuxNamespaceType::Mount);
    let ctx = RootfsContext {
        spec,
        rootfs: cfg.rootfs,
        bundle: cfg.bundle,
        in_userns,
        rootless: crate::rootless::active(),
        no_host_privilege: crate::rootless::without_host_privilege(),
        own_mount_ns,
        cgroupns: plan.is_private(LinuxNamespaceType::Cgroup),
        cgroup: &cfg.cgroup,
        cgroup_mounts: &cfg.cgroup_mounts,
        runtime: &cgroup,
        overlay: cfg.root_overlay,
    };
    let root = rootfs::prepare(&ctx)?;
    let requests = cgroup.enter()?;
    trace::mark(|| "init: mounts done".into());
    // 7. The runtime runs the prestart and createRuntime hooks (in its own namespaces), which
    //    must see the mounts but not yet the pivot.
    // Without hooks there is nothing to wait for (and no state to pass on).
    let mut hook_state = if has_setup_hooks(spec) {
        requests.send(&ToRuntime::MountsReady)?;
        requests.expect("wait for the runtime's hooks", |m, _| match m {
            ToInit::HooksDone { state } => Ok(state),
            m => Err(m),
        })?
    } else {
        serde_json::Value::Null
    };

    //    Then createContainer hooks, in the container's namespaces, before pivot_root, in
    //    the rootfs.
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        hooks::run_all_in("createContainer", h, &hook_state.to_string(), cfg.rootfs)?;
    }

    // 8. Enter the new root. Without a mount namespace, chroot is all that is possible.
    if own_mount_ns {
        rootfs::pivot(&root, cfg.no_pivot)?;
        rootfs::set_root_propagation(spec)?;
    } else {
        rootfs::chroot_into(&root)?;
    }
    drop(root);
    trace::mark(|| "init: pivot_root done".into());

    // 9. The terminal, once the container's devpts is at /dev/pts.
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
        terminal::setup_terminal(socket, process.console_size(), true)?;
    } else {
        // A session of its own, as runc gives every container process: `kill(0, ...)` inside
        // must not reach the caller's process group (conmon's, under podman), and a group
        // kill of the init's group (podman run --timeout) must reach the container.
        nix::unistd::setsid().step(|| "setsid".to_string())?;
    }

    // 10. The rest of the filesystem view: read-only root, then hostname and sysctls (written
    //     through the procfs handle before /proc/sys becomes read-only), then readonly and
    //     masked paths. The read-only tmpfs mounts and /dev were left writable for the nodes
    //     and the console until now.
    if plan.is_private(LinuxNamespaceType::Mount) {
        rootfs::finish_readonly(spec)?;
    }
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
    rootfs::mask_and_protect(spec)?;
    trace::mark(|| "init: rootfs finalized".into());

    // 11. Limits, privileges, working directory and the program: checked now so that a
    //     missing or non-executable binary fails `create`, not `start`. `prepare` closes
    //     every descriptor but stdio, the preserved ones, the channel, exec.fifo and the stub
    //     first (the console socket went with the terminal's setup): nothing that names a
    //     host directory is open when the cwd or the program's path is resolved.
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        crate::linux::security::set_personality(p)?;
    }
    let keep: Vec<RawFd> = [Some(chan.as_fd()), Some(cfg.fifo.as_fd())]
        .into_iter()
        .chain(std::iter::once(cfg.exec_stub.as_ref().map(AsFd::as_fd)))
        .flatten()
        .map(|fd| fd.as_raw_fd())
        .collect();
    let setup = program::Setup {
        process,
        seccomp: cfg.seccomp.as_ref(),
        preserve_fds: cfg.preserve_fds,
        keep: &keep,
        own_terminal: process.terminal().unwrap_or(false),
    };
    let prepared = program::prepare(&setup, requests)?;

    // 12. `Ready`, and the last steps that can fail before `start` (the late seccomp filter
    //     among them). From here on nothing may fail silently: `create` fails with what
    //     fails before it returns, `start` with what fails after the release.
    //
    //     With the exec stub, `Ready` comes first: `create` reads on to the channel's end,
    //     which comes at init's execveat of the stub (a failure before it arrives as
    //     `Failed`, with `write`, which the filter allows), so the runtime writes its state
    //     while init installs the filter (the kernel's preparation of a large profile takes
    //     a millisecond or more) and the teardown of init's copy of rind's address space
    //     runs beside the end of `create`. The stub then waits on exec.fifo for `start`.
    //     The stub is only used without startContainer hooks (`exec_stub::usable_for`),
    //     which would need init after the release.
    //
    //     Without it, `Ready` is init's last word to `create`: it comes after the filter.
    //
    // 13. With the stub: its execveat, once `Ready` is sent and the filter is in.
    if let Some(stub) = &cfg.exec_stub {
        let route = program::Route::StubAfterStart(stub.as_fd(), cfg.fifo.as_fd());
        requests.ready()?;
        prepared.finish(route)?;
        return Err(prepared.exec(route).into());
    }
    prepared.finish(program::Route::Direct)?;
    requests.ready()?;

    // 14. Without the stub, init waits on exec.fifo itself. What fails after the release
    //     goes to `start`, through exec.fifo.
    fifo::wait(&cfg.fifo)?;
    listener.set(Listener::Start);
    trace::mark(|| "init: released by start".into());

    //     Then startContainer hooks run in the container, after start, before the program,
    //     under the seccomp filter (as in runc). They inherit only stdio.
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        hook_state["status"] = "created".into();
        hooks::run_all("startContainer", h, &hook_state.to_string())?;
    }

    //     Then the program. The channel goes first: only stdio, the preserved fds and
    //     exec.fifo (close-on-exec, kept to report a failed execve to `start`) are open while
    //     the kernel resolves the program's path.
    trace::mark(|| format!("init: execve {}", prepared.program().display()));
    trace::stop_forwarding();
    // SAFETY: the channel is never used again by this process, which executes or exits next
    // (its owner is never dropped: nothing returns from `main`).
    unsafe { libc::close(chan.as_fd().as_raw_fd()) };
    Err(prepared.exec(program::Route::Direct).into())
}

/// Whether the spec has a hook that needs the `MountsReady` round trip: prestart and
/// createRuntime (the runtime runs them then), createContainer and startContainer (init runs
/// them with the state the runtime sends back).
fn has_setup_hooks(spec: &oci_spec::runtime::Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().is_some()
            || h.create_runtime().is_some()
            || h.create_container().is_some()
            || h.start_container().is_some()
    })
}

const CGROUP_FLAG: u64 = CloneFlags::CLONE_NEWCGROUP.bits() as u64;

/// Init's way into its cgroup, taken once, as late as it can be (the runtime completes the
/// cgroup after the clone, in parallel with init's first steps, and says `CgroupReady` when it
/// is done: see the protocol in `channel`). Entering returns [`InCgroup`], which every request
/// to the runtime needs: whichever step needs the runtime first enters.
struct CgroupEntry<'a> {
    chan: &'a InitEnd,
    /// Unshare a new cgroup namespace once inside, so that its root is the container's
    /// cgroup.
    new_namespace: bool,
    entered: OnceCell<InCgroup<'a>>,
}

impl<'a> CgroupEntry<'a> {
    fn enter(&self) -> Result<&InCgroup<'a>, SysError> {
        if let Some(requests) = self.entered.get() {
            return Ok(requests);
        }
        let requests = self.chan.join_cgroup()?;
        if self.new_namespace {
            namespaces::unshare_flags(CGROUP_FLAG)?;
        }
        trace::mark(|| "init: in cgroup".into());
        Ok(self.entered.get_or_init(|| requests))
    }
}

/// What building the rootfs asks of the runtime, through the cgroup entry.
impl RootfsRequests for CgroupEntry<'_> {
    fn enter_cgroup(&self) -> Result<(), SysError> {
        self.enter().map(drop)
    }

    /// Asks the runtime for the detached mount of spec mount `index` (the runtime can attach a
    /// mapping to a host filesystem's mount; init, in its user namespace, cannot). A mount
    /// that takes the container's mapping needs init's user namespace, which goes with the
    /// request.
    fn detached_mount(&self, index: usize, own_userns: bool) -> Result<OwnedFd, SysError> {
        let requests = self.enter()?;
        let request = ToRuntime::IdMappedMountRequest { index };
        if own_userns {
            let userns = crate::linux::procfs::open_self_ns("user", libc::CLONE_NEWUSER)?;
            requests.send_with_fd(&request, &userns)?;
        } else {
            requests.send(&request)?;
        }
        requests.expect(&format!("id-mapped mount {index}"), |m, fds| match m {
            ToInit::IdMappedMount => fds.into_iter().next().ok_or(ToInit::IdMappedMount),
            m => Err(m),
        })
    }
}

pub(super) fn reset_signals() {
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
pub(super) fn become_root_in_userns() -> Result<(), SysError> {
    let zero_g = Gid::from_raw(0);
    let zero_u = Uid::from_raw(0);
    setresgid(zero_g, zero_g, zero_g).step(|| "setgid 0 in the user namespace".to_string())?;
    setresuid(zero_u, zero_u, zero_u).step(|| "setuid 0 in the user namespace".to_string())?;
    // The credential change reset dumpability to fs.suid_dumpable, which may be 1.
    set_dumpable(false)
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

pub(super) fn set_dumpable(on: bool) -> Result<(), SysError> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
        .step(|| "set dumpable".to_string())
}

fn set_domainname(name: &str) -> Result<(), SysError> {
    // SAFETY: the pointer and length describe the string's bytes.
    Errno::result(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) })
        .map(drop)
        .step(|| format!("setdomainname {name:?}"))
}
