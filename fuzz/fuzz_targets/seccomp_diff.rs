//! The seccomp compiler on profiles built from structured input (names from the syscall
//! tables, any action, errnoRet, operator, index and value), checked against the profile's
//! meaning (`rind_fuzz::check_seccomp`) on the syscalls and arguments the profile names and
//! on the probes the input adds.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rind::linux::seccomp::fuzzing::all_names;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug)]
struct Profile {
    default: Action,
    arches: Vec<u8>,
    flags: Vec<u8>,
    listener: bool,
    rules: Vec<Rule>,
    noise: u64,
}

#[derive(Arbitrary, Debug)]
struct Action {
    kind: u8,
    errno: Option<u32>,
}

#[derive(Arbitrary, Debug)]
struct Rule {
    names: Vec<Name>,
    action: Action,
    args: Vec<Arg>,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u16),
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Arg {
    index: u8,
    value: u64,
    two: Option<u64>,
    op: u8,
}

const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
const OPS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
const ARCHES: &[&str] = &[
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_AARCH64",
];
const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

/// errnoRet: mostly absent or small, sometimes any value (to reach the range check).
fn errno(a: &Action) -> Option<u32> {
    a.errno
        .map(|n| if n & 0x8000_0000 != 0 { n } else { n & 0xff })
}

fn action_json(a: &Action, obj: &mut serde_json::Map<String, Value>, key: &str, errno_key: &str) {
    obj.insert(key.into(), json!(pick(ACTIONS, a.kind)));
    if let Some(n) = errno(a) {
        obj.insert(errno_key.into(), json!(n));
    }
}

fuzz_target!(|p: Profile| {
    let names: Vec<&str> = all_names().collect();
    let mut obj = serde_json::Map::new();
    action_json(&p.default, &mut obj, "defaultAction", "defaultErrnoRet");
    obj.insert(
        "architectures".into(),
        json!(
            p.arches
                .iter()
                .take(4)
                .map(|&a| pick(ARCHES, a))
                .collect::<Vec<_>>()
        ),
    );
    obj.insert(
        "flags".into(),
        json!(
            p.flags
                .iter()
                .take(4)
                .map(|&f| pick(FLAGS, f))
                .collect::<Vec<_>>()
        ),
    );
    if p.listener {
        obj.insert("listenerPath".into(), json!("/run/agent.sock"));
    }
    let rules: Vec<Value> = p
        .rules
        .iter()
        .take(64)
        .map(|r| {
            let mut o = serde_json::Map::new();
            let n: Vec<String> = r
                .names
                .iter()
                .take(8)
                .map(|n| match n {
                    Name::Known(i) => names[usize::from(*i) % names.len()].to_string(),
                    Name::Other(s) => s.clone(),
                })
                .collect();
            o.insert("names".into(), json!(n));
            action_json(&r.action, &mut o, "action", "errnoRet");
            let args: Vec<Value> = r
                .args
                .iter()
                .take(6)
                .map(|a| {
                    let mut v = json!({
                        "index": a.index % 7,
                        "value": a.value,
                        "op": pick(OPS, a.op),
                    });
                    if let Some(t) = a.two {
                        v["valueTwo"] = json!(t);
                    }
                    v
                })
                .collect();
            if !args.is_empty() {
                o.insert("args".into(), json!(args));
            }
            Value::Object(o)
        })
        .collect();
    obj.insert("syscalls".into(), json!(rules));
    let profile: oci_spec::runtime::LinuxSeccomp = match serde_json::from_value(Value::Object(obj))
    {
        Ok(p) => p,
        Err(e) => panic!("a profile of the spec's own names does not deserialize: {e}"),
    };
    rind_fuzz::check_seccomp(&profile, &mut rind_fuzz::noise_from(&p.noise.to_le_bytes()));
});
