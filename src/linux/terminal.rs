//! Terminals: a pty allocated inside the container's devpts, whose master end is handed to
//! the caller over the `--console-socket` with SCM_RIGHTS (runc's protocol, which conmon and
//! containerd's shim speak).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use nix::sys::stat::Mode;
use nix::unistd::setsid;
use oci_spec::runtime::Box as ConsoleSize;

use crate::error::{StepContext, SysError};

/// Where the container's terminal master goes.
#[derive(Debug)]
pub enum ConsoleSocket {
    /// `--console-socket PATH`: the caller (conmon, containerd's shim) listens there.
    Path(PathBuf),
    /// One end of a pair the runtime made itself, to proxy the terminal in the foreground.
    Connected(OwnedFd),
}

impl ConsoleSocket {
    /// A connected socket to hand to the container process.
    pub fn connect(&self) -> Result<OwnedFd, SysError> {
        match self {
            ConsoleSocket::Path(path) => UnixStream::connect(path)
                .map(OwnedFd::from)
                .step(|| format!("connect to console socket {}", path.display())),
            ConsoleSocket::Connected(fd) => {
                fd.try_clone().step(|| "dup console socket".to_string())
            }
        }
    }
}

/// A socket pair for a foreground runtime that proxies the terminal: the runtime keeps the
/// first end and receives the master on it; the second goes to the container process.
pub fn console_pair() -> Result<(OwnedFd, ConsoleSocket), SysError> {
    let (ours, theirs) = UnixStream::pair().step(|| "create console socket pair".to_string())?;
    Ok((
        OwnedFd::from(ours),
        ConsoleSocket::Connected(OwnedFd::from(theirs)),
    ))
}

/// Receives one descriptor sent with SCM_RIGHTS (the terminal master).
pub fn recv_fd(socket: &impl AsRawFd) -> Result<OwnedFd, SysError> {
    let mut buf = [0u8; 256];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .step(|| "receive the terminal master".to_string())?;
    for c in msg
        .cmsgs()
        .step(|| "receive the terminal master".to_string())?
    {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(SysError::new(
        "receive the terminal master: no descriptor came",
        Errno::EBADMSG,
    ))
}

/// A pty pair.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub number: u32,
}

/// Opens a new pty through `/dev/ptmx` (which must lead to the container's devpts).
pub fn open_pty(size: Option<ConsoleSize>) -> Result<Pty, SysError> {
    let master = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "open /dev/ptmx".to_string())?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer, which is valid for the call.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })
        .step(|| "unlock pty".to_string())?;
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int to the pointer.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) })
        .step(|| "get pty number".to_string())?;
    // SAFETY: TIOCGPTPEER returns a new fd for the peer, or -1.
    let slave = Errno::result(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })
    .step(|| "open pty peer".to_string())?;
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave as RawFd) };
    if let Some(size) = size {
        set_size(&master, size.height() as u16, size.width() as u16)?;
    }
    Ok(Pty {
        master,
        slave,
        number,
    })
}

/// Sets a terminal's window size.
pub fn set_size(fd: &impl AsRawFd, rows: u16, cols: u16) -> Result<(), SysError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })
        .map(drop)
        .step(|| "set terminal size".to_string())
}

/// Sends `fd` over a unix socket with SCM_RIGHTS, with `name` as the message body.
pub fn send_fd(socket: &impl AsFd, fd: &impl AsRawFd, name: &str) -> Result<(), SysError> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        socket.as_fd().as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .map(drop)
    .step(|| "send pty master over the console socket".to_string())
}

/// The container side: allocates the pty, sends the master to the console socket, and makes
/// the peer the controlling terminal on fds 0, 1 and 2. For the container's init
/// (`as_console`), the peer is also bind-mounted on `/dev/console`.
pub fn setup_terminal(
    socket: OwnedFd,
    size: Option<ConsoleSize>,
    as_console: bool,
) -> Result<(), SysError> {
    let pty = open_pty(size)?;
    if as_console {
        super::console::mount_console(&pty.slave, pty.number)?;
    }
    send_fd(&socket, &pty.master, "/dev/ptmx")?;
    drop(pty.master);
    drop(socket);
    make_controlling(&pty.slave)
}

/// Starts a new session and makes `tty` its controlling terminal on stdin, stdout, stderr.
pub fn make_controlling(tty: &OwnedFd) -> Result<(), SysError> {
    setsid().step(|| "setsid".to_string())?;
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
    Errno::result(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) })
        .step(|| "set controlling terminal".to_string())?;
    for target in 0..3 {
        // SAFETY: plain dup2 on descriptors this process owns.
        Errno::result(unsafe { libc::dup2(tty.as_raw_fd(), target) })
            .step(|| format!("dup pty to fd {target}"))?;
    }
    Ok(())
}
