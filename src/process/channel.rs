//! The channel between the runtime and the container's init while the container is created.
//!
//! A `SOCK_SEQPACKET` socket pair: each message is one datagram holding one JSON value, so
//! message boundaries are kept and a dead peer reads as end-of-file, never as a hang. Each
//! direction has its own message type, and each end its own channel type, so a message sent
//! the wrong way does not compile.
//!
//! The protocol, in order (steps in brackets happen only for some specs):
//!
//! | # | direction      | message          | meaning                                              |
//! |---|----------------|------------------|------------------------------------------------------|
//! | 1 | runtime → init | `Proceed`        | id maps written if the clone made a user namespace (without one, sent before the clone); the cgroup may still be incomplete |
//! | 2 | runtime → init | `CgroupReady`    | the cgroup is complete, limits applied; with fds: the `tasks` file of each v1 hierarchy, for init to join (it reads this before it sends any request) |
//! | 3 | init → runtime | [`IdMapRequest`] | init unshared a user namespace itself; write its maps |
//! | 4 | runtime → init | [`IdMapsWritten`]| the maps are in place                                |
//! | 5 | init → runtime | [`InitPid`]      | init forked into its PID/time namespace; the forking process exits |
//! | 6 | init → runtime | [`IdMappedMountRequest`] | once per id-mapped mount, and per bind mount of a container with its own user namespace, in spec order; with an fd: init's user namespace, when init has its own |
//! | 7 | runtime → init | [`IdMappedMount`] | with an fd: the detached mount (id-mapped when asked), for init to attach |
//! | 8 | init → runtime | `MountsReady`    | mounts done, before pivot_root: run prestart and createRuntime hooks (only sent when the spec has prestart, createRuntime, createContainer or startContainer hooks) |
//! | 9 | runtime → init | `HooksDone`      | the hooks succeeded; carries the state for init's hooks |
//! |10 | init → runtime | [`SeccompListener`] | with an fd: the seccomp notify listener, for the agent at `listenerPath` |
//! |11 | init → runtime | `Ready`          | set up, the late seccomp filter in place; all that is left is the wait on `exec.fifo` (with the exec stub: the stub's `execveat`, then the wait) |
//! |12 | init → runtime | end of file      | with the exec stub only: init executed the stub (the channel is close-on-exec); the runtime checks init is alive |
//! | * | init → runtime | `Failed`         | a step failed; the message names it; init exits      |
//! | * | init → runtime | `Trace`          | a timestamped step, when `--trace` is on             |
//!
//! `exec` speaks the same protocol from 1 (no 3-10 but 5 and 10), and its end of file after
//! `Ready` is its `execve`: a failed one sends `Failed` first. Failures after `start` cannot
//! use the channel (`create` has returned): they go to `start` through `exec.fifo`
//! ([`super::fifo`]).
//!
//! Between 1 and 2 the runtime completes the cgroup (the v1 hierarchies, the limits) while
//! init sets up what does not need it (a new network namespace, which init unshares itself and
//! whose `lo` it brings up: the clone never makes one). Init reads `CgroupReady` before its
//! first request, so the runtime's answers never interleave with it: every request (3, 5, 6,
//! 8, 10, 11) is sent through [`InCgroup`], which only [`InitEnd::join_cgroup`] returns.
//! Init waits for a message with [`InitEnd::expect`], the one place where an unexpected
//! message or the runtime's end of file becomes an error naming the step.

use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    send, sendmsg, socketpair,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cgroups;
use crate::error::{Cause, StepContext, SysError};

/// Messages from the runtime to init.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToInit {
    Proceed,
    CgroupReady,
    IdMapsWritten,
    /// The id-mapped mount init asked for; the mount's fd travels with this message.
    IdMappedMount,
    /// Carries the state document for the hooks init runs itself.
    HooksDone {
        state: serde_json::Value,
    },
}

