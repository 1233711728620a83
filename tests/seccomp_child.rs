//! Installs compiled filters in forked children and checks what the kernel then does: the
//! errno a denied syscall returns, argument conditions, KILL and TRAP, TSYNC across threads,
//! per-ABI filtering (x32 numbers, i386 through `int 0x80`), and user notification with the
//! listener handed to an agent over a unix socket. Runs as root or not: each child sets
//! no_new_privs before installing.

mod common;

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixListener;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, pipe};
use rind::linux::seccomp::{Program, compile, parse_profile, send_listener};

fn program(json: &str) -> Program {
    compile(&parse_profile(json).unwrap()).unwrap()
}

/// Runs `body` in a forked child with no_new_privs set and core dumps off, and returns how
/// the child ended and the numbers it reported. The child makes no allocation-heavy calls
/// and leaves with `_exit`, so the test harness's threads do not matter.
fn in_child(body: impl FnOnce(&mut Vec<i64>)) -> (WaitStatus, Vec<i64>) {
    let (read_end, write_end) = pipe().unwrap();
    // SAFETY: the child only runs `body` and `_exit`s; it never returns into the harness.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(read_end);
            let mut report = Vec::with_capacity(64);
            let ok = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let no_core = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) }, 0);
                assert_eq!(
                    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
                    0
                );
                body(&mut report)
            }))
            .is_ok();
            let bytes: Vec<u8> = report.iter().flat_map(|v| v.to_le_bytes()).collect();
            unsafe {
                libc::write(write_end.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
                libc::_exit(if ok { 0 } else { 101 })
            }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut bytes = Vec::new();
            std::fs::File::from(read_end)
                .read_to_end(&mut bytes)
                .unwrap();
            let status = waitpid(child, None).unwrap();
            let values = bytes
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (status, values)
        }
    }
}

/// The errno of a raw syscall, or 0 when it succeeded.
fn errno_of(ret: libc::c_long) -> i64 {
    if ret == -1 {
        i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        0
    }
}

fn getcwd() -> i64 {
    let mut buf = [0u8; 256];
    errno_of(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })
}

fn exited_ok(status: WaitStatus) {
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "child ended {status:?}"
    );
}

#[test]
fn errno_rules_give_the_child_exactly_their_errno_and_other_syscalls_work() {
    let p = program(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdirat","getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":95},
            {"names":["uname"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let (status, got) = in_child(|out| {
        p.install().unwrap();
        let path = c"/tmp/rind-seccomp-never-created";
        out.push(errno_of(unsafe {
            libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), 0o700)
        }));
        out.push(getcwd());
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        out.push(errno_of(unsafe {
            libc::syscall(libc::SYS_uname, &mut uts)
        }));
        out.push(errno_of(unsafe { libc::syscall(libc::SYS_getpid) }));
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        out.push(if fd >= 0 { 0 } else { -1 });
    });
    exited_ok(status);
    assert_eq!(got, [95, 95, libc::EPERM as i64, 0, 0]);
    assert!(!std::path::Path::new("/tmp/rind-seccomp-never-created").exists());
}

#[test]
fn an_argument_condition_denies_only_the_matching_value() {
    let p = program(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let (status, got) = in_child(|out| {
        p.install().unwrap();
        for persona in [0xffff_ffff_u64, 0, 0x1_ffff_ffff] {
            out.push(errno_of(unsafe {
                libc::syscall(libc::SYS_personality, persona)
            }));
        }
    });
    exited_ok(status);
    // 0x1_ffff_ffff differs in the high half, so the 64-bit comparison lets it through.
    assert_eq!(got, [libc::EPERM as i64, 0, 0]);
}

#[test]
fn kill_and_trap_end_the_child_with_sigsys() {
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
        let p = program(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"{action}"}}]}}"#
        ));
        let (status, got) = in_child(|out| {
            p.install().unwrap();
            out.push(errno_of(unsafe { libc::syscall(libc::SYS_getpid) }));
            unsafe { libc::syscall(libc::SYS_getppid) };
            out.push(-1); // not reached
        });
        assert!(
            matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
            "{action}: child ended {status:?}"
        );
        assert!(
            got.is_empty(),
            "{action}: the child went on after getppid: {got:?}"
        );
    }
}

/// Installs `p` from the main thread of a child while a second thread waits, then has the
/// second thread call getcwd and reports its errno.
fn getcwd_errno_in_other_thread(p: &Program) -> i64 {
    let (status, got) = in_child(|out| {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            getcwd()
        });
        p.install().unwrap();
        go_tx.send(()).unwrap();
        out.push(other.join().unwrap());
        out.push(getcwd());
    });
    exited_ok(status);
    assert_eq!(got[1], 77, "the installing thread is always filtered");
    got[0]
}

