//! Docker's default seccomp profile, as a runtime-spec `LinuxSeccomp`.
//!
//! Transcribed by hand from moby's `profiles/seccomp/default.json` (the moby/profiles
//! repository, commit 190fa92c), keeping its rules, their order and its include/exclude
//! filters: by capability (a rule for CAP_SYS_ADMIN is kept only when the container has it),
//! by architecture (Go's names: amd64, arm64, ...), and by minimum kernel. Docker resolves
//! those filters when it writes the spec; [`default_profile_for`] does the same for this
//! build's architecture, the running kernel and the given capabilities.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator as Op, LinuxSyscall, LinuxSyscallBuilder,
};

/// When a rule applies: all `caps` present, the native arch among `arches` (if any), and the
/// kernel at least `min_kernel`; excluded when any of `not_caps` is present or the native
/// arch is among `not_arches`.
struct Rule {
    names: &'static str,
    action: Act,
    errno_ret: Option<u32>,
    /// One argument condition: index, value, operator (valueTwo 0).
    arg: Option<(usize, u64, Op)>,
    caps: &'static [&'static str],
    arches: &'static [&'static str],
    min_kernel: Option<(u32, u32)>,
    not_caps: &'static [&'static str],
    not_arches: &'static [&'static str],
}

const ALLOW: Rule = Rule {
    names: "",
    action: Act::ScmpActAllow,
    errno_ret: None,
    arg: None,
    caps: &[],
    arches: &[],
    min_kernel: None,
    not_caps: &[],
    not_arches: &[],
};

/// The namespace flags of clone(2): NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
const CLONE_NS_FLAGS: u64 = 0x7e02_0000;
const AF_VSOCK: u64 = 40;

