//! A minimal, blocking D-Bus client for talking to systemd on its private socket: SASL
//! EXTERNAL authentication, method calls with their replies, and signals read while waiting.
//!
//! systemd's manager listens on `/run/systemd/private` (the system manager, root only) and
//! `$XDG_RUNTIME_DIR/systemd/private` (a user's manager). These are direct peer-to-peer
//! connections: no bus daemon, no `Hello`, and systemd sends every signal to every direct
//! connection without a match rule. A connection to a bus daemon (an address given in
//! [`Conn::connect`] with `via_bus`) says `Hello` and adds a match rule for the signals.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::wire::{Reader, Value, WireError, Writer};

/// A failed D-Bus exchange.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error("cannot reach systemd at {path}: {cause}: is systemd the init?")]
    Connect {
        path: PathBuf,
        cause: crate::error::Cause,
    },
    #[error("D-Bus authentication with {path} failed: {detail}")]
    Auth { path: PathBuf, detail: String },
    #[error("D-Bus I/O with systemd: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
    /// An error reply: its name (`org.freedesktop.systemd1.NoSuchUnit`) and message.
    #[error("{method}: {message} ({name})")]
    Reply {
        method: String,
        name: String,
        message: String,
    },
    #[error("no answer from systemd to {0} within {1:?}")]
    Timeout(String, Duration),
}

type Result<T> = std::result::Result<T, DbusError>;

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// A received message, its header fields decoded.
#[derive(Debug, Default)]
pub struct Message {
    pub kind: u8,
    pub serial: u32,
    pub reply_serial: Option<u32>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub body: Vec<Value>,
}

/// A method call to send.
pub struct Call<'a> {
    pub destination: Option<&'a str>,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub body: Vec<Value>,
}

/// Marshals a method call with serial `serial`.
pub fn marshal_call(call: &Call, serial: u32) -> Vec<u8> {
    marshal_with_flags(call, serial, 0)
}

/// The header flag that asks for no reply.
const NO_REPLY_EXPECTED: u8 = 1;

fn marshal_with_flags(call: &Call, serial: u32, flags: u8) -> Vec<u8> {
    let mut body = Writer::default();
    for v in &call.body {
        body.value(v);
    }
    let sig: String = call.body.iter().map(Value::signature).collect();
    let field =
        |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(v))]);
    let mut fields = vec![
        field(1, Value::Path(call.path.into())),
        field(2, Value::str(call.interface)),
        field(3, Value::str(call.member)),
    ];
    if let Some(d) = call.destination {
        fields.push(field(6, Value::str(d)));
    }
    if !sig.is_empty() {
        fields.push(field(8, Value::Sig(sig)));
    }
    let mut w = Writer::default();
    w.value(&Value::Byte(b'l'));
    w.value(&Value::Byte(METHOD_CALL));
    w.value(&Value::Byte(flags));
    w.value(&Value::Byte(1));
    w.value(&Value::U32(body.buf.len() as u32));
    w.value(&Value::U32(serial));
    w.value(&Value::Array("(yv)".into(), fields));
    while !w.buf.len().is_multiple_of(8) {
        w.buf.push(0);
    }
    w.buf.extend_from_slice(&body.buf);
    w.buf
}

/// Decodes one complete message.
pub fn unmarshal(buf: &[u8]) -> Result<Message> {
    if buf.len() < 16 || buf[0] != b'l' {
        return Err(WireError("not a little-endian message".into()).into());
    }
    let mut r = Reader::new(buf);
    let head = r.values("yyyyuua(yv)")?;
    let mut m = Message {
        kind: buf[1],
        ..Message::default()
    };
    if let Value::U32(s) = head[5] {
        m.serial = s;
    }
    let mut sig = String::new();
    if let Value::Array(_, fields) = &head[6] {
        for f in fields {
            let Value::Struct(kv) = f else { continue };
            let (Value::Byte(code), Value::Variant(v)) = (&kv[0], &kv[1]) else {
                continue;
            };
            let text = v.as_str().map(str::to_string);
            match code {
                2 => m.interface = text,
                3 => m.member = text,
                4 => m.error_name = text,
                5 => {
                    if let Value::U32(n) = **v {
                        m.reply_serial = Some(n);
                    }
                }
                8 => sig = text.unwrap_or_default(),
                _ => {}
            }
        }
    }
    let body_at = r.pos().next_multiple_of(8);
    m.body = Reader::at(buf, body_at).values(&sig)?;
    Ok(m)
}

/// The total length of the message whose first 16 bytes are `head`.
fn message_len(head: &[u8; 16]) -> usize {
    let body = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    let fields = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
    (16 + fields).next_multiple_of(8) + body
}

/// One authenticated connection.
pub struct Conn {
    sock: UnixStream,
    path: PathBuf,
    serial: u32,
    /// Signals that arrived while waiting for a reply, oldest first.
    pending: Vec<Message>,
}

/// How long a call may wait for systemd (runc waits 30 s for a unit's job).
pub const TIMEOUT: Duration = Duration::from_secs(30);

impl Conn {
    /// Connects to the socket at `path` and authenticates as the calling user. With
    /// `via_bus` the peer is a bus daemon: says `Hello` and subscribes to systemd's signals.
    pub fn connect(path: &Path, via_bus: bool) -> Result<Conn> {
        let sock = UnixStream::connect(path).map_err(|e| DbusError::Connect {
            path: path.into(),
            cause: e.into(),
        })?;
        sock.set_read_timeout(Some(TIMEOUT))?;
        let mut conn = Conn {
            sock,
            path: path.into(),
            serial: 0,
            pending: Vec::new(),
        };
        conn.authenticate()?;
        if via_bus {
            conn.call(&Call {
                destination: Some("org.freedesktop.DBus"),
                path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus",
                member: "Hello",
                body: vec![],
            })?;
            conn.call(&Call {
                destination: Some("org.freedesktop.DBus"),
                path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus",
                member: "AddMatch",
                body: vec![Value::str(
                    "type='signal',sender='org.freedesktop.systemd1',member='JobRemoved'",
                )],
            })?;
        }
        Ok(conn)
    }

