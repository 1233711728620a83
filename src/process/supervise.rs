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

/// Puts a terminal in raw mode until dropped (then restores its settings).
pub struct RawMode {
    fd: std::os::fd::RawFd,
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    /// Raw mode on `fd` if it is a terminal; `None` otherwise.
    pub fn enable(fd: std::os::fd::RawFd) -> Option<RawMode> {
        // SAFETY: the descriptor stays open for the life of the guard (stdin).
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let saved = nix::sys::termios::tcgetattr(bfd).ok()?;
        let mut raw = saved.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        nix::sys::termios::tcsetattr(bfd, nix::sys::termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: see `enable`.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let _ = nix::sys::termios::tcsetattr(bfd, nix::sys::termios::SetArg::TCSANOW, &self.saved);
    }
}

/// Copies the window size of the runtime's terminal (stdin) to the container's pty.
fn copy_window_size(master: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the pointer; TIOCSWINSZ reads one.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Like [`wait_forwarding`], while proxying the container's terminal: the runtime's stdin goes
/// to the pty master, the master's output to stdout, window size changes follow SIGWINCH, and
/// the runtime's terminal is in raw mode meanwhile (keystrokes such as ^C reach the container
/// as bytes, and its line discipline turns them into signals there).
pub fn wait_with_tty(
    set: &SigSet,
    pid: Pid,
    master: std::os::fd::OwnedFd,
) -> Result<i32, SysError> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use std::os::fd::AsFd;

    let sfd =
        SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC).step(|| "create signalfd".to_string())?;
    let _raw = RawMode::enable(0);
    copy_window_size(&master);
    let stdin = std::io::stdin();
    let mut stdin_open = true;
    let mut exit: Option<i32> = reap(pid)?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(master.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Once the process has exited, drain what the pty still holds, then stop.
        let timeout = if exit.is_some() {
            PollTimeout::ZERO
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(SysError::new("poll the terminal", e)),
            Ok(0) => return Ok(exit.unwrap_or(0)),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (master_ready, sig_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        drop(fds);
        if master_ready {
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => {
                    // Every process holding the pty is gone.
                    if let Some(code) = exit {
                        return Ok(code);
                    }
                    return wait_forwarding(set, pid);
                }
                Ok(n) => write_all(1, &buf[..n])?,
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(e) => return Err(SysError::new("read from the terminal", e)),
            }
        }
        if stdin_ready {
            match nix::unistd::read(&stdin, &mut buf) {
                // End of input: the pty sees ^D, as a terminal user would type it.
                Ok(0) => {
                    stdin_open = false;
                    let _ = write_all(std::os::fd::AsRawFd::as_raw_fd(&master), &[4]);
                }
                Ok(n) => write_all(std::os::fd::AsRawFd::as_raw_fd(&master), &buf[..n])?,
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
        }
        if sig_ready && let Ok(Some(info)) = sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {
                    if exit.is_none() {
                        exit = reap(pid)?;
                    }
                }
                Ok(Signal::SIGWINCH) => copy_window_size(&master),
                Ok(sig) => {
                    let _ = kill(pid, sig);
                }
                Err(_) => {}
            }
        }
    }
}

fn write_all(fd: std::os::fd::RawFd, mut data: &[u8]) -> Result<(), SysError> {
    while !data.is_empty() {
        // SAFETY: writing from a valid buffer to a descriptor this process holds.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR || e == nix::errno::Errno::EAGAIN {
                continue;
            }
            return Err(SysError::new("write terminal data", e));
        }
        data = &data[n as usize..];
    }
    Ok(())
}
