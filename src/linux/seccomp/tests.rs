//! Unit tests of the compiler: each compiles a small profile and runs the filter through the
//! test interpreter on chosen `seccomp_data`, asserting the action it returns.

use super::interp::{Data, run};
use super::rules::*;
use super::syscalls::{Abi, X32_SYSCALL_BIT};
use super::*;

const X86_64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;
const AARCH64: u32 = 0xc000_00b7;
const EPERM: u32 = RET_ERRNO | 1;

fn profile(json: &str) -> LinuxSeccomp {
    parse_profile(json).unwrap()
}

fn compiled(json: &str) -> Program {
    let program = compile(&profile(json)).unwrap();
    super::bpf::check(program.instructions()).unwrap();
    program
}

fn error(json: &str) -> String {
    match parse_profile(json).and_then(|p| compile(&p)) {
        Ok(_) => panic!("{json} compiled"),
        Err(e) => e.to_string(),
    }
}

/// The action for syscall `name` on `abi` with `args`.
fn act(p: &Program, abi: Abi, name: &str, args: &[u64]) -> u32 {
    let nr = abi.resolve(name).unwrap();
    let mut data = Data::new(abi.audit_arch(), nr);
    data.args[..args.len()].copy_from_slice(args);
    run(p.instructions(), &data)
}