    /// SASL EXTERNAL: the peer checks our uid (sent as hex of its decimal digits) against the
    /// socket's credentials. `BEGIN` goes in the same write, before the `OK`, as sd-bus's own
    /// clients (systemctl) send it: systemd 252 reads a `BEGIN` that comes alone together with
    /// a short message after it into its authentication buffer, and then leaves that message
    /// unanswered until more input arrives (seen in the systemd guest: StopUnit waited 30 s).
    fn authenticate(&mut self) -> Result<()> {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        self.sock
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").as_bytes())?;
        let line = self.read_line()?;
        if !line.starts_with("OK ") {
            return Err(DbusError::Auth {
                path: self.path.clone(),
                detail: line,
            });
        }
        Ok(())
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 512 {
                break;
            }
            match self.sock.read(&mut byte)? {
                0 => break,
                _ => line.push(byte[0]),
            }
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    /// The next message, or None when nothing came for a second (the caller decides whether
    /// to go on waiting until `deadline`).
    fn recv(&mut self, deadline: Instant, what: &str) -> Result<Option<Message>> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DbusError::Timeout(what.into(), TIMEOUT));
        }
        let mut fds = [nix::poll::PollFd::new(
            self.sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis().min(1000)).unwrap_or(1000);
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(std::io::Error::from(e).into()),
        }
        let mut head = [0u8; 16];
        self.sock.read_exact(&mut head)?;
        let len = message_len(&head);
        if len > 1 << 27 {
            return Err(WireError(format!("message of {len} bytes")).into());
        }
        let mut buf = head.to_vec();
        buf.resize(len, 0);
        self.sock.read_exact(&mut buf[16..])?;
        let m = unmarshal(&buf);
        crate::logging::debug(|| format!("D-Bus: received {m:?}"));
        m.map(Some)
    }

    /// Calls a method and returns its reply's body; an error reply becomes
    /// [`DbusError::Reply`]. Signals that arrive meanwhile are kept for [`Conn::wait_signal`].
    pub fn call(&mut self, call: &Call) -> Result<Vec<Value>> {
        self.serial += 1;
        let serial = self.serial;
        crate::logging::debug(|| format!("D-Bus: calling {} serial {serial}", call.member));
        self.sock.write_all(&marshal_call(call, serial))?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let Some(m) = self.recv(deadline, call.member)? else {
                // A second of silence: a message that is not answered may sit unread in the
                // peer's buffer (see `authenticate`). Any new input makes it read on; a ping
                // that wants no reply is the cheapest.
                self.serial += 1;
                let ping = Call {
                    destination: call.destination,
                    path: "/",
                    interface: "org.freedesktop.DBus.Peer",
                    member: "Ping",
                    body: vec![],
                };
                self.sock
                    .write_all(&marshal_with_flags(&ping, self.serial, NO_REPLY_EXPECTED))?;
                continue;
            };
            match m.kind {
                METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m.body),
                ERROR if m.reply_serial == Some(serial) => {
                    return Err(DbusError::Reply {
                        method: call.member.into(),
                        name: m.error_name.unwrap_or_default(),
                        message: m
                            .body
                            .first()
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    });
                }
                SIGNAL => self.pending.push(m),
                _ => {}
            }
        }
    }

    /// Waits for a signal named `member` for which `matches` holds (including one that came
    /// during an earlier call), and returns its body.
    pub fn wait_signal(
        &mut self,
        member: &str,
        matches: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let is = |m: &Message| m.member.as_deref() == Some(member) && matches(&m.body);
        if let Some(i) = self.pending.iter().position(is) {
            return Ok(self.pending.remove(i).body);
        }
        self.pending.clear();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(m) = self.recv(deadline, member)?
                && m.kind == SIGNAL
                && is(&m)
            {
                return Ok(m.body);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_marshals_to_the_bytes_the_spec_gives() {
        let bytes = marshal_call(
            &Call {
                destination: Some("org.freedesktop.DBus"),
                path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus",
                member: "Hello",
                body: vec![],
            },
            1,
        );
        // Fixed header: 'l', method call, no flags, version 1, body 0, serial 1.
        assert_eq!(&bytes[..12], &[b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(bytes.len() % 8, 0);
        let back = unmarshal(&bytes).unwrap();
        assert_eq!(back.kind, METHOD_CALL);
        assert_eq!(back.member.as_deref(), Some("Hello"));
        assert_eq!(back.interface.as_deref(), Some("org.freedesktop.DBus"));
        assert!(back.body.is_empty());
        let mut head = [0u8; 16];
        head.copy_from_slice(&bytes[..16]);
        assert_eq!(message_len(&head), bytes.len());
    }

    #[test]
    fn call_with_body_roundtrips() {
        let body = vec![
            Value::str("rind-x.scope"),
            Value::str("fail"),
            Value::Array("(sv)".into(), vec![]),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let bytes = marshal_call(
            &Call {
                destination: None,
                path: "/org/freedesktop/systemd1",
                interface: "org.freedesktop.systemd1.Manager",
                member: "StartTransientUnit",
                body: body.clone(),
            },
            7,
        );
        let back = unmarshal(&bytes).unwrap();
        assert_eq!(back.serial, 7);
        assert_eq!(back.body, body);
    }
}
