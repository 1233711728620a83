//! A compiled filter: its instructions and the flags to install it with; its byte form for
//! the cache; and the `seccomp(2)` call that installs it.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use sha2::{Digest, Sha256};

use super::SeccompError;
use super::bpf::{self, Insn};
use super::rules::{
    FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW, FLAG_TSYNC, FLAG_TSYNC_ESRCH,
    FLAG_WAIT_KILLABLE_RECV,
};
use crate::error::SysError;

const MAGIC: &[u8; 8] = b"RINDBPF\0";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4 + 4;
const DIGEST_LEN: usize = 32;
const KNOWN_FLAGS: u32 = FLAG_TSYNC
    | FLAG_LOG
    | FLAG_SPEC_ALLOW
    | FLAG_NEW_LISTENER
    | FLAG_TSYNC_ESRCH
    | FLAG_WAIT_KILLABLE_RECV;

// `install` hands the kernel `insns` as an array of `sock_filter`.
const _: () = assert!(
    std::mem::size_of::<Insn>() == std::mem::size_of::<libc::sock_filter>()
        && std::mem::align_of::<Insn>() == std::mem::align_of::<libc::sock_filter>()
);

/// A seccomp filter ready to install: at most 4096 instructions that pass the kernel's
/// load checks, and the `SECCOMP_FILTER_FLAG_*` bits to install it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub(super) insns: Vec<Insn>,
    pub(super) flags: u32,
}

impl Program {
    /// The instructions, in execution order.
    pub fn instructions(&self) -> &[Insn] {
        &self.insns
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits `install` passes.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether `install` returns a user-notification listener (the profile has NOTIFY rules).
    pub fn has_listener(&self) -> bool {
        self.flags & FLAG_NEW_LISTENER != 0
    }

    /// The filter as bytes: a magic, a format version, the flags, the instructions in
    /// little-endian order, and a SHA-256 of all that, so a damaged file is detected.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 8 * self.insns.len() + DIGEST_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&(self.insns.len() as u32).to_le_bytes());
        for insn in &self.insns {
            out.extend_from_slice(&insn.code.to_le_bytes());
            out.extend_from_slice(&[insn.jt, insn.jf]);
            out.extend_from_slice(&insn.k.to_le_bytes());
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Reads bytes written by [`Program::to_bytes`]. Refuses anything damaged, of another
    /// format version, or that the kernel would refuse to load.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, SeccompError> {
        let bad = |msg: String| Err(SeccompError::Decode(msg));
        if bytes.len() < HEADER_LEN + DIGEST_LEN || &bytes[..8] != MAGIC {
            return bad("not a rind seccomp filter".into());
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        if word(8) != FORMAT_VERSION {
            return bad(format!("format version {}, want {FORMAT_VERSION}", word(8)));
        }
        let (body, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
        if Sha256::digest(body).as_slice() != digest {
            return bad("checksum mismatch: the data is damaged".into());
        }
        let (flags, count) = (word(12), word(16) as usize);
        if flags & !KNOWN_FLAGS != 0 {
            return bad(format!("unknown flags {:#x}", flags & !KNOWN_FLAGS));
        }
        if body.len() != HEADER_LEN + 8 * count {
            return bad(format!(
                "{count} instructions announced, {} bytes present",
                body.len()
            ));
        }
        let insns: Vec<Insn> = body[HEADER_LEN..]
            .chunks_exact(8)
            .map(|c| Insn {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        if let Err(why) = bpf::check(&insns) {
            return bad(why);
        }
        Ok(Program { insns, flags })
    }

    /// Installs the filter on the calling thread (and, with TSYNC, on every thread of the
    /// process) with `seccomp(SECCOMP_SET_MODE_FILTER)`. Returns the user-notification
    /// listener when the profile has NOTIFY rules.
    ///
    /// The kernel requires the caller to have set no_new_privs (`prctl(PR_SET_NO_NEW_PRIVS)`)
    /// or to hold CAP_SYS_ADMIN in its user namespace. A filter stays for the life of the
    /// process and its children; every syscall after this one goes through it, so whatever
    /// the caller still needs to do must be allowed by it.
    ///
    /// Makes one system call and allocates nothing unless it fails, so it is fit to call in a
    /// forked child right before `execve`.
    pub fn install(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `self.insns`, which is `#[repr(C)]` like `sock_filter`,
        // holds `len` instructions and outlives the call; the kernel copies the program.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                libc::c_ulong::from(self.flags),
                &prog as *const libc::sock_fprog,
            )
        };
        if ret < 0 {
            let errno = Errno::last();
            let step = match errno {
                Errno::EACCES => {
                    "install seccomp filter without no_new_privs or CAP_SYS_ADMIN".to_string()
                }
                _ => format!("install seccomp filter (flags {:#x})", self.flags),
            };
            return Err(SysError::new(step, errno).into());
        }
        if self.has_listener() {
            // SAFETY: with NEW_LISTENER the kernel returns a new file descriptor we own.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }));
        }
        if ret > 0 {
            // TSYNC without TSYNC_ESRCH reports the thread that could not be synchronized.
            return Err(SysError::new(
                format!(
                    "install seccomp filter on all threads: thread {ret} has a diverging filter"
                ),
                Errno::ESRCH,
            )
            .into());
        }
        Ok(None)
    }
}