const RULES: &[Rule] = &[
    Rule {
        names: "accept accept4 access add_key adjtimex alarm bind brk cachestat capget capset \
            chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres \
            clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep \
            clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 \
            dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 \
            epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group \
            faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod \
            fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr \
            flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs \
            fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait \
            futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid \
            getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer \
            getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid \
            getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid \
            getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 \
            getxattr getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch \
            io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 \
            ioprio_get ioprio_set io_setup io_submit ipc keyctl kill landlock_add_rule \
            landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link \
            linkat listen listmount listxattr listxattrat llistxattr _llseek lremovexattr \
            lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create \
            memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 \
            mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 \
            mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv \
            msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat \
            _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 \
            pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv \
            preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev \
            pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg \
            recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename \
            renameat renameat2 request_key restart_syscall riscv_hwprobe rmdir rseq \
            rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn \
            rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo \
            sched_getaffinity sched_getattr sched_getparam sched_get_priority_max \
            sched_get_priority_min sched_getscheduler sched_rr_get_interval \
            sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam \
            sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop \
            semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid \
            setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer \
            setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid \
            setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt \
            set_thread_area set_tid_address setuid setuid32 setxattr setxattrat shmat shmctl \
            shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn \
            socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink \
            symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create \
            timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime \
            timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime \
            timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink \
            unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 \
            waitid waitpid write writev",
        ..ALLOW
    },
    Rule {
        names: "process_vm_readv process_vm_writev ptrace",
        min_kernel: Some((4, 8)),
        ..ALLOW
    },
    Rule {
        names: "socket",
        arg: Some((0, AF_VSOCK, Op::ScmpCmpNe)),
        ..ALLOW
    },
    Rule {
        names: "personality",
        arg: Some((0, 0x0, Op::ScmpCmpEq)),
        ..ALLOW
    },
    Rule {
        names: "personality",
        arg: Some((0, 0x0008, Op::ScmpCmpEq)),
        ..ALLOW
    },
    Rule {
        names: "personality",
        arg: Some((0, 0x20000, Op::ScmpCmpEq)),
        ..ALLOW
    },
    Rule {
        names: "personality",
        arg: Some((0, 0x20008, Op::ScmpCmpEq)),
        ..ALLOW
    },
    Rule {
        names: "personality",
        arg: Some((0, 0xffff_ffff, Op::ScmpCmpEq)),
        ..ALLOW
    },
    Rule {
        names: "sync_file_range2 swapcontext",
        arches: &["ppc64le"],
        ..ALLOW
    },
    Rule {
        names: "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
        arches: &["arm", "arm64"],
        ..ALLOW
    },
    Rule {
        names: "arch_prctl",
        arches: &["amd64", "x32"],
        ..ALLOW
    },
    Rule {
        names: "modify_ldt",
        arches: &["amd64", "x32", "x86"],
        ..ALLOW
    },
    Rule {
        names: "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
        arches: &["s390", "s390x"],
        ..ALLOW
    },
    Rule {
        names: "riscv_flush_icache",
        arches: &["riscv64"],
        ..ALLOW
    },
    Rule {
        names: "open_by_handle_at",
        caps: &["CAP_DAC_READ_SEARCH"],
        ..ALLOW
    },
    Rule {
        names: "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie \
            lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount \
            open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns \
            syslog umount umount2 unshare",
        caps: &["CAP_SYS_ADMIN"],
        ..ALLOW
    },
    Rule {
        names: "clone",
        arg: Some((0, CLONE_NS_FLAGS, Op::ScmpCmpMaskedEq)),
        not_caps: &["CAP_SYS_ADMIN"],
        not_arches: &["s390", "s390x"],
        ..ALLOW
    },
    Rule {
        names: "clone",
        arg: Some((1, CLONE_NS_FLAGS, Op::ScmpCmpMaskedEq)),
        arches: &["s390", "s390x"],
        not_caps: &["CAP_SYS_ADMIN"],
        ..ALLOW
    },
    Rule {
        names: "clone3",
        action: Act::ScmpActErrno,
        errno_ret: Some(libc::ENOSYS as u32),
        not_caps: &["CAP_SYS_ADMIN"],
        ..ALLOW
    },
    Rule {
        names: "reboot",
        caps: &["CAP_SYS_BOOT"],
        ..ALLOW
    },
    Rule {
        names: "chroot",
        caps: &["CAP_SYS_CHROOT"],
        ..ALLOW
    },
    Rule {
        names: "delete_module init_module finit_module",
        caps: &["CAP_SYS_MODULE"],
        ..ALLOW
    },
    Rule {
        names: "acct",
        caps: &["CAP_SYS_PACCT"],
        ..ALLOW
    },
    Rule {
        names: "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
        caps: &["CAP_SYS_PTRACE"],
        ..ALLOW
    },
    Rule {
        names: "iopl ioperm",
        caps: &["CAP_SYS_RAWIO"],
        ..ALLOW
    },
    Rule {
        names: "settimeofday stime clock_settime clock_settime64",
        caps: &["CAP_SYS_TIME"],
        ..ALLOW
    },
    Rule {
        names: "vhangup",
        caps: &["CAP_SYS_TTY_CONFIG"],
        ..ALLOW
    },
    Rule {
        names: "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
        caps: &["CAP_SYS_NICE"],
        ..ALLOW
    },
    Rule {
        names: "syslog",
        caps: &["CAP_SYSLOG"],
        ..ALLOW
    },
    Rule {
        names: "bpf",
        caps: &["CAP_BPF"],
        ..ALLOW
    },
    Rule {
        names: "perf_event_open",
        caps: &["CAP_PERFMON"],
        ..ALLOW
    },
];

/// Docker's default profile for a container without any of the capabilities that unlock
/// extra syscalls: the same as `default_profile_for(&[])`.
pub fn default_profile() -> LinuxSeccomp {
    default_profile_for(&[])
}