/// Messages from init to the runtime.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToRuntime {
    IdMapRequest,
    InitPid {
        pid: i32,
    },
    /// Init reached spec mount `index`, an id-mapped bind mount or a bind mount of a container
    /// with its own user namespace: the runtime makes it (see `linux::idmap`).
    IdMappedMountRequest {
        index: usize,
    },
    MountsReady,
    Ready,
    Failed {
        message: String,
    },
    Trace {
        nanos: u64,
        step: String,
    },
    /// The seccomp user-notification listener; the fd travels with this message.
    SeccompListener,
}

/// One end of the channel: sends `S`, receives `R`.
pub struct Channel<S, R> {
    fd: OwnedFd,
    _types: PhantomData<fn(S) -> R>,
}

/// The runtime's end.
pub type RuntimeEnd = Channel<ToInit, ToRuntime>;
/// Init's end.
pub type InitEnd = Channel<ToRuntime, ToInit>;

/// Largest message: a failure message, a trace step or the hooks' state, well under this.
const MAX_MESSAGE: usize = 64 * 1024;

/// Most descriptors one message carries: `CgroupReady` carries one `tasks` file per cgroup v1
/// hierarchy (a dozen at most).
pub const MAX_FDS: usize = 32;

/// Creates a connected pair (close-on-exec on both ends).
pub fn pair() -> Result<(RuntimeEnd, InitEnd), SysError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .step(|| "create sync socket pair".to_string())?;
    Ok((Channel::new(a), Channel::new(b)))
}

impl<S: Serialize, R: DeserializeOwned> Channel<S, R> {
    fn new(fd: OwnedFd) -> Self {
        Channel {
            fd,
            _types: PhantomData,
        }
    }

    /// Sends one message.
    fn send_msg(&self, msg: &S) -> Result<(), SysError> {
        let bytes = serde_json::to_vec(msg)
            .map_err(|e| SysError::new("encode sync message", Cause::Other(e.to_string())))?;
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
            .map(drop)
            .step(|| "send sync message".to_string())
    }

    /// Sends one message with `write(2)`: for what init and exec send once a seccomp filter may
    /// be in place (`Ready`, `Failed`). Profiles allow `write` (the runtime needs it; runc
    /// refuses SCMP_ACT_NOTIFY on it), not always `sendto`.
    fn write_msg(&self, msg: &S) -> Result<(), SysError> {
        let bytes = serde_json::to_vec(msg)
            .map_err(|e| SysError::new("encode sync message", Cause::Other(e.to_string())))?;
        nix::unistd::write(&self.fd, &bytes)
            .map(drop)
            .step(|| "send sync message".to_string())
    }

    /// Sends one message with a file descriptor attached (SCM_RIGHTS).
    fn send_msg_with_fd(&self, msg: &S, fd: &impl AsRawFd) -> Result<(), SysError> {
        self.send_msg_with_fds(msg, &[fd.as_raw_fd()])
    }

