//! OCI lifecycle hooks: programs run with the container's state JSON on stdin.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

/// A hook that failed to run, failed, or ran out of time.
#[derive(Debug, thiserror::Error)]
/// The text carries runc's words ("error running hook", "signal: bad system call"), which
/// runc's tests and engines' logs match.
#[error("{phase} hook {path}: error running hook: {reason}")]
pub struct HookError {
    pub phase: &'static str,
    pub path: String,
    pub reason: String,
}

/// Runs every hook in order, each whatever the ones before did, and logs a warning for each
/// that fails: for poststart and poststop, "If any poststart hook fails, the runtime MUST log a
/// warning, but the remaining hooks and lifecycle continue as if the hook had succeeded" (the
/// runtime spec's lifecycle; the same words for poststop).
pub fn run_each_warning(phase: &'static str, hooks: &[Hook], state_json: &str) {
    for hook in hooks {
        if let Err(e) = run(phase, hook, state_json, None) {
            crate::logging::warn(&e.to_string());
        }
    }
}

/// Runs each hook in order, stopping at the first failure.
pub fn run_all(phase: &'static str, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for hook in hooks {
        run(phase, hook, state_json, None)?;
    }
    Ok(())
}

/// [`run_all`] with `dir` as each hook's working directory: the container's root filesystem
/// for createContainer hooks, as runc runs them (so `./lib` in a hook is the container's
/// `/lib`: NVIDIA's and runc's own hooks rely on it).
pub fn run_all_in(
    phase: &'static str,
    hooks: &[Hook],
    state_json: &str,
    dir: &Path,
) -> Result<(), HookError> {
    for hook in hooks {
        run(phase, hook, state_json, Some(dir))?;
    }
    Ok(())
}

/// Runs one hook: `args[0]` becomes its argv[0], its environment is exactly `env`, the state
/// is written to its stdin, and it is killed when `timeout` seconds pass. Its working
/// directory is `dir`, else the caller's.
pub fn run(
    phase: &'static str,
    hook: &Hook,
    state_json: &str,
    dir: Option<&Path>,
) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let fail = |reason: String| HookError {
        phase,
        path: path.clone(),
        reason,
    };
    let mut cmd = Command::new(hook.path());
    if let Some((arg0, rest)) = hook.args().as_ref().and_then(|a| a.split_first()) {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to an in-memory file rather than a pipe: a chatty hook can never block on a
    // full pipe while we wait for it, and the last line is kept for the error message.
    let mut output = output_file().map_err(|e| fail(format!("create output buffer: {e}")))?;
    let clone = || {
        output
            .try_clone()
            .map_err(|e| fail(format!("create output buffer: {e}")))
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(clone()?))
        .stderr(Stdio::from(clone()?));
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(crate::error::Cause::from(e).to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin closes the pipe; that is not a failure.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut delay = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(fail(format!("wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or_default()
            )));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = output.seek(SeekFrom::Start(0));
    let _ = output.read_to_string(&mut text);
    let stderr = text;
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        // Go's words for a signal (ExitError): "signal: bad system call", "signal: killed".
        (_, Some(s)) => format!("signal: {}", signal_description(s)),
        _ => "failed".into(),
    };
    Err(fail(if last.is_empty() {
        how
    } else {
        format!("{how}: {}", last.trim())
    }))
}

/// The C library's description of signal `sig`, in lower case ("bad system call"), or its
/// number when it has none.
fn signal_description(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a string that stays valid until the next call on
    // this thread; it is copied at once.
    let text = unsafe { libc::strsignal(sig) };
    if text.is_null() {
        return sig.to_string();
    }
    // SAFETY: a non-null result of strsignal is a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(text) };
    text.to_string_lossy().to_lowercase()
}

/// An anonymous in-memory file (memfd) for a hook's output.
fn output_file() -> std::io::Result<File> {
    // SAFETY: memfd_create takes a NUL-terminated name and returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"rind-hook-output".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a freshly created descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}
