//! CVE-2016-9962: a process the runtime starts in a running container (`exec`) is visible to
//! the container's processes from the moment it joins the PID namespace. While it is still the
//! runtime (holding its descriptors, its memory, its privileges), a container process that may
//! ptrace it, or open its `/proc/<pid>/fd`, `/proc/<pid>/mem` or `/proc/<pid>/environ`, gets
//! at all of that. rind's `exec` process is non-dumpable before it joins anything, and again
//! after every credential change (which resets dumpability to `fs.suid_dumpable`), until its
//! `execve`: only a process with CAP_SYS_PTRACE in the host's user namespace could look.
//!
//! The attacker races the runtime: it scans `/proc` for processes that are not its own
//! program nor busybox and tries all four doors, while the host runs `exec` in a loop.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::attacker;
use crate::common::*;

fn race(b: &mut Bundle, rt: &Runtime) {
    attacker::install(&b.rootfs());
    // The attacker (the container's init) watches for 8 s, the execs come for 4: under TCG in
    // the VM suite a container start alone can take a second or more.
    b.config["process"]["args"] = json!(["/attacker", "snoop", "8", "/result"]);
    b.write();
    let id = unique("c9962");
    rt.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut execs = 0;
    while Instant::now() < deadline {
        rt.ok(&["exec", &id, "true"]);
        execs += 1;
    }
    let result = attacker::wait_result(&b.rootfs().join("result"), Duration::from_secs(20));
    eprintln!("{execs} execs; attacker:\n{result}");
    let looked = result
        .lines()
        .filter(|l| l.starts_with("opened-") || l.starts_with("ptrace-"))
        .collect::<Vec<_>>();
    assert!(
        looked.is_empty(),
        "a container process got into an exec process during its setup:\n{result}"
    );
    assert!(
        attacker::counter(&result, "seen") > 0,
        "the attacker never saw an exec process in setup: the race did not happen\n{result}"
    );
    rt.ok(&["delete", "--force", &id]);
}

/// The attacker is the container's root with the default capabilities: an exec process whose
/// capabilities are already cut to the same set is open to it unless it is non-dumpable.
#[test]
fn a_container_process_cannot_look_into_an_exec_process_in_setup() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    race(&mut b, &rt);
}

/// With a user namespace and CAP_SYS_PTRACE in it, only dumpability stands between the
/// container's root and the exec process once that joined the user namespace.
#[test]
fn ptrace_in_the_container_s_user_namespace_does_not_reach_an_exec_process() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.add_user_namespace(100_000, 100_000, 65_536);
    b.add_capability("CAP_SYS_PTRACE");
    race(&mut b, &rt);
}