    /// Sends one message with up to [`MAX_FDS`] descriptors attached.
    fn send_msg_with_fds(&self, msg: &S, fds: &[RawFd]) -> Result<(), SysError> {
        if fds.len() > MAX_FDS {
            return Err(SysError::new(
                format!("send {} descriptors in one sync message", fds.len()),
                Cause::Other(format!("at most {MAX_FDS} fit")),
            ));
        }
        if fds.is_empty() {
            return self.send_msg(msg);
        }
        let bytes = serde_json::to_vec(msg)
            .map_err(|e| SysError::new("encode sync message", Cause::Other(e.to_string())))?;
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[IoSlice::new(&bytes)],
            &[ControlMessage::ScmRights(fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map(drop)
        .step(|| "send sync message with fds".to_string())
    }

    /// Receives one message; `None` when the peer has closed its end (it exited).
    pub fn recv(&self) -> Result<Option<R>, SysError> {
        Ok(self.recv_with_fds()?.map(|(m, _)| m))
    }

    /// Receives one message and the first descriptor attached to it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(R, Option<OwnedFd>)>, SysError> {
        Ok(self
            .recv_with_fds()?
            .map(|(m, fds)| (m, fds.into_iter().next())))
    }

    /// Receives one message and the descriptors attached to it.
    pub fn recv_with_fds(&self) -> Result<Option<(R, Vec<OwnedFd>)>, SysError> {
        // The next message's length first (MSG_TRUNC reports it whole), so that the buffer is
        // as large as the message: in init every page of a larger one would be copied on
        // write from the runtime's memory.
        let len = loop {
            match nix::sys::socket::recv(
                self.fd.as_raw_fd(),
                &mut [],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                // A peer that closed with a message of ours unread makes the next receive
                // fail once with ECONNRESET, before what it sent us: read on.
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET) => continue,
                Err(e) => return Err(SysError::new("receive sync message", e)),
                Ok(len) => break len,
            }
        };
        if len > MAX_MESSAGE {
            return Err(SysError::new(
                "receive sync message",
                Cause::Other(format!("{len} bytes, more than the {MAX_MESSAGE} allowed")),
            ));
        }
        let mut buf = vec![0u8; len.max(1)];
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (n, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET) => continue,
                Err(e) => return Err(SysError::new("receive sync message", e)),
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for c in msg.cmsgs().step(|| "receive sync message".to_string())? {
                        if let ControlMessageOwned::ScmRights(raw) = c {
                            // SAFETY: the kernel just installed these descriptors for us.
                            fds.extend(raw.iter().map(|f| unsafe { OwnedFd::from_raw_fd(*f) }));
                        }
                    }
                    break (msg.bytes, fds);
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(|m| Some((m, fds)))
            .map_err(|e| SysError::new("decode sync message", Cause::Other(e.to_string())))
    }
}

/// The runtime sends on its end at any time: init reads only when it waits for an answer.
impl RuntimeEnd {
    /// Sends one message to init.
    pub fn send(&self, msg: &ToInit) -> Result<(), SysError> {
        self.send_msg(msg)
    }

    /// Sends one message to init with a descriptor attached.
    pub fn send_with_fd(&self, msg: &ToInit, fd: &impl AsRawFd) -> Result<(), SysError> {
        self.send_msg_with_fd(msg, fd)
    }

    /// Sends one message to init with up to [`MAX_FDS`] descriptors attached.
    pub fn send_with_fds(&self, msg: &ToInit, fds: &[RawFd]) -> Result<(), SysError> {
        self.send_msg_with_fds(msg, fds)
    }
}

/// Init's end: before it is in its cgroup, init may only wait for the runtime and report a
/// failure. Every request, and `Ready`, goes through [`InCgroup`], which only
/// [`InitEnd::join_cgroup`] makes: a request sent before `CgroupReady` was read and the
/// cgroup joined does not compile (the runtime's answer could otherwise come before
/// `CgroupReady`, which init would then read as the wrong message).
///
/// ```compile_fail
/// # use rind::process::channel::{InitEnd, ToRuntime};
/// fn request_before_the_cgroup(chan: &InitEnd) {
///     let _ = chan.send(&ToRuntime::MountsReady);
/// }
/// ```
///
/// ```no_run
/// # use rind::process::channel::{InitEnd, ToRuntime};
/// fn request_from_the_cgroup(chan: &InitEnd) -> Result<(), rind::error::SysError> {
///     let requests = chan.join_cgroup()?;
///     requests.send(&ToRuntime::MountsReady)
/// }
/// ```
impl InitEnd {
    /// Receives the message init waits for while it does `step`: `pick` takes it (and its
    /// descriptors) or hands it back. The one treatment of an unexpected message, or of the
    /// runtime's end of file, on init's side: an error naming the step.
    pub fn expect<T>(
        &self,
        step: &str,
        pick: impl FnOnce(ToInit, Vec<OwnedFd>) -> Result<T, ToInit>,
    ) -> Result<T, SysError> {
        match self.recv_with_fds()? {
            Some((m, fds)) => pick(m, fds).map_err(|m| {
                SysError::new(
                    step,
                    Cause::Other(format!("unexpected message from the runtime: {m:?}")),
                )
            }),
            None => Err(SysError::new(
                step,
                Cause::Other("runtime went away during setup".into()),
            )),
        }
    }