#[test]
fn tsync_puts_the_filter_on_threads_that_already_exist() {
    let rule = r#""syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]"#;
    let plain = program(&format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW",{rule}}}"#));
    let tsync = program(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC"],{rule}}}"#
    ));
    assert_eq!(getcwd_errno_in_other_thread(&plain), 0, "without TSYNC");
    assert_eq!(getcwd_errno_in_other_thread(&tsync), 77, "with TSYNC");
}

/// getpid through the i386 ABI (`int 0x80`, eax 20): the pid, or minus the errno.
fn getpid_i386() -> i64 {
    let ret: i32;
    // SAFETY: i386 getpid reads no memory and takes no arguments; the compat entry may
    // clobber r8-r11, which are declared.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("eax") 20i32 => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    i64::from(ret)
}

/// getpid with the x32 bit (x32 number 39): the filter sees it even where the kernel has no
/// x32 support (it then answers ENOSYS).
fn getpid_x32() -> i64 {
    errno_of(unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) })
}

#[test]
fn each_abi_is_filtered_with_its_own_rules_and_uncovered_ones_are_killed() {
    let rule = r#""syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]"#;
    let all = program(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],{rule}}}"#
    ));
    let (status, got) = in_child(|out| {
        out.push(getpid_i386().signum()); // before the filter: a pid
        all.install().unwrap();
        out.push(errno_of(unsafe { libc::syscall(libc::SYS_getpid) }));
        out.push(getpid_i386());
        out.push(getpid_x32());
        out.push(errno_of(unsafe { libc::syscall(libc::SYS_getppid) }));
    });
    exited_ok(status);
    assert_eq!(got, [1, 77, -77, 77, 0]);

    // Only the native ABI: x32 and i386 syscalls get the bad-arch action, SIGSYS.
    let native = program(&format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW",{rule}}}"#));
    for (abi, call) in [("x32", getpid_x32 as fn() -> i64), ("i386", getpid_i386)] {
        let (status, got) = in_child(|out| {
            native.install().unwrap();
            out.push(errno_of(unsafe { libc::syscall(libc::SYS_getpid) }));
            out.push(call());
        });
        assert!(
            matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
            "{abi}: child ended {status:?}"
        );
        assert!(got.is_empty(), "{abi}: {got:?}");
    }
}

/// A seccomp agent's side: accepts the runtime's connection, takes the listener and the
/// process state, answers one notification with `value`, and returns the state's JSON and
/// the notified syscall number.
fn agent(socket: &UnixListener, value: i64) -> (serde_json::Value, i32, u32) {
    let (state, listener) = common::seccomp_agent_accept(socket);

    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut notif,
        )
    };
    assert_eq!(rc, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let resp = libc::seccomp_notif_resp {
        id: notif.id,
        val: value,
        error: 0,
        flags: 0,
    };
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    assert_eq!(rc, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    (state, notif.data.nr, notif.pid)
}

#[test]
fn notify_hands_a_listener_to_the_agent_which_answers_the_syscall() {
    let dir = std::env::temp_dir().join(format!("rind-seccomp-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("agent.sock");
    let socket = UnixListener::bind(&path).unwrap();
    let p = program(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{}","listenerMetadata":"hello agent",
            "syscalls":[{{"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"}}]}}"#,
        path.display()
    ));
    assert!(p.has_listener());

    let pid = unsafe { libc::getpid() };
    let child = std::thread::scope(|s| {
        let handle = s.spawn(|| agent(&socket, 4242));
        let (status, got) = in_child(|out| {
            let listener = p.install().unwrap().expect("a listener");
            let state: oci_spec::runtime::State = serde_json::from_str(&format!(
                r#"{{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":{},"bundle":"/b"}}"#,
                unsafe { libc::getpid() }
            ))
            .unwrap();
            send_listener(&path, listener.as_fd(), &state, Some("hello agent")).unwrap();
            drop(listener);
            let mut buf = [0u8; 64];
            out.push(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) });
            out.push(unsafe { libc::syscall(libc::SYS_getpid) });
        });
        (handle.join().unwrap(), status, got)
    });
    let ((state, nr, notified_pid), status, got) = child;
    std::fs::remove_dir_all(&dir).unwrap();
    exited_ok(status);
    assert_eq!(got[0], 4242, "getcwd returned the agent's answer");
    assert_eq!(nr as i64, libc::SYS_getcwd);
    assert_eq!(i64::from(notified_pid), got[1]);
    assert_ne!(got[1], i64::from(pid));
    assert_eq!(state["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello agent");
    assert_eq!(state["pid"], got[1]);
    assert_eq!(state["state"]["id"], "c1");
    assert_eq!(state["ociVersion"], "1.2.0");
}