/// Docker's default profile for a container whose bounding set holds `caps` (names such as
/// `CAP_SYS_ADMIN` or `SYS_ADMIN`, any case): the rules Docker adds or drops for those
/// capabilities, for this build's architecture and the running kernel. Default action
/// ERRNO(EPERM); on x86_64 the architectures are x86_64, x86 and x32.
pub fn default_profile_for(caps: &[String]) -> LinuxSeccomp {
    let caps: Vec<String> = caps.iter().map(|c| normalize_cap(c)).collect();
    let has = |cap: &&str| caps.iter().any(|c| c == cap);
    let arch = go_arch();
    let kernel = kernel_version();
    let syscalls: Vec<LinuxSyscall> = RULES
        .iter()
        .filter(|r| r.caps.iter().all(&has))
        .filter(|r| r.arches.is_empty() || r.arches.contains(&arch))
        .filter(|r| {
            r.min_kernel
                .is_none_or(|min| kernel.is_some_and(|k| k >= min))
        })
        .filter(|r| !r.not_caps.iter().any(&has))
        .filter(|r| !r.not_arches.contains(&arch))
        .map(to_syscall)
        .collect();
    LinuxSeccompBuilder::default()
        .default_action(Act::ScmpActErrno)
        .default_errno_ret(libc::EPERM as u32)
        .architectures(architectures(arch))
        .syscalls(syscalls)
        .build()
        .expect("every field of the default profile is set")
}

fn to_syscall(rule: &Rule) -> LinuxSyscall {
    let mut builder = LinuxSyscallBuilder::default()
        .names(
            rule.names
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
        .action(rule.action);
    if let Some(errno) = rule.errno_ret {
        builder = builder.errno_ret(errno);
    }
    if let Some((index, value, op)) = rule.arg {
        let arg = LinuxSeccompArgBuilder::default()
            .index(index)
            .value(value)
            .value_two(0u64)
            .op(op)
            .build()
            .expect("every field of the argument is set");
        builder = builder.args(vec![arg]);
    }
    builder.build().expect("every field of the rule is set")
}

fn normalize_cap(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

/// This build's architecture by Go's name, which the profile's arch filters use.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    }
}

/// The architectures Docker lists for a native one (its `archMap`).
fn architectures(go_arch: &str) -> Vec<Arch> {
    match go_arch {
        "amd64" => vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32],
        "arm64" => vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm],
        "s390x" => vec![Arch::ScmpArchS390x, Arch::ScmpArchS390],
        "riscv64" => vec![Arch::ScmpArchRiscv64],
        _ => vec![Arch::ScmpArchNative],
    }
}

/// The running kernel's major and minor version, from uname(2).
fn kernel_version() -> Option<(u32, u32)> {
    let uts = nix::sys::utsname::uname().ok()?;
    let release = uts.release().to_str()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_for<'a>(profile: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        let all = profile.syscalls().as_deref().unwrap_or(&[]);
        all.iter()
            .filter(|s| s.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn base_profile_allows_common_syscalls_and_gates_admin_ones() {
        let p = default_profile();
        assert_eq!(p.default_action(), Act::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1));
        assert_eq!(rules_for(&p, "read").len(), 1);
        assert!(rules_for(&p, "mount").is_empty());
        assert!(rules_for(&p, "unshare").is_empty());
        assert_eq!(rules_for(&p, "personality").len(), 5);
        // clone only without namespace flags; clone3 gets ENOSYS so libc falls back to clone.
        let clone = rules_for(&p, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(
            clone[0].args().as_ref().unwrap()[0].op(),
            Op::ScmpCmpMaskedEq
        );
        let clone3 = rules_for(&p, "clone3");
        assert_eq!(
            (clone3[0].action(), clone3[0].errno_ret()),
            (Act::ScmpActErrno, Some(38))
        );
    }

    #[test]
    fn sys_admin_unlocks_mount_and_plain_clone() {
        let p = default_profile_for(&["sys_admin".to_string()]);
        assert_eq!(rules_for(&p, "mount").len(), 1);
        let clone = rules_for(&p, "clone");
        assert_eq!(clone.len(), 1);
        assert!(clone[0].args().is_none());
        assert!(
            rules_for(&p, "clone3")
                .iter()
                .all(|r| r.action() == Act::ScmpActAllow)
        );
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn amd64_gets_its_arch_rules_and_three_abis() {
        let p = default_profile();
        assert_eq!(rules_for(&p, "arch_prctl").len(), 1);
        assert!(rules_for(&p, "cacheflush").is_empty());
        assert_eq!(p.architectures().as_ref().unwrap().len(), 3);
    }
}