    /// [`expect`](Self::expect) for a message that carries nothing init keeps.
    pub fn expect_only(&self, step: &str, want: ToInit) -> Result<(), SysError> {
        self.expect(step, |m, _| if m == want { Ok(()) } else { Err(m) })
    }

    /// Waits for `CgroupReady` and joins the cgroup through the `tasks` files it carries
    /// ([`cgroups::join_self`]): from here on init may send requests.
    pub fn join_cgroup(&self) -> Result<InCgroup<'_>, SysError> {
        let task_files = self.expect("wait for the cgroup", |m, fds| match m {
            ToInit::CgroupReady => Ok(fds),
            m => Err(m),
        })?;
        cgroups::join_self(&task_files).map_err(|e| {
            SysError::new("enter the container's cgroup", Cause::Other(e.to_string()))
        })?;
        Ok(InCgroup { chan: self })
    }

    /// Reports init's failure, with `write(2)`, which a seccomp filter installed by now still
    /// allows. Allowed at any time: init exits next, and asks nothing.
    pub fn report_failure(&self, message: String) -> Result<(), SysError> {
        self.write_msg(&ToRuntime::Failed { message })
    }
}

/// Init's end once init is in its cgroup: what sends requests to the runtime (and `Ready`).
pub struct InCgroup<'a> {
    chan: &'a InitEnd,
}

impl InCgroup<'_> {
    /// Sends one message to the runtime.
    pub fn send(&self, msg: &ToRuntime) -> Result<(), SysError> {
        self.chan.send_msg(msg)
    }

    /// Sends one message to the runtime with a descriptor attached.
    pub fn send_with_fd(&self, msg: &ToRuntime, fd: &impl AsRawFd) -> Result<(), SysError> {
        self.chan.send_msg_with_fd(msg, fd)
    }

    /// Sends `Ready` with `write(2)`, which any seccomp profile allows.
    pub fn ready(&self) -> Result<(), SysError> {
        self.chan.write_msg(&ToRuntime::Ready)
    }

    /// Receives the runtime's answer (see [`InitEnd::expect`]).
    pub fn expect<T>(
        &self,
        step: &str,
        pick: impl FnOnce(ToInit, Vec<OwnedFd>) -> Result<T, ToInit>,
    ) -> Result<T, SysError> {
        self.chan.expect(step, pick)
    }

    /// Receives an answer that carries nothing init keeps (see [`InitEnd::expect_only`]).
    pub fn expect_only(&self, step: &str, want: ToInit) -> Result<(), SysError> {
        self.chan.expect_only(step, want)
    }
}

impl<S, R> std::fmt::Debug for Channel<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel(fd {})", self.fd.as_raw_fd())
    }
}

impl<S, R> AsFd for Channel<S, R> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_in_both_directions() {
        let (runtime, init) = pair().unwrap();
        runtime.send(&ToInit::Proceed).unwrap();
        assert_eq!(init.recv().unwrap(), Some(ToInit::Proceed));
        init.send_msg(&ToRuntime::InitPid { pid: 42 }).unwrap();
        assert_eq!(
            runtime.recv().unwrap(),
            Some(ToRuntime::InitPid { pid: 42 })
        );
    }

    #[test]
    fn an_fd_travels_with_its_message() {
        let (runtime, init) = pair().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        init.send_msg_with_fd(&ToRuntime::SeccompListener, &file)
            .unwrap();
        let (msg, fd) = runtime.recv_with_fd().unwrap().unwrap();
        assert_eq!(msg, ToRuntime::SeccompListener);
        let fd = fd.expect("an fd");
        let mut text = String::new();
        use std::io::Read;
        std::fs::File::from(fd).read_to_string(&mut text).unwrap();
        assert!(text.contains("Name:"));
    }

    #[test]
    fn closed_peer_reads_as_none() {
        let (runtime, init) = pair().unwrap();
        drop(init);
        assert_eq!(runtime.recv().unwrap(), None);
    }
}
