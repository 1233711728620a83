//! The exec stub: how init reaches the container's program without re-executing rind.
//!
//! CVE-2019-5736: until its final execve, init is a fork of rind, so `/proc/self/exe` is rind's
//! binary on the host. If the container's program is a script whose interpreter is
//! `/proc/self/exe`, the kernel runs the host binary as a container process, which can then keep
//! a descriptor to it and rewrite it once rind exits. runc guards against this by re-executing
//! itself from a sealed copy first (rind can do that too: [`super::sealed_exe`]), at the price of
//! a second exec of the whole binary on every start.
//!
//! Here init instead executes a 522-byte static program from a sealed memfd, which executes the
//! container's program. At that final execve `/proc/self/exe` is the stub, which nothing can
//! write. Before it, init is non-dumpable, so no process without CAP_SYS_PTRACE on the host can
//! open its `/proc/<pid>/exe`; [`usable_for`] only allows the stub where no container process
//! runs beside init before the exec: a new PID namespace and no hooks run inside the container.
//! Everywhere else (and off x86_64, or where memfds may not be executed) rind re-executes
//! sealed, as before.
//!
//! The stub also waits for `start`: init executes it right after reporting `Ready`, and the
//! stub blocks on `exec.fifo` (its descriptor number is in the stub's first argument). So the
//! end of init's copy of rind's address space, which the kernel tears down at that execve, and
//! the seccomp filter's compilation before it, run while the runtime finishes `create`, not
//! between `start` and the program. Measured in docs/benchmarks.md ("cut 5").
//!
//! The machine code is assembled from `exec_stub.s` (beside this file).

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::linux::namespaces::NamespacePlan;

/// `exec_stub.s`, assembled: `prctl(PR_SET_DUMPABLE, 0)`; with digits in `argv[0]`, `read`
/// one byte from that descriptor and mark it close-on-exec (else an error line and
/// `exit_group(1)`); then `execve(argv[1], &argv[2], envp)`, else a report into that
/// descriptor (NUL, errno, path), an error line, and `exit_group(127)`.
#[cfg(target_arch = "x86_64")]
const CODE: &[u8] = &[
    0xbf, 0x04, 0x00, 0x00, 0x00, 0x31, 0xf6, 0xb8, 0x9d, 0x00, 0x00, 0x00, //
    0x0f, 0x05, 0x48, 0x89, 0xe3, 0x48, 0x83, 0xec, 0x10, 0x48, 0x8b, 0x73, //
    0x08, 0x45, 0x31, 0xe4, 0x45, 0x31, 0xed, 0x0f, 0xb6, 0x06, 0x48, 0xff, //
    0xc6, 0x85, 0xc0, 0x74, 0x17, 0x83, 0xe8, 0x30, 0x83, 0xf8, 0x09, 0x77, //
    0xee, 0x45, 0x6b, 0xe4, 0x0a, 0x41, 0x01, 0xc4, 0x41, 0xbd, 0x01, 0x00, //
    0x00, 0x00, 0xeb, 0xdf, 0x45, 0x85, 0xed, 0x74, 0x45, 0x44, 0x89, 0xe7, //
    0x48, 0x89, 0xe6, 0xba, 0x01, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x0f, 0x05, //
    0x48, 0x83, 0xf8, 0xfc, 0x74, 0xeb, 0x48, 0x83, 0xf8, 0x01, 0x0f, 0x85, //
    0xd8, 0x00, 0x00, 0x00, 0x44, 0x89, 0xe7, 0xbe, 0x02, 0x00, 0x00, 0x00, //
    0xba, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x48, 0x00, 0x00, 0x00, 0x0f, 0x05, //
    0x48, 0x85, 0xc0, 0x74, 0x0d, 0x44, 0x89, 0xe7, 0xb8, 0x03, 0x00, 0x00, //
    0x00, 0x0f, 0x05, 0x45, 0x31, 0xed, 0x48, 0x8b, 0x7b, 0x10, 0x48, 0x8d, //
    0x73, 0x18, 0x48, 0x8b, 0x03, 0x48, 0x8d, 0x54, 0xc3, 0x10, 0xb8, 0x3b, //
    0x00, 0x00, 0x00, 0x0f, 0x05, 0x49, 0x89, 0xc6, 0x48, 0x8b, 0x73, 0x10, //
    0x31, 0xd2, 0x80, 0x3c, 0x16, 0x00, 0x74, 0x05, 0x48, 0xff, 0xc2, 0xeb, //
    0xf5, 0x49, 0x89, 0xd7, 0x45, 0x85, 0xed, 0x74, 0x30, 0xc6, 0x04, 0x24, //
    0x00, 0x4c, 0x89, 0xf0, 0xf7, 0xd8, 0x88, 0x44, 0x24, 0x01, 0x44, 0x89, //
    0xe7, 0x48, 0x89, 0xe6, 0xba, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, //
    0x00, 0x00, 0x0f, 0x05, 0x44, 0x89, 0xe7, 0x48, 0x8b, 0x73, 0x10, 0x4c, //
    0x89, 0xfa, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x02, 0x00, //
    0x00, 0x00, 0x48, 0x8d, 0x35, 0x67, 0x00, 0x00, 0x00, 0xba, 0x15, 0x00, //
    0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x02, 0x00, //
    0x00, 0x00, 0x48, 0x8b, 0x73, 0x10, 0x4c, 0x89, 0xfa, 0xb8, 0x01, 0x00, //
    0x00, 0x00, 0x0f, 0x05, 0xbf, 0x02, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x35, //
    0x6d, 0x00, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, //
    0x00, 0x00, 0x0f, 0x05, 0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, //
    0x00, 0x00, 0x0f, 0x05, 0xbf, 0x02, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x35, //
    0x2d, 0x00, 0x00, 0x00, 0xba, 0x1d, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, //
    0x00, 0x00, 0x0f, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, //
    0x00, 0x00, 0x0f, 0x05, 0x72, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0x65, 0x78, //
    0x65, 0x63, 0x76, 0x65, 0x20, 0x66, 0x61, 0x69, 0x6c, 0x65, 0x64, 0x3a, //
    0x20, 0x72, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0x65, 0x78, 0x65, 0x63, 0x2e, //
    0x66, 0x69, 0x66, 0x6f, 0x3a, 0x20, 0x72, 0x65, 0x61, 0x64, 0x20, 0x66, //
    0x61, 0x69, 0x6c, 0x65, 0x64, 0x0a,
];

