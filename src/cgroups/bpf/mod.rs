//! Loading the device filter into the kernel and attaching it to a cgroup v2 directory, with the
//! `bpf(2)` system call directly (no libbpf): `BPF_PROG_LOAD`, `BPF_PROG_QUERY`,
//! `BPF_PROG_ATTACH` with `BPF_F_ALLOW_MULTI`, `BPF_PROG_GET_FD_BY_ID` and `BPF_PROG_DETACH`.
//!
//! Replacing a cgroup's filter attaches the new program before detaching the old ones. With
//! `BPF_F_ALLOW_MULTI` every attached program must allow an access, so during the swap the
//! container gets the intersection of the old and new rules and never more than either.

pub mod program;

use std::ffi::c_long;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

use self::program::Insn;
use super::{CgroupError, Result};
use crate::error::Cause;

const BPF_PROG_LOAD: c_long = 5;
const BPF_PROG_ATTACH: c_long = 8;
const BPF_PROG_DETACH: c_long = 9;
const BPF_PROG_GET_FD_BY_ID: c_long = 13;
const BPF_PROG_QUERY: c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
fn bpf<T>(cmd: c_long, attr: &mut T) -> std::result::Result<i64, Errno> {
    // SAFETY: `attr` is a live, initialised #[repr(C)] bpf_attr prefix of the given size; the
    // pointers inside it (instructions, license, log, id array) outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as c_long,
        )
    };
    if rc < 0 { Err(Errno::last()) } else { Ok(rc) }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

fn io_err(op: &'static str, dir: &Path, cause: impl Into<Cause>) -> CgroupError {
    CgroupError::Io {
        op,
        path: dir.to_path_buf(),
        cause: cause.into(),
    }
}

/// Loads a device filter. When the verifier rejects it, loads again with a log buffer so that
/// the error carries the verifier's reason.
pub fn load_device_program(insns: &[Insn], dir: &Path) -> Result<OwnedFd> {
    let code: Vec<u8> = insns.iter().flat_map(|i| i.encode()).collect();
    // The program calls no kernel helper, so the license string has no effect on what it may
    // do; the kernel only requires one.
    let license = b"Apache\0";
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"rind_devices");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(owned(fd)),
        Err(e @ (Errno::EINVAL | Errno::EACCES)) => {
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            let reason = text.lines().last().unwrap_or("").to_string();
            Err(io_err(
                "load eBPF device program for",
                dir,
                Cause::Other(format!(
                    "{}: verifier: {reason}",
                    crate::error::errno_text(e)
                )),
            ))
        }
        Err(e) => Err(io_err("load eBPF device program for", dir, e)),
    }
}

/// Ids of the device programs attached directly to the cgroup `fd`.
fn attached_programs(fd: BorrowedFd, dir: &Path) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    for _ in 0..10 {
        let mut attr = QueryAttr {
            target_fd: fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // The array was too small; prog_cnt now holds the real count.
            Err(Errno::ENOSPC) => ids = vec![0u32; attr.prog_cnt as usize],
            Err(e) => return Err(io_err("query eBPF device programs of", dir, e)),
        }
    }
    Err(io_err(
        "query eBPF device programs of",
        dir,
        Cause::Other("the list kept changing".into()),
    ))
}

fn attach_or_detach(
    cmd: c_long,
    cgroup: BorrowedFd,
    prog: BorrowedFd,
    flags: u32,
) -> std::result::Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        ..Default::default()
    };
    bpf(cmd, &mut attr).map(|_| ())
}

/// Makes `insns` the only device filter attached to the cgroup directory `dir`: attaches it,
/// then detaches the programs that were attached before. Programs this process may not open
/// (an LSM can forbid it) stay attached; they can only restrict further.
pub fn replace_device_program(dir: &Path, insns: &[Insn]) -> Result<()> {
    let cgroup = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open cgroup", dir, e))?;
    let old = attached_programs(cgroup.as_fd(), dir)?;
    let prog = load_device_program(insns, dir)?;
    attach_or_detach(
        BPF_PROG_ATTACH,
        cgroup.as_fd(),
        prog.as_fd(),
        BPF_F_ALLOW_MULTI,
    )
    .map_err(|e| io_err("attach eBPF device program to", dir, e))?;
    for id in old {
        let mut attr = GetFdAttr {
            prog_id: id,
            ..Default::default()
        };
        let old_prog = match bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) {
            Ok(fd) => owned(fd),
            Err(Errno::ENOENT | Errno::EPERM | Errno::EACCES) => continue,
            Err(e) => return Err(io_err("open old eBPF device program of", dir, e)),
        };
        match attach_or_detach(BPF_PROG_DETACH, cgroup.as_fd(), old_prog.as_fd(), 0) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(io_err("detach old eBPF device program from", dir, e)),
        }
    }
    Ok(())
}

/// How many device programs are attached directly to the cgroup directory `dir`.
pub fn attached_device_programs(dir: &Path) -> Result<usize> {
    let cgroup = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open cgroup", dir, e))?;
    attached_programs(cgroup.as_fd(), dir).map(|v| v.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_the_kernel_abi() {
        // Offsets from include/uapi/linux/bpf.h (union bpf_attr).
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, insns), 8);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(std::mem::offset_of!(QueryAttr, prog_ids), 16);
        assert_eq!(std::mem::offset_of!(QueryAttr, prog_cnt), 24);
        assert_eq!(std::mem::offset_of!(AttachAttr, attach_flags), 12);
    }
}
