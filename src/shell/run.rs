//! Running a reserved image container in the foreground (this process waits and returns the
//! exit code) or detached (a monitor process waits, keeps the log and honours `--rm`).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, setsid};

use super::launch::{Reserved, StartOptions, finish, start};
use super::record::Record;
use super::{LOG_FILE, ShellError};
use crate::error::{StepContext, SysError};
use crate::linux::terminal;
use crate::process::supervise;

/// Points fd 0 at /dev/null, so that a container run without `-i` reads nothing (docker's
/// behaviour) instead of competing with the shell for the terminal.
pub fn detach_stdin() -> Result<(), SysError> {
    let null = File::open("/dev/null").step(|| "open /dev/null".into())?;
    dup2_stdin(&null).step(|| "point stdin at /dev/null".into())?;
    Ok(())
}

/// Runs the container in the foreground: creates and starts it with this process's stdio,
/// passes on the signals this process receives, records the exit code, removes the container
/// with `--rm`, and returns the exit code (128 + n for a kill by signal n). With a terminal and
/// `opts.proxy_terminal`, the container's pty is proxied to this process's stdio by
/// `supervise::wait_with_tty`, the same proxy runc's foreground `run` uses.
pub fn run_foreground(
    root: &Path,
    reserved: Reserved,
    opts: &StartOptions,
) -> Result<i32, ShellError> {
    let set = supervise::prepare()?;
    let (record, created) = start(root, reserved, opts)?;
    let code = match &created.console {
        Some(sock) => match terminal::recv_fd(sock) {
            Ok(master) => supervise::wait_with_tty(&set, created.pid, master),
            Err(e) => {
                let _ = super::remove::remove_record(root, &record, true);
                return Err(e.into());
            }
        },
        None => supervise::wait_forwarding(&set, created.pid),
    }?;
    if let Err(e) = finish(root, &record, code) {
        crate::logging::warn(&format!("container {}: {e}", record.id));
        eprintln!(
            "rind: {}",
            crate::error::one_line(&format!(
                "container {} exited with {code}, then: {e}",
                record.id
            ))
        );
    }
    Ok(code)
}

/// Starts the container detached and returns once it runs. A monitor process (forked before
/// the container is created, so it is the container's parent and sees its exit status) starts
/// the container with stdin on /dev/null and stdout and stderr appended to
/// `<bundle>/container.log`, reports success or the error back through a pipe, then waits,
/// records the exit code and, with `--rm`, removes the container. The monitor is in a session
/// of its own, so a hangup of the terminal does not reach it.
pub fn run_detached(
    root: &Path,
    reserved: Reserved,
    opts: &StartOptions,
) -> Result<Record, ShellError> {
    let log_path = reserved.record.bundle.join(LOG_FILE);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&log_path)
        .step(|| format!("open {}", log_path.display()))?;
    let null = File::open("/dev/null").step(|| "open /dev/null".into())?;
    let (from_monitor, to_parent) =
        pipe2(OFlag::O_CLOEXEC).step(|| "create the monitor's pipe".into())?;
    // The monitor runs with `/` as its working directory: paths must not depend on ours.
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let root = abs(root);
    let opts = StartOptions {
        pid_file: opts.pid_file.as_deref().map(abs),
        console_socket: opts.console_socket.as_deref().map(abs),
        ..opts.clone()
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: rind is single-threaded here (the pull's threads have been joined), so the child
    // may run ordinary code.
    match unsafe { fork() }.step(|| "fork the monitor".into())? {
        ForkResult::Child => {
            drop(from_monitor);
            let code = monitor(&root, reserved, &opts, &log, &null, to_parent);
            std::process::exit(code)
        }
        ForkResult::Parent { .. } => {
            drop(to_parent);
            // The monitor's descriptor keeps the bundle lock until the container has started.
            let record = reserved.unlock();
            let mut line = String::new();
            BufReader::new(File::from(from_monitor))
                .read_line(&mut line)
                .step(|| "read the monitor's report".into())?;
            match line.trim_end().strip_prefix("error: ") {
                None if line.trim_end() == "ok" => Ok(record),
                Some(msg) => Err(ShellError::Invalid(msg.to_string())),
                None => Err(ShellError::Invalid(format!(
                    "container {}: the monitor exited before the container started",
                    record.id
                ))),
            }
        }
    }
}

/// The monitor's life; returns its exit status.
fn monitor(
    root: &Path,
    reserved: Reserved,
    opts: &StartOptions,
    log: &File,
    null: &File,
    to_parent: OwnedFd,
) -> i32 {
    let mut report = File::from(to_parent);
    let setup = (|| {
        setsid().step(|| "start a new session".into())?;
        std::env::set_current_dir("/").step(|| "change directory to /".into())?;
        dup2_stdin(null).step(|| "point stdin at /dev/null".into())?;
        dup2_stdout(log).step(|| "point stdout at the log".into())?;
        dup2_stderr(log).step(|| "point stderr at the log".into())?;
        supervise::prepare()
    })();
    let set = match setup {
        Ok(set) => set,
        Err(e) => {
            let _ = writeln!(report, "error: {e}");
            return 1;
        }
    };
    let (record, created) = match start(root, reserved, opts) {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(report, "error: {e}");
            return 1;
        }
    };
    let _ = writeln!(report, "ok");
    drop(report);
    let code = match supervise::wait_forwarding(&set, created.pid) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rind monitor: {}", crate::error::one_line(&e.to_string()));
            return 1;
        }
    };
    match finish(root, &record, code) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "rind monitor: {}",
                crate::error::one_line(&format!(
                    "container {} exited with {code}, then: {e}",
                    record.id
                ))
            );
            1
        }
    }
}