/// Where the single segment is loaded.
#[cfg(target_arch = "x86_64")]
const BASE: u64 = 0x40_0000;
const EHDR_SIZE: u16 = 64;
const PHDR_SIZE: u16 = 56;

/// A minimal ELF64 executable: the file header, one PT_LOAD program header mapping the whole
/// file read+execute at [`BASE`], and the code right after them (the entry point).
#[cfg(target_arch = "x86_64")]
fn elf() -> Vec<u8> {
    let code_at = u64::from(EHDR_SIZE + PHDR_SIZE);
    let size = code_at + CODE.len() as u64;
    let mut f = Vec::with_capacity(size as usize);
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI, padding.
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    f.extend_from_slice(&0x3eu16.to_le_bytes()); // e_machine: EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&(BASE + code_at).to_le_bytes()); // e_entry
    f.extend_from_slice(&u64::from(EHDR_SIZE).to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&EHDR_SIZE.to_le_bytes()); // e_ehsize
    f.extend_from_slice(&PHDR_SIZE.to_le_bytes()); // e_phentsize
    f.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    f.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    f.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    f.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    f.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    f.extend_from_slice(&size.to_le_bytes()); // p_filesz
    f.extend_from_slice(&size.to_le_bytes()); // p_memsz
    f.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    f.extend_from_slice(CODE);
    f
}

/// Whether init may reach `spec`'s program through the stub: only when nothing from the
/// container can run beside init before its execve. A shared or joined PID namespace would let
/// other processes look at init; createContainer and startContainer hooks run programs in the
/// container while init is still rind.
pub fn usable_for(spec: &Spec, plan: &NamespacePlan) -> bool {
    let hooks_inside = spec.hooks().as_ref().is_some_and(|h| {
        h.create_container().as_ref().is_some_and(|v| !v.is_empty())
            || h.start_container().as_ref().is_some_and(|v| !v.is_empty())
    });
    cfg!(target_arch = "x86_64") && plan.is_new(LinuxNamespaceType::Pid) && !hooks_inside
}

/// The stub in a memfd sealed against every change, or None where it cannot be used: not
/// x86_64, or the kernel refuses executable memfds (`vm.memfd_noexec = 2`).
pub fn sealed() -> Option<OwnedFd> {
    #[cfg(target_arch = "x86_64")]
    {
        sealed_x86_64().ok()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(target_arch = "x86_64")]
fn sealed_x86_64() -> Result<OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    // MFD_EXEC (Linux 6.3) keeps the memfd executable where vm.memfd_noexec would seal it
    // non-executable by default; older kernels refuse the flag, and need no asking.
    const MFD_EXEC: libc::c_uint = 0x10;
    let name = c"rind-exec-stub";
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let mut fd = -1;
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: memfd_create with a valid C string; the result is checked.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 || Errno::last() != Errno::EINVAL {
            break;
        }
    }
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a descriptor memfd_create just returned, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(fd.try_clone().map_err(|_| Errno::EMFILE)?);
    file.write_all(&elf())
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS with constants on our own memfd.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    Ok(fd)
}