#[test]
fn errno_rule_denies_only_its_syscalls_with_its_errno() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
            {"names":["mkdirat","getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
            {"names":["uname"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    for abi in [Abi::X86_64, Abi::X86] {
        assert_eq!(act(&p, abi, "mkdirat", &[]), RET_ERRNO | 13);
        assert_eq!(act(&p, abi, "getcwd", &[]), RET_ERRNO | 13);
        assert_eq!(
            act(&p, abi, "uname", &[]),
            EPERM,
            "errnoRet defaults to EPERM"
        );
        assert_eq!(act(&p, abi, "getpid", &[]), RET_ALLOW);
        assert_eq!(act(&p, abi, "mkdir", &[]), RET_ALLOW);
    }
}

#[test]
fn every_action_compiles_to_its_kernel_value() {
    let cases = [
        ("SCMP_ACT_KILL", "", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", "", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", "", RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", "", RET_TRAP),
        ("SCMP_ACT_ERRNO", r#","errnoRet":5"#, RET_ERRNO | 5),
        ("SCMP_ACT_TRACE", r#","errnoRet":7"#, RET_TRACE | 7),
        ("SCMP_ACT_TRACE", "", RET_TRACE | 1),
        ("SCMP_ACT_LOG", "", RET_LOG),
        ("SCMP_ACT_NOTIFY", "", RET_USER_NOTIF),
    ];
    for (action, extra, want) in cases {
        let p = compiled(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "syscalls":[{{"names":["getppid"],"action":"{action}"{extra}}}]}}"#
        ));
        assert_eq!(act(&p, Abi::X86_64, "getppid", &[]), want, "{action}");
        assert_eq!(act(&p, Abi::X86_64, "getpid", &[]), RET_ALLOW, "{action}");
    }
    let p = compiled(r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[]}"#);
    assert_eq!(act(&p, Abi::X86_64, "getpid", &[]), RET_KILL_PROCESS);
}

/// What an operator means on the full 64-bit argument.
fn reference(op: &str, arg: u64, value: u64, value_two: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => arg & value == value_two,
        _ => unreachable!(),
    }
}

/// Every comparison operator a profile may name.
pub(super) const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

#[test]
fn every_operator_compares_both_halves_of_64_bit_arguments() {
    // Values whose halves differ in every direction: equal low halves with different high
    // halves are where a compiler that compares only one half goes wrong.
    let values = [
        0,
        1,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_8000_0000,
        u64::MAX,
    ];
    let probes = |v: u64| {
        [
            v,
            v.wrapping_sub(1),
            v.wrapping_add(1),
            v ^ (1 << 32),
            v ^ (1 << 63),
            v ^ 1,
            v & 0xffff_ffff,
            v | 0xffff_ffff_0000_0000,
            0,
            u64::MAX,
        ]
    };
    for op in OPS {
        for &value in &values {
            let value_two = value & 0x0000_00ff_0000_00f0; // a datum inside the mask
            let p = compiled(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["personality"],
                    "action":"SCMP_ACT_ALLOW","args":[{{"index":3,"value":{value},
                    "valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
            ));
            for arg in probes(value).into_iter().chain(probes(value_two)) {
                let want = if reference(op, arg, value, value_two) {
                    RET_ALLOW
                } else {
                    EPERM
                };
                let args = [0, 0, 0, arg];
                let got = act(&p, Abi::X86_64, "personality", &args);
                assert_eq!(got, want, "{op} value {value:#x} arg {arg:#x}");
            }
        }
    }
}

#[test]
fn thirty_two_bit_abis_compare_only_the_low_half() {
    for op in OPS {
        let (value, value_two) = (0x5_0000_0010_u64, 0x10_u64);
        let p = compiled(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,
                "value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
        ));
        for arg in [0x10_u64, 0xf, 0x11, 0x7_0000_0010, 0xffff_ffff] {
            let low = |v: u64| v & 0xffff_ffff;
            let want = reference(op, low(arg), low(value), low(value_two));
            let want = if want { RET_ALLOW } else { EPERM };
            for abi in [Abi::X86, Abi::X32] {
                let got = act(&p, abi, "personality", &[arg]);
                assert_eq!(got, want, "{op} on {abi:?}, arg {arg:#x}");
            }
        }
    }
}

#[test]
fn conditions_of_one_rule_are_anded_and_rules_of_one_syscall_ored_in_order() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":3,"args":[
                {"index":0,"value":100,"op":"SCMP_CMP_GT"},{"index":1,"value":9,"op":"SCMP_CMP_EQ"}]},
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":4,"args":[
                {"index":1,"value":9,"op":"SCMP_CMP_EQ"}]},
            {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS","args":[
                {"index":1,"value":15,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let kill = |pid: u64, sig: u64| act(&p, Abi::X86_64, "kill", &[pid, sig]);
    assert_eq!(kill(150, 9), RET_ERRNO | 3);
    assert_eq!(
        kill(50, 9),
        RET_ERRNO | 4,
        "first rule fails on one condition"
    );
    assert_eq!(kill(150, 15), RET_KILL_PROCESS);
    assert_eq!(kill(150, 2), RET_ALLOW, "no rule holds: the default");
}

/// runc's rule (its seccomp.bats "-ENOSYS handling" profile relies on it): when two conditions
/// of a rule name the same argument, each condition is a rule of its own, ORed.
#[test]
fn conditions_on_the_same_argument_are_ored_as_runc_does() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":55,"args":[
                {"index":0,"value":1337,"op":"SCMP_CMP_EQ"},{"index":0,"value":2020,"op":"SCMP_CMP_EQ"},
                {"index":1,"value":9,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let kill = |pid: u64, sig: u64| act(&p, Abi::X86_64, "kill", &[pid, sig]);
    assert_eq!(kill(1337, 0), RET_ERRNO | 55);
    assert_eq!(kill(2020, 0), RET_ERRNO | 55);
    assert_eq!(kill(1, 9), RET_ERRNO | 55, "every condition alone");
    assert_eq!(kill(1, 0), RET_ALLOW);
}

#[test]
fn an_unconditional_rule_wins_over_conditional_ones_whatever_the_order() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":3,"args":[
                {"index":1,"value":9,"op":"SCMP_CMP_EQ"}]},
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":5},
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":6}]}"#,
    );
    assert_eq!(act(&p, Abi::X86_64, "kill", &[1, 9]), RET_ERRNO | 5);
    assert_eq!(act(&p, Abi::X86_64, "kill", &[1, 2]), RET_ERRNO | 5);
}

#[test]
fn a_rule_with_the_default_action_is_dropped_so_later_rules_apply() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["kill"],"action":"SCMP_ACT_ERRNO"},
            {"names":["kill"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(act(&p, Abi::X86_64, "kill", &[1, 0]), RET_ALLOW);
    assert_eq!(act(&p, Abi::X86_64, "kill", &[1, 9]), EPERM);
}

fn data(arch: u32, nr: u32) -> Data {
    Data::new(arch, nr)
}

#[test]
fn without_x32_in_the_filter_x32_syscalls_get_the_bad_arch_action() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let prog = p.instructions();
    assert_eq!(run(prog, &data(X86_64, 39)), RET_ALLOW);
    assert_eq!(
        run(prog, &data(X86_64, X32_SYSCALL_BIT | 39)),
        BAD_ARCH_ACTION
    );
    assert_eq!(
        run(prog, &data(X86_64, u32::MAX)),
        EPERM,
        "-1 keeps the default"
    );
    assert_eq!(
        run(prog, &data(I386, 20)),
        BAD_ARCH_ACTION,
        "x86 is not in the filter"
    );
    assert_eq!(run(prog, &data(AARCH64, 172)), BAD_ARCH_ACTION);
    assert_eq!(BAD_ARCH_ACTION, RET_KILL_THREAD, "libseccomp's default");
}

