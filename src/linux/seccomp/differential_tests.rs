//! Differential tests: random profiles are compiled, and the filter's answer for many
//! `seccomp_data` is compared with a plain evaluation of the lowered rules. Then Docker's
//! default profile is checked the same way on the syscalls it is known for.

use oci_spec::runtime::LinuxSeccompOperator as Op;

use super::interp::{Data, run, run_counted};
use super::rules::*;
use super::syscalls::{Abi, X32_SYSCALL_BIT, all_names};
use super::*;

const X86_64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn holds(c: &Cond, arg: u64, is_32bit: bool) -> bool {
    let cut = |v: u64| if is_32bit { v & 0xffff_ffff } else { v };
    let (arg, value, two) = (cut(arg), cut(c.value), cut(c.value_two));
    match c.op {
        Op::ScmpCmpNe => arg != value,
        Op::ScmpCmpLt => arg < value,
        Op::ScmpCmpLe => arg <= value,
        Op::ScmpCmpEq => arg == value,
        Op::ScmpCmpGe => arg >= value,
        Op::ScmpCmpGt => arg > value,
        Op::ScmpCmpMaskedEq => arg & value == two,
    }
}

/// What the lowered rules say for `d`, evaluated directly.
fn expected(rs: &Ruleset, d: &Data) -> u32 {
    let abi = match (d.arch, d.nr >= X32_SYSCALL_BIT) {
        (X86_64, false) => Abi::X86_64,
        (X86_64, true) => Abi::X32,
        (I386, _) => Abi::X86,
        _ => return BAD_ARCH_ACTION,
    };
    let Some(rules) = rs.abis.iter().find(|r| r.abi == abi) else {
        let x86_64_only = abi == Abi::X32 && rs.abis.iter().any(|r| r.abi == Abi::X86_64);
        return if x86_64_only && d.nr == u32::MAX {
            rs.default_action
        } else {
            BAD_ARCH_ACTION
        };
    };
    match rules.syscalls.get(&d.nr) {
        Some(Outcome::Ret(action)) => *action,
        Some(Outcome::Chain(chain)) => chain
            .iter()
            .find(|r| {
                r.conds
                    .iter()
                    .all(|c| holds(c, d.args[usize::from(c.index)], abi.is_32bit()))
            })
            .map_or(rs.default_action, |r| r.action),
        None => match rules.enosys_above {
            Some(max) if d.nr > max && d.nr != u32::MAX => RET_ERRNO | 38,
            _ => rs.default_action,
        },
    }
}

const ACTIONS: [&str; 6] = [
    r#""SCMP_ACT_ALLOW""#,
    r#""SCMP_ACT_ERRNO","errnoRet":13"#,
    r#""SCMP_ACT_KILL_PROCESS""#,
    r#""SCMP_ACT_TRAP""#,
    r#""SCMP_ACT_LOG""#,
    r#""SCMP_ACT_TRACE","errnoRet":2"#,
];
use super::tests::OPS;
const VALUES: [u64; 8] = [
    0,
    1,
    40,
    0xffff_ffff,
    1 << 32,
    0x1_0000_0028,
    u64::MAX,
    0x7e02_0000,
];

fn random_profile(rng: &mut Rng, names: &[&str]) -> String {
    let archs = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
    let arches: Vec<String> = archs
        .iter()
        .filter(|_| rng.below(2) == 0)
        .map(|a| format!("\"{a}\""))
        .collect();
    let mut rules = Vec::new();
    for _ in 0..rng.below(200) {
        let count = 1 + rng.below(4);
        let names: Vec<String> = (0..count)
            .map(|_| match rng.below(20) {
                0 => "\"not_a_syscall\"".to_string(),
                _ => format!("\"{}\"", rng.pick(names)),
            })
            .collect();
        let args: Vec<String> = (0..rng.below(4))
            .map(|_| {
                let value = match rng.below(3) {
                    0 => rng.next(),
                    _ => *rng.pick(&VALUES),
                };
                format!(
                    r#"{{"index":{},"value":{value},"valueTwo":{},"op":"{}"}}"#,
                    rng.below(6),
                    value & rng.next(),
                    rng.pick(&OPS)
                )
            })
            .collect();
        rules.push(format!(
            r#"{{"names":[{}],"action":{},"args":[{}]}}"#,
            names.join(","),
            rng.pick(&ACTIONS),
            args.join(",")
        ));
    }
    format!(
        r#"{{"defaultAction":{},"architectures":[{}],"syscalls":[{}]}}"#,
        rng.pick(&ACTIONS),
        arches.join(","),
        rules.join(",")
    )
}