/// Executes `path` with `argv` and `envp` through the stub, which first blocks reading one byte
/// from `wait` (exec.fifo; it must not be close-on-exec). Returns only on failure. Tries
/// execveat on the descriptor, then (for a seccomp profile that allows execve but not
/// execveat) execve of its /proc/self/fd path.
pub fn exec(
    stub: BorrowedFd<'_>,
    wait: BorrowedFd<'_>,
    path: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Errno {
    // The label is what `ps` shows for init while it waits. Its only digits are the fd's.
    let label = format!("rind: waiting for start on fd {}", wait.as_raw_fd());
    let Ok(label) = CString::new(label) else {
        return Errno::EINVAL;
    };
    let mut args: Vec<&CString> = Vec::with_capacity(argv.len() + 2);
    args.push(&label);
    args.push(path);
    args.extend(argv);
    let Err(err) =
        nix::unistd::execveat(stub, c"", &args, envp, nix::fcntl::AtFlags::AT_EMPTY_PATH);
    if !matches!(err, Errno::EPERM | Errno::ENOSYS) {
        return err;
    }
    let Ok(proc_path) = CString::new(format!("/proc/self/fd/{}", stub.as_raw_fd())) else {
        return err;
    };
    let Err(e) = nix::unistd::execve(&proc_path, &args, envp);
    e
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// The stub (from a memfd inherited through its /proc/self/fd path) with `args`, whose
    /// first is the label. The memfd is returned to stay open as long as the command.
    fn stub_command(args: &[&str]) -> (Command, OwnedFd) {
        let fd = sealed().expect("stub memfd");
        let mut cmd = Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        cmd.args(&args[1..]).arg0(args[0]).env("X", "42");
        (cmd, fd)
    }

    fn run_stub(args: &[&str]) -> std::process::Output {
        let (mut cmd, _fd) = stub_command(args);
        cmd.output().unwrap()
    }

    /// A pipe whose read end is inherited across exec (as exec.fifo is by the stub).
    fn inheritable_pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        // SAFETY: F_SETFD on a descriptor we own.
        assert_eq!(unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFD, 0) }, 0);
        (r, w)
    }

    #[test]
    fn the_elf_is_the_header_program_header_and_code() {
        let f = elf();
        assert_eq!(&f[..4], b"\x7fELF");
        assert_eq!(f.len(), 64 + 56 + CODE.len());
        let entry = u64::from_le_bytes(f[24..32].try_into().unwrap());
        assert_eq!(entry, BASE + 120);
    }

    #[test]
    fn the_stub_executes_its_first_argument_with_the_rest_as_argv() {
        // The command line is read in a subshell: busybox sh executes the last command of -c
        // in place, which would replace its own /proc/$$/cmdline.
        let script = "echo \"$0 $1 $X\"; c=$(tr '\\0' ' ' </proc/$$/cmdline); echo \"$c\"";
        // argv[0] "sh", not the path "/bin/sh" (a busybox /bin/sh needs an applet name there).
        let out = run_stub(&[
            "rind: exec stub",
            "/bin/sh",
            "sh",
            "-c",
            script,
            "zero",
            "one",
        ]);
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        // Arguments and environment pass through; argv[0] is the caller's, not the path.
        assert!(stdout.starts_with("zero one 42\nsh -c "), "{stdout}");
    }

    #[test]
    fn a_failed_execve_names_the_path_and_exits_127() {
        let out = run_stub(&["rind: exec stub", "/nonexistent/program", "x"]);
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "rind: execve failed: /nonexistent/program\n"
        );
    }

    #[test]
    fn with_an_fd_in_its_label_the_stub_waits_for_a_byte_and_the_program_never_sees_the_fd() {
        let (r, w) = inheritable_pipe();
        let label = format!("rind: waiting for start on fd {}", r.as_raw_fd());
        let script = format!(
            "test -e /proc/self/fd/{} && echo leaked; echo ran",
            r.as_raw_fd()
        );
        let (mut cmd, _fd) = stub_command(&[&label, "/bin/sh", "sh", "-c", &script]);
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
        drop(r);
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "ran before the byte");
        nix::unistd::write(&w, b"0").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    }

    #[test]
    fn a_failed_execve_after_the_wait_reports_errno_and_path_into_the_fd() {
        // A FIFO opened read-write, as exec.fifo is.
        let dir = std::env::temp_dir().join(format!("rind-stub-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = crate::process::fifo::create(&dir.join("exec.fifo")).unwrap();
        // SAFETY: F_SETFD on a descriptor we own.
        assert_eq!(
            unsafe { libc::fcntl(fifo.as_raw_fd(), libc::F_SETFD, 0) },
            0
        );
        let label = format!("rind: waiting for start on fd {}", fifo.as_raw_fd());
        let (mut cmd, _fd) = stub_command(&[&label, "/nonexistent/program", "x"]);
        nix::unistd::write(&fifo, b"0").unwrap();
        let out = cmd.output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out.status.code(), Some(127));
        let mut report = vec![0u8; 64];
        let n = nix::unistd::read(&fifo, &mut report).unwrap();
        let want = [&[0u8, libc::ENOENT as u8][..], b"/nonexistent/program"].concat();
        assert_eq!(&report[..n], &want[..]);
    }

    #[test]
    fn the_stub_is_not_dumpable_while_it_waits() {
        use std::os::unix::fs::MetadataExt;
        let (r, w) = inheritable_pipe();
        let label = format!("rind: waiting for start on fd {}", r.as_raw_fd());
        let (mut cmd, _fd) = stub_command(&[&label, "/bin/true", "true"]);
        // As nobody: /proc/<pid>/fd then belongs to nobody while the process is dumpable, and
        // to root once it is not.
        cmd.uid(65534).gid(65534);
        let mut child = cmd.spawn().unwrap();
        drop(r);
        let fd_dir = format!("/proc/{}/fd", child.id());
        let cmdline = format!("/proc/{}/cmdline", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let owner = loop {
            let in_stub = std::fs::read(&cmdline)
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("waiting for start"));
            let owner = std::fs::metadata(&fd_dir)
                .map(|m| m.uid())
                .unwrap_or(u32::MAX);
            if (in_stub && owner == 0) || std::time::Instant::now() > deadline {
                break owner;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        nix::unistd::write(&w, b"0").unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(owner, 0, "the waiting stub is dumpable");
    }

    #[test]
    fn a_wait_that_ends_without_a_byte_exits_1_and_runs_nothing() {
        let (r, w) = inheritable_pipe();
        let label = format!("rind: waiting for start on fd {}", r.as_raw_fd());
        let (mut cmd, _fd) = stub_command(&[&label, "/bin/sh", "sh", "-c", "echo ran"]);
        drop(w);
        let out = cmd.output().unwrap();
        drop(r);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "rind: exec.fifo: read failed\n"
        );
    }

    /// The bytes in [`CODE`] are what binutils makes of `exec_stub.s`, as its header says: a
    /// change to either alone fails here. binutils comes with gcc, which the build needs.
    #[test]
    fn the_code_is_exec_stub_s_assembled() {
        let have_as = std::process::Command::new("as")
            .arg("--version")
            .output()
            .is_ok();
        // The VM guest has no binutils; the host suite, which builds rind with them, checks.
        if !have_as
            && crate::sys::skipped_in_vm_guest(
                "the_code_is_exec_stub_s_assembled",
                "no assembler in the VM guest",
            )
        {
            return;
        }
        assert!(
            have_as,
            "as (binutils) is not installed: gcc's dependencies bring it"
        );
        let dir = tempfile::tempdir().unwrap();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/process/exec_stub.s");
        let (obj, bin) = (dir.path().join("stub.o"), dir.path().join("stub.bin"));
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            assert!(out.status.success(), "{cmd:?}: {out:?}");
        };
        run(std::process::Command::new("as")
            .arg("-o")
            .arg(&obj)
            .arg(src));
        run(std::process::Command::new("objcopy")
            .args(["-O", "binary", "-j", ".text"])
            .arg(&obj)
            .arg(&bin));
        let assembled = std::fs::read(&bin).unwrap();
        assert!(
            assembled == CODE,
            "exec_stub.rs's CODE is not exec_stub.s assembled ({} bytes against {}): \
             reassemble it as exec_stub.s's header says",
            CODE.len(),
            assembled.len()
        );
    }

    #[test]
    fn the_memfd_is_sealed_against_writes() {
        let fd = sealed().unwrap();
        // SAFETY: F_GET_SEALS on an open descriptor.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert!(seals & libc::F_SEAL_WRITE != 0 && seals & libc::F_SEAL_SEAL != 0);
        let mut f = std::fs::File::from(fd);
        assert!(f.write_all(b"x").is_err());
    }
}