#[test]
fn with_x32_in_the_filter_each_abi_uses_its_own_numbers() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32"],
            "syscalls":[{"names":["getpid","rt_sigaction","map_shadow_stack"],
            "action":"SCMP_ACT_ERRNO","errnoRet":9}]}"#,
    );
    let prog = p.instructions();
    let nine = RET_ERRNO | 9;
    assert_eq!(run(prog, &data(X86_64, 39)), nine);
    assert_eq!(run(prog, &data(X86_64, X32_SYSCALL_BIT | 39)), nine);
    // rt_sigaction: 13 on x86_64, 512 on x32; 13 with the x32 bit is a different syscall.
    assert_eq!(run(prog, &data(X86_64, 13)), nine);
    assert_eq!(run(prog, &data(X86_64, X32_SYSCALL_BIT | 512)), nine);
    assert_eq!(run(prog, &data(X86_64, X32_SYSCALL_BIT | 13)), RET_ALLOW);
    assert_eq!(run(prog, &data(X86_64, 512)), RET_ALLOW);
    // map_shadow_stack exists on x86_64 only.
    assert_eq!(run(prog, &data(X86_64, 453)), nine);
    assert_eq!(run(prog, &data(X86_64, X32_SYSCALL_BIT | 453)), RET_ALLOW);
    assert_eq!(run(prog, &data(I386, 20)), BAD_ARCH_ACTION);
}

#[test]
fn x32_alone_refuses_x86_64_numbers() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X32"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    // The native x86_64 ABI is always in the filter, as libseccomp adds it.
    let prog = p.instructions();
    assert_eq!(run(prog, &data(X86_64, 39)), EPERM);
    assert_eq!(run(prog, &data(X86_64, X32_SYSCALL_BIT | 39)), EPERM);
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["no_such_syscall","getpid","socketcall"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(act(&p, Abi::X86_64, "getpid", &[]), EPERM);
    assert_eq!(act(&p, Abi::X86_64, "getppid", &[]), RET_ALLOW);
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys_unless_the_default_allows() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],
            "syscalls":[{"names":["read","getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let prog = p.instructions();
    let enosys = RET_ERRNO | 38;
    assert_eq!(run(prog, &data(X86_64, 39)), RET_ALLOW);
    assert_eq!(
        run(prog, &data(X86_64, 10)),
        EPERM,
        "below the highest named: default"
    );
    assert_eq!(run(prog, &data(X86_64, 40)), enosys);
    assert_eq!(run(prog, &data(X86_64, 999)), enosys);
    assert_eq!(run(prog, &data(I386, 20)), RET_ALLOW);
    assert_eq!(run(prog, &data(I386, 10)), EPERM);
    assert_eq!(run(prog, &data(I386, 21)), enosys);
    assert_eq!(run(prog, &data(I386, 999)), enosys);
    assert_eq!(
        run(prog, &data(I386, u32::MAX)),
        EPERM,
        "-1 keeps the default"
    );
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_LOG","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(run(p.instructions(), &data(X86_64, 999)), RET_LOG);
}

#[test]
fn bad_input_is_one_error_naming_what_is_wrong() {
    let cases = [
        (
            r#"{"defaultAction":"SCMP_ACT_FOO"}"#,
            r#"unknown action "SCMP_ACT_FOO" at defaultAction"#,
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_BAR"}]}"#,
            r#"unknown action "SCMP_ACT_BAR" at syscalls[0].action"#,
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW",
                "args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}"#,
            r#"unknown operator "SCMP_CMP_LIKE" at syscalls[0].args[0].op"#,
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#,
            r#"unknown architecture "SCMP_ARCH_Z80" at architectures[0]"#,
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FAST"]}"#,
            r#"unknown flag "SECCOMP_FILTER_FLAG_FAST" at flags[0]"#,
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[
                {"names":["mkdir","write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO",
                "args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "syscalls[0].args[0]: index 6 is out of range",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_KILL","errnoRet":1}]}"#,
            "syscalls[0]: errnoRet 1 is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#,
            "defaultAction: errnoRet 70000 does not fit",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}"#,
            "defaultAction SCMP_ACT_NOTIFY",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "listenerPath is not set",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[""],"action":"SCMP_ACT_ERRNO"}]}"#,
            "syscalls[0]: empty syscall name",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":3}"#,
            "parse profile",
        ),
    ];
    for (json, want) in cases {
        let got = error(json);
        assert!(got.contains(want), "{json}\n got: {got}\nwant: {want}");
        assert!(!got.contains('\n'), "one line: {got}");
    }
}

