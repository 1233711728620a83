//! The container's network, as far as rind sets it up itself: the loopback interface of a new
//! network namespace is brought up (as runc does), so a container with its own network
//! namespace has a working `lo` and nothing else. Init does it right after it unshares the
//! namespace ([`loopback_up`]).
//!
//! A new network namespace starts with `lo` down. `ip link set lo up` is one rtnetlink
//! request, written here with libc so rind needs neither iproute2 nor a netlink crate:
//!
//! ```text
//! nlmsghdr  { len 40, type RTM_NEWLINK, flags NLM_F_REQUEST|NLM_F_ACK, seq 1, pid 0 }
//! ifinfomsg { family AF_UNSPEC, index 0, flags IFF_UP, change IFF_UP }
//! rtattr    { len 7, type IFLA_IFNAME } "lo\0" + 1 byte of padding
//! ```
//!
//! The kernel answers with an `NLMSG_ERROR` message whose error is 0 on success (the ACK) or
//! a negative errno.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Cause, SysError};

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;

/// The RTM_NEWLINK request that sets IFF_UP on the interface named `name`.
fn set_up_request(name: &str, seq: u32) -> Vec<u8> {
    let attr_len = 4 + name.len() + 1;
    let attr_space = attr_len.div_ceil(4) * 4;
    let total = NLMSG_HDRLEN + IFINFOMSG_LEN + attr_space;
    let mut m = Vec::with_capacity(total);
    // nlmsghdr
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    m.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // ifinfomsg: family, padding, type, index 0 (the kernel looks the name up), flags, change
    m.push(libc::AF_UNSPEC as u8);
    m.push(0);
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&0i32.to_ne_bytes());
    m.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    m.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    // rtattr IFLA_IFNAME
    m.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    m.extend_from_slice(&libc::IFLA_IFNAME.to_ne_bytes());
    m.extend_from_slice(name.as_bytes());
    m.push(0);
    m.resize(total, 0);
    m
}

/// Reads the kernel's answer to request `seq`: `Ok` for the ACK, the errno otherwise.
fn parse_ack(reply: &[u8], seq: u32) -> Result<(), Cause> {
    let mut rest = reply;
    while rest.len() >= NLMSG_HDRLEN {
        let word =
            |at: usize| u32::from_ne_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
        let len = word(0) as usize;
        let typ = u16::from_ne_bytes([rest[4], rest[5]]);
        let got_seq = word(8);
        if len < NLMSG_HDRLEN || len > rest.len() {
            break;
        }
        if typ == libc::NLMSG_ERROR as u16 && got_seq == seq && len >= NLMSG_HDRLEN + 4 {
            let err = i32::from_ne_bytes([rest[16], rest[17], rest[18], rest[19]]);
            return if err == 0 {
                Ok(())
            } else {
                Err(Cause::Errno(nix::errno::Errno::from_raw(-err)))
            };
        }
        rest = &rest[len.div_ceil(4) * 4..];
    }
    Err(Cause::Other("no acknowledgement from the kernel".into()))
}

/// Brings the interface `lo` of the calling thread's network namespace up. Idempotent: an
/// interface that is already up stays up. Needs CAP_NET_ADMIN in that namespace.
pub fn loopback_up() -> Result<(), SysError> {
    let step = || "bring lo up: rtnetlink".to_string();
    // SAFETY: plain socket call; the descriptor is owned right away.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(SysError::new(step(), std::io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let req = set_up_request("lo", 1);
    // SAFETY: sends `req.len()` bytes from a live buffer; the kernel is the default peer.
    let sent = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        return Err(SysError::new(step(), std::io::Error::last_os_error()));
    }
    let mut buf = [0u8; 4096];
    // SAFETY: receives into a live buffer of the given length.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(SysError::new(step(), std::io::Error::last_os_error()));
    }
    parse_ack(&buf[..n as usize], 1).map_err(|c| SysError::new(step(), c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_matches_the_protocol() {
        let m = set_up_request("lo", 7);
        assert_eq!(m.len(), 40);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 40);
        assert_eq!(
            u16::from_ne_bytes(m[4..6].try_into().unwrap()),
            libc::RTM_NEWLINK
        );
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        // ifinfomsg flags and change mask
        assert_eq!(
            u32::from_ne_bytes(m[24..28].try_into().unwrap()),
            libc::IFF_UP as u32
        );
        assert_eq!(
            u32::from_ne_bytes(m[28..32].try_into().unwrap()),
            libc::IFF_UP as u32
        );
        // rtattr: length 7, IFLA_IFNAME, "lo\0", one byte of padding
        assert_eq!(u16::from_ne_bytes(m[32..34].try_into().unwrap()), 7);
        assert_eq!(
            u16::from_ne_bytes(m[34..36].try_into().unwrap()),
            libc::IFLA_IFNAME
        );
        assert_eq!(&m[36..40], b"lo\0\0");
    }

    fn error_msg(seq: u32, err: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&err.to_ne_bytes());
        m.resize(36, 0);
        m
    }

    #[test]
    fn ack_and_errors_are_read_from_the_reply() {
        assert!(parse_ack(&error_msg(1, 0), 1).is_ok());
        let e = parse_ack(&error_msg(1, -libc::EPERM), 1).unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::EPERM));
        // An answer to another request is not ours.
        assert!(parse_ack(&error_msg(2, 0), 1).is_err());
        assert!(parse_ack(&[1, 2, 3], 1).is_err());
    }
}
