//! Hands a user-notification listener to the seccomp agent named by `listenerPath`.
//!
//! The protocol is the runtime spec's and runc's: connect to the agent's unix stream socket,
//! and send in one `sendmsg` the container process state as JSON with the listener attached
//! as `SCM_RIGHTS`. The state's `fds` names each attached descriptor; the listener is
//! `"seccompFd"`. Then close the connection.

use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{ControlMessage, MsgFlags, UnixAddr, sendmsg};
use oci_spec::runtime::{ContainerProcessStateBuilder, SECCOMP_FD_NAME, State};

use super::SeccompError;
use crate::error::SysError;

/// Sends `listener` with the container process state (`state`, `metadata` from the spec's
/// `listenerMetadata`) to the agent listening on the unix socket at `path`.
///
/// The state's `pid` is the container process as the runtime sees it. Returns once the whole
/// message is written; the agent then owns its copy of the listener, and the caller may close
/// its own.
pub fn send_listener(
    path: &Path,
    listener: BorrowedFd<'_>,
    state: &State,
    metadata: Option<&str>,
) -> Result<(), SeccompError> {
    let mut builder = ContainerProcessStateBuilder::default()
        .version(state.version().clone())
        .fds(vec![SECCOMP_FD_NAME.to_string()])
        .pid(state.pid().unwrap_or(0))
        .state(state.clone());
    if let Some(metadata) = metadata {
        builder = builder.metadata(metadata.to_string());
    }
    let process_state = builder
        .build()
        .map_err(|e| SeccompError::Invalid(format!("container process state: {e}")))?;
    let json = serde_json::to_vec(&process_state)
        .map_err(|e| SeccompError::Invalid(format!("container process state: {e}")))?;

    let step = |what: &str| format!("{what} seccomp agent socket {}", path.display());
    // runc's words, which scripts and runc's own tests match.
    let mut stream = UnixStream::connect(path).map_err(|e| {
        SysError::new(
            format!("failed to connect with seccomp agent {}", path.display()),
            e,
        )
    })?;
    let fds = [listener.as_raw_fd()];
    let sent = sendmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &[IoSlice::new(&json)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| SysError::new(step("send the listener to"), e))?;
    // A stream socket may take part of the data; the descriptor went with the first byte.
    stream
        .write_all(&json[sent..])
        .map_err(|e| SysError::new(step("send the process state to"), e))?;
    Ok(())
}
