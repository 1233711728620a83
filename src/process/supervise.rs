//! Waiting for a container process in the foreground (`run`, `exec`): signals the runtime
//! receives are passed on, and the process's exit becomes the runtime's exit code.

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{StepContext, SysError};

/// Signals a foreground runtime passes on to the container process.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Blocks the forwarded signals and SIGCHLD, so none is lost or acted on by default before
/// the wait loop runs (the container process resets its own mask), and makes this process
/// the subreaper, so that a process forked into a PID namespace is reparented to it.
/// Call before the container process is cloned.
pub fn prepare() -> Result<SigSet, SysError> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block().step(|| "block signals".to_string())?;
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    Ok(set)
}

/// The exit code for a wait status: the code itself, or 128+n for a kill by signal n.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Reaps every child that has exited; returns `pid`'s exit code if it was among them.
pub fn reap(pid: Pid) -> Result<Option<i32>, SysError> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(st) if st.pid() == Some(pid) => {
                if let Some(code) = exit_code(st) {
                    return Ok(Some(code));
                }
            }
            Ok(_) => continue,
            Err(e) => return Err(SysError::new("wait for the container process", e)),
        }
    }
}

/// Passes signals on to `pid` until it exits; returns its exit code.
pub fn wait_forwarding(set: &SigSet, pid: Pid) -> Result<i32, SysError> {
    loop {
        if let Some(code) = reap(pid)? {
            return Ok(code);
        }
        let sig = set.wait().step(|| "wait for signals".to_string())?;
        if sig != Signal::SIGCHLD {
            let _ = kill(pid, sig);
        }
    }
}
