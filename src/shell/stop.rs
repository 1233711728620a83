//! `stop`: the stop signal, a grace period, then SIGKILL.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::ShellError;
use super::record::Record;
use super::remove::remove_record;
use crate::container::state::is_alive;
use crate::container::{self, Container, Status};
use crate::image::spec::{STOP_SIGNAL_ANNOTATION, parse_signal};

/// How long `stop` waits for the container to die after SIGKILL before it reports an error.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// What [`stop`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopOutcome {
    /// False when the container had already stopped (nothing was sent).
    pub was_running: bool,
    /// The first signal sent.
    pub signal: Signal,
    /// The grace period ran out and the container was killed with SIGKILL.
    pub killed: bool,
    /// The container was run with `--rm` and has been removed.
    pub removed: bool,
}

/// The signal `stop` sends first: the image's StopSignal, carried into the spec as the
/// annotation `org.opencontainers.image.stopSignal`, or SIGTERM.
pub fn stop_signal_of(annotations: &std::collections::BTreeMap<String, String>) -> Signal {
    annotations
        .get(STOP_SIGNAL_ANNOTATION)
        .and_then(|s| parse_signal(s))
        .and_then(|n| Signal::try_from(n).ok())
        .unwrap_or(Signal::SIGTERM)
}

/// Stops container `id`: sends its stop signal to its init, waits up to `grace` for it to exit,
/// then kills every process in it with SIGKILL. Returns once the container is `stopped`, or,
/// for an image container run with `--rm`, once it has been removed.
/// A created (never started) container is killed at once: its init is blocked and, as pid 1 of
/// its namespace, would ignore a signal it has no handler for.
pub fn stop(root: &Path, id: &str, grace: Duration) -> Result<StopOutcome, ShellError> {
    let c = Container::load(root, id)?;
    let record = Record::for_state(&c.state).filter(|r| r.rm);
    let mut outcome = stop_loaded(root, c, grace)?;
    if let Some(r) = record {
        remove_record(root, &r, false)?;
        outcome.removed = true;
    }
    Ok(outcome)
}

fn stop_loaded(root: &Path, c: Container, grace: Duration) -> Result<StopOutcome, ShellError> {
    let id = c.state.id.clone();
    let status = c.status();
    let signal = stop_signal_of(&c.state.annotations);
    let (pid, start) = (c.state.pid, c.state.init_start_time);
    drop(c);
    let mut outcome = StopOutcome {
        was_running: status != Status::Stopped,
        signal,
        killed: false,
        removed: false,
    };
    if status == Status::Stopped {
        return Ok(outcome);
    }
    if status != Status::Created {
        // A container that stopped since we looked is fine: the wait below sees it gone.
        let _ = container::kill(root, &id, Some(signal), false);
        if wait_exit(pid, start, grace) {
            return Ok(outcome);
        }
    }
    outcome.killed = true;
    match container::kill(root, &id, Some(Signal::SIGKILL), true) {
        Ok(()) => {}
        Err(_) if !is_alive(pid, start) => return Ok(outcome),
        Err(e) => return Err(e.into()),
    }
    if !wait_exit(pid, start, KILL_WAIT) {
        return Err(ShellError::Invalid(format!(
            "container {id}: init (pid {pid}) is still alive {}s after SIGKILL",
            KILL_WAIT.as_secs()
        )));
    }
    Ok(outcome)
}

/// Waits until the process `pid` that started at `start` has exited (a zombie counts), or
/// `timeout` passes. Returns whether it exited.
///
/// A pidfd wakes the wait the moment the process exits, where polling /proc would add up to
/// one polling interval to every stop. The pidfd is checked against the start time after it is
/// opened, so a recycled pid is never waited for.
pub fn wait_exit(pid: i32, start: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open with a pid and no flags; the result is a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if raw >= 0 {
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        loop {
            if !is_alive(pid, start) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }
    // No pidfd (an old kernel, or the process is already gone): poll /proc.
    while is_alive(pid, start) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn stop_signal_comes_from_the_annotation_or_is_sigterm() {
        let mut a = BTreeMap::new();
        assert_eq!(stop_signal_of(&a), Signal::SIGTERM);
        a.insert(STOP_SIGNAL_ANNOTATION.to_string(), "SIGQUIT".to_string());
        assert_eq!(stop_signal_of(&a), Signal::SIGQUIT);
        a.insert(STOP_SIGNAL_ANNOTATION.to_string(), "9".to_string());
        assert_eq!(stop_signal_of(&a), Signal::SIGKILL);
        a.insert(STOP_SIGNAL_ANNOTATION.to_string(), "NOPE".to_string());
        assert_eq!(stop_signal_of(&a), Signal::SIGTERM);
    }

    #[test]
    fn wait_exit_sees_a_child_exit_and_times_out_on_a_live_one() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.1")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let start = crate::sys::proc_stat(pid).unwrap().start_time;
        assert!(!wait_exit(pid, start, Duration::from_millis(10)));
        let t = Instant::now();
        assert!(wait_exit(pid, start, Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(2));
        child.wait().unwrap();
    }
}
