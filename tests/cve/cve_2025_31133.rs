//! CVE-2025-31133: masked paths bound from `/dev/null` by path. A masked file gets the null
//! device bound over it; named by path, `/dev/null` is whatever it is at that instant. With
//! `/dev` the image's own directory (no tmpfs on it), something that can rename in it (here the
//! host, standing for a container that shares it) swapping `/dev/null` with a symlink to
//! `/proc/sys/kernel/core_pattern` in a loop made the masks binds of `core_pattern`.
//!
//! rind opens `/dev/null` once, checks it is the character device 1:3, and binds every mask
//! from that descriptor (`linux/masks.rs`). A lost race fails `create` instead.

use std::path::Path;

use crate::common::*;
use crate::rootfs_attack::*;

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";

/// A script that prints, for each masked path that exists, what it is:
/// `path|file|<type>|<major:minor>` or `path|dir|<filesystem>|<entries>`.
fn report(masked: &[String]) -> String {
    masked
        .iter()
        .map(|p| {
            format!(
                "if [ -d {p} ]; then echo \"{p}|dir|$(stat -f -c %T {p})|$(ls -A {p} | wc -l)\"; \
                 elif [ -e {p} ]; then echo \"{p}|file|$(stat -c '%F|%t:%T' {p})\"; fi"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What is wrong with one line of the report, if anything.
fn violation(line: &str) -> Option<String> {
    let f: Vec<&str> = line.split('|').collect();
    let ok = match f.as_slice() {
        [_, "file", typ, dev] => *typ == "character special file" && *dev == "1:3",
        [_, "dir", fs, n] => *fs == "tmpfs" && *n == "0",
        _ => false,
    };
    (!ok).then(|| line.to_string())
}

#[test]
fn masked_paths_are_never_bound_from_a_swapped_dev_null() {
    let rt = Runtime::new();
    let mut b = bundle("true");
    drop_mounts(&mut b, &["/dev"]);
    let masked: Vec<String> = b.config["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    b.config["process"]["args"] = serde_json::json!(["sh", "-c", report(&masked)]);
    b.write();
    let dev = b.rootfs().join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let (null, evil) = (dev.join("null"), dev.join("evil"));
    std::os::unix::fs::symlink(CORE_PATTERN, &evil).unwrap();
    std::fs::write(&null, "").unwrap();
    // rind replaces what is at /dev/null with its own node each time: the attacker puts a
    // symlink back whenever neither name holds one.
    let keep = {
        let (null, evil) = (null.clone(), evil.clone());
        move || {
            let is_link = |p: &Path| p.symlink_metadata().is_ok_and(|m| m.is_symlink());
            if !is_link(&null) && !is_link(&evil) {
                let tmp = evil.with_extension("tmp");
                let _ = std::fs::remove_file(&tmp);
                if std::os::unix::fs::symlink(CORE_PATTERN, &tmp).is_ok() {
                    let _ = std::fs::rename(&tmp, &evil);
                }
            }
        }
    };
    let mut racer = Racer::start_with(&null, &evil, keep);
    let budget = Budget::new(100, 20);
    let (mut attempts, mut started, mut violations) = (0, 0, Vec::new());
    while budget.more(attempts) {
        attempts += 1;
        let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &unique("m")]);
        if !out.status.success() {
            continue;
        }
        started += 1;
        let text = String::from_utf8_lossy(&out.stdout);
        violations.extend(text.lines().filter_map(violation));
    }
    let swaps = racer.stop();
    eprintln!("{attempts} attempts, {started} started, {swaps} swaps");
    assert!(
        swaps > 0,
        "the attacker never swapped: the race did not run"
    );
    let count = violations.len();
    violations.sort();
    violations.dedup();
    assert!(
        count == 0,
        "{count} masked paths were not the null device or an empty tmpfs (after {attempts} \
         attempts, {started} started): {violations:?}"
    );
    assert!(started > 0, "no container started in {attempts} attempts");
}
