//! `--trace`: the timeline of a real start shows the runtime's and init's steps in order, and
//! without the flag nothing is printed.

mod common;

use common::*;
use serde_json::Value;

/// Runs `rind [--trace --trace-format json] run` of `true` and returns (exit code, stderr).
fn run_true(rt: &Runtime, traced: bool) -> (Option<i32>, String) {
    let mut b = Bundle::new();
    b.config["process"]["args"] = serde_json::json!(["true"]);
    b.write();
    let id = unique("trace");
    let bundle = b.path().to_str().unwrap().to_string();
    let mut args = vec![];
    if traced {
        args.extend(["--trace", "--trace-format", "json"]);
    }
    args.extend(["run", "-b", &bundle, &id]);
    let out = rt.run(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn steps(stderr: &str) -> Vec<(String, String, u64)> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('['))
        .unwrap_or_else(|| panic!("no JSON timeline on stderr: {stderr}"));
    let events: Vec<Value> = serde_json::from_str(line).unwrap();
    events
        .iter()
        .map(|e| {
            (
                e["side"].as_str().unwrap().to_string(),
                e["step"].as_str().unwrap().to_string(),
                e["nanos"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn position(steps: &[(String, String, u64)], side: &str, prefix: &str) -> usize {
    steps
        .iter()
        .position(|(s, step, _)| s == side && step.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {side} step starting with {prefix:?} in {steps:#?}"))
}

#[test]
fn trace_shows_runtime_and_init_steps_in_order() {
    let rt = Runtime::new();
    let (code, stderr) = run_true(&rt, true);
    assert_eq!(code, Some(0), "{stderr}");
    let steps = steps(&stderr);
    let times: Vec<u64> = steps.iter().map(|s| s.2).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{steps:#?}");

    let spec = position(&steps, "runtime", "read and validated config.json");
    let cgroup_dir = position(&steps, "runtime", "created the cgroup directory");
    let clone = position(&steps, "runtime", "clone3 (namespaces:");
    // The rest of the cgroup is made after the clone, and init enters it only then.
    let complete = if cgroup_v2() {
        position(&steps, "runtime", "applied the cgroup's limits")
    } else {
        position(&steps, "runtime", "created cgroup in")
    };
    let in_cgroup = position(&steps, "init", "init: in cgroup");
    // Marks taken inside init by modules other than init.rs (rootfs) reach the runtime.
    let proc_mount = position(&steps, "init", "init: mounted /proc");
    let pivot = position(&steps, "init", "init: pivot_root");
    let caps = position(&steps, "init", "init: user and capabilities set");
    let ready = position(&steps, "runtime", "init ready");
    let start = position(&steps, "runtime", "start: released init");
    // After `Ready`, init executes the exec stub (the channel closes with that execveat,
    // which `create` waits for), and the stub waits on exec.fifo; `start` releases it and
    // returns once the program runs; the foreground run then sees the exit and deletes.
    let execve = position(&steps, "init", "init: execve of the exec stub");
    let closed = position(&steps, "runtime", "the child executed");
    let exited = position(&steps, "runtime", "container exited with 0");
    let deleted = position(&steps, "runtime", "deleted the container");
    let order = [
        spec, cgroup_dir, clone, proc_mount, in_cgroup, pivot, caps, execve, closed, start, exited,
        deleted,
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{steps:#?}");
    assert!(clone < complete && complete < in_cgroup, "{steps:#?}");
    // Init's last steps and the runtime's end of `create` run side by side.
    assert!(caps < ready && ready < closed, "{steps:#?}");
    assert!(
        steps[execve].1.ends_with("/true"),
        "the program is named: {}",
        steps[execve].1
    );
    assert!(
        steps[clone].1.contains("pid") && steps[clone].1.contains("mnt"),
        "clone flags named: {}",
        steps[clone].1
    );
}

#[test]
fn without_trace_nothing_is_printed() {
    let rt = Runtime::new();
    let (code, stderr) = run_true(&rt, false);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
}