/// An architecture that cannot occur on an x86 kernel is left out, as libseccomp's filter
/// never matches it: the filter is the same as without it.
#[test]
fn foreign_architectures_are_left_out() {
    let rules = r#""syscalls":[{"names":["mkdirat"],"action":"SCMP_ACT_ERRNO"}]"#;
    let with = compiled(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64",
            "SCMP_ARCH_AARCH64","SCMP_ARCH_ARM","SCMP_ARCH_MIPS","SCMP_ARCH_X86"],{rules}}}"#
    ));
    let without = compiled(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86"],{rules}}}"#
    ));
    assert_eq!(with.instructions(), without.instructions());
    assert_eq!(act(&with, Abi::X86, "mkdirat", &[]), EPERM);
    assert_eq!(
        run(with.instructions(), &Data::new(AARCH64, 34)),
        BAD_ARCH_ACTION
    );
}

#[test]
fn flags_become_kernel_bits_and_notify_asks_for_a_listener() {
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    );
    assert_eq!(
        p.flags(),
        FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW,
        "WAIT_KILLABLE_RECV needs NOTIFY"
    );
    assert!(!p.has_listener());
    let p = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
            "flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls":[{"names":["mkdirat"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    let want = FLAG_TSYNC | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH | FLAG_WAIT_KILLABLE_RECV;
    assert_eq!(p.flags(), want);
    assert!(p.has_listener());
}

#[test]
fn bytes_round_trip_and_damage_is_refused() {
    let p = compile(&default_profile()).unwrap();
    let bytes = p.to_bytes();
    assert_eq!(Program::from_bytes(&bytes).unwrap(), p);
    let mut flipped = bytes.clone();
    flipped[100] ^= 0x40;
    let err = Program::from_bytes(&flipped).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    let err = Program::from_bytes(&bytes[..bytes.len() - 9]).unwrap_err();
    assert!(matches!(err, SeccompError::Decode(_)));
    assert!(Program::from_bytes(b"not a filter at all, not at all.....").is_err());
}

#[test]
fn cache_stores_reuses_and_repairs_filters() {
    let dir = std::env::temp_dir().join(format!("rind-seccomp-cache-{}", std::process::id()));
    let spec = default_profile();
    let first = compile_cached(&spec, &dir).unwrap();
    let file = dir.join(cache_key(&spec));
    assert_eq!(std::fs::read(&file).unwrap(), first.to_bytes());
    assert_eq!(compile_cached(&spec, &dir).unwrap(), first);
    // Another profile gets another key.
    let other = default_profile_for(&["CAP_SYS_ADMIN".into()]);
    assert_ne!(cache_key(&other), cache_key(&spec));
    // A damaged file is compiled again and replaced.
    std::fs::write(&file, b"garbage").unwrap();
    assert_eq!(compile_cached(&spec, &dir).unwrap(), first);
    assert_eq!(std::fs::read(&file).unwrap(), first.to_bytes());
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_advertised_features_are_the_ones_that_compile() {
    for action in SUPPORTED_ACTIONS {
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/a","syscalls":[{{"names":["kill"],"action":"{action}"}}]}}"#
        );
        compile(&profile(&json)).unwrap();
    }
    for op in SUPPORTED_OPERATORS {
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["kill"],"action":"SCMP_ACT_ERRNO",
                "args":[{{"index":0,"value":1,"op":"{op}"}}]}}]}}"#
        );
        compile(&profile(&json)).unwrap();
    }
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":[{}],"flags":[{}]}}"#,
        list(SUPPORTED_ARCHES),
        list(SUPPORTED_FLAGS)
    );
    compile(&profile(&json)).unwrap();
}