/// Inputs that probe every syscall the rules name, its neighbours, the ABI boundaries, and
/// argument values around each condition's value.
fn probes(rs: &Ruleset, rng: &mut Rng) -> Vec<Data> {
    let mut out = Vec::new();
    let mut nrs = vec![
        0,
        1,
        X32_SYSCALL_BIT - 1,
        X32_SYSCALL_BIT,
        u32::MAX - 1,
        u32::MAX,
    ];
    for rules in &rs.abis {
        for (&nr, outcome) in &rules.syscalls {
            nrs.extend([nr.wrapping_sub(1), nr, nr.wrapping_add(1)]);
            let Outcome::Chain(chain) = outcome else {
                continue;
            };
            for cond in chain.iter().flat_map(|r| &r.conds) {
                for v in [cond.value, cond.value_two] {
                    for arg in [
                        v,
                        v.wrapping_sub(1),
                        v.wrapping_add(1),
                        v ^ (1 << 32),
                        rng.next(),
                    ] {
                        let mut d = Data::new(rules.abi.audit_arch(), nr);
                        d.args = [rng.next(), rng.next(), rng.next(), rng.next(), 0, 0];
                        d.args[usize::from(cond.index)] = arg;
                        out.push(d);
                    }
                }
            }
        }
        if let Some(max) = rules.enosys_above {
            nrs.extend([max, max.wrapping_add(1)]);
        }
    }
    for nr in nrs {
        for arch in [X86_64, I386, 0xc000_00b7] {
            out.push(Data::new(arch, nr));
        }
    }
    out
}

#[test]
fn random_profiles_compile_to_filters_that_agree_with_their_rules() {
    let names: Vec<&str> = all_names().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut checked, mut longest) = (0, 0);
    for _ in 0..60 {
        let json = random_profile(&mut rng, &names);
        let spec = parse_profile(&json).unwrap();
        let rs = rules::lower(&spec).unwrap();
        let prog = match compile(&spec) {
            Ok(p) => p,
            Err(SeccompError::TooLong(_)) => continue,
            Err(e) => panic!("{e}"),
        };
        bpf::check(prog.instructions()).unwrap();
        longest = longest.max(prog.instructions().len());
        for d in probes(&rs, &mut rng) {
            let (got, want) = (run(prog.instructions(), &d), expected(&rs, &d));
            assert_eq!(got, want, "{d:?}\nprofile: {json}");
            checked += 1;
        }
    }
    // Long programs are where far jumps and trampolines happen.
    assert!(longest > 1000, "longest program {longest}");
    assert!(checked > 10_000, "{checked} inputs checked");
    eprintln!("{checked} inputs checked, longest program {longest} instructions");
}

#[test]
fn docker_default_profile_fits_and_does_what_docker_intends() {
    let p = compile(&default_profile()).unwrap();
    bpf::check(p.instructions()).unwrap();
    assert!(
        p.instructions().len() < 1024,
        "{} instructions",
        p.instructions().len()
    );
    let call = |abi: Abi, name: &str, args: &[u64]| {
        let mut d = Data::new(abi.audit_arch(), abi.resolve(name).unwrap());
        d.args[..args.len()].copy_from_slice(args);
        run(p.instructions(), &d)
    };
    let eperm = RET_ERRNO | 1;
    for abi in [Abi::X86_64, Abi::X32, Abi::X86] {
        for name in [
            "read",
            "write",
            "execve",
            "exit_group",
            "openat",
            "fchmodat2",
        ] {
            assert_eq!(call(abi, name, &[]), RET_ALLOW, "{name} on {abi:?}");
        }
        for name in [
            "mount",
            "unshare",
            "setns",
            "reboot",
            "kexec_load",
            "init_module",
        ] {
            assert_eq!(call(abi, name, &[]), eperm, "{name} on {abi:?}");
        }
        assert_eq!(
            call(abi, "clone", &[0x11]),
            RET_ALLOW,
            "plain fork-like clone"
        );
        assert_eq!(
            call(abi, "clone", &[0x2000_0011]),
            eperm,
            "clone with CLONE_NEWPID"
        );
        assert_eq!(call(abi, "clone3", &[]), RET_ERRNO | 38);
        assert_eq!(call(abi, "personality", &[0xffff_ffff]), RET_ALLOW);
        assert_eq!(call(abi, "personality", &[0x0040_0000]), eperm);
    }
    assert_eq!(call(Abi::X86_64, "socket", &[2]), RET_ALLOW);
    assert_eq!(call(Abi::X86_64, "socket", &[40]), eperm, "AF_VSOCK");
    assert_eq!(call(Abi::X86, "socketcall", &[1]), RET_ALLOW);
    assert_eq!(call(Abi::X86_64, "arch_prctl", &[]), RET_ALLOW);
    let d = Data::new(X86_64, 469 + 1);
    assert_eq!(
        run(p.instructions(), &d),
        RET_ERRNO | 38,
        "newer than the profile"
    );

    let admin = compile(&default_profile_for(&["CAP_SYS_ADMIN".into()])).unwrap();
    let mut d = Data::new(X86_64, 56);
    d.args[0] = 0x2000_0011;
    assert_eq!(
        run(admin.instructions(), &d),
        RET_ALLOW,
        "clone(CLONE_NEWPID) with SYS_ADMIN"
    );
}

#[test]
fn docker_default_profile_decides_a_syscall_in_a_few_instructions() {
    let p = compile(&default_profile()).unwrap();
    let mut counts: Vec<(usize, u32)> = (0..=470)
        .map(|nr| (run_counted(p.instructions(), &Data::new(X86_64, nr)).1, nr))
        .collect();
    counts.sort();
    let mean = counts.iter().map(|c| c.0).sum::<usize>() as f64 / counts.len() as f64;
    let (most, nr) = counts[counts.len() - 1];
    eprintln!("x86_64: mean {mean:.1}, most {most} instructions (nr {nr})");
    // A linear chain of comparisons would take hundreds for the last syscalls.
    assert!(
        mean < 14.0 && most <= 40,
        "mean {mean}, most {most} (nr {nr})"
    );
}
