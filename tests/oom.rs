//! An OOM kill is visible: `run` exits 137, and `events` reports it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A program that touches 64 MiB (a 64 MiB string in busybox awk).
const ALLOCATE_64M: &str = "awk 'BEGIN { s = sprintf(\"%67108864s\", \"\"); print length(s) }'";

#[test]
fn run_exits_137_when_the_memory_limit_oom_kills_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(&format!("exec {ALLOCATE_64M}"));
    b.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
    let out = rt.run_bundle(&b, &unique("oom"));
    assert_eq!(
        out.status.code(),
        Some(137),
        "stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_same_program_runs_with_enough_memory() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(&format!("exec {ALLOCATE_64M}"));
    b.config["linux"]["resources"]["memory"] = json!({"limit": 256 << 20});
    assert_eq!(rt.output_of(&b).trim(), "67108864");
}

#[test]
fn events_reports_an_oom_kill() {
    let rt = Runtime::new();
    // init stays; a child allocates too much and is killed, once.
    let mut b = Bundle::sh(&format!("read go < /go; {ALLOCATE_64M}; sleep 1000"));
    b.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
    let fifo = b.rootfs().join("go");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let id = unique("oomev");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let mut events = rt
        .command(&["events", "--interval", "100ms", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = BufReader::new(events.stdout.take().unwrap());
    // Let the allocation start only once events is watching.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&fifo, "go\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut saw_oom = false;
    let mut saw_stats = false;
    for line in reader.lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], id.as_str());
        match v["type"].as_str() {
            Some("oom") => {
                saw_oom = true;
                break;
            }
            Some("stats") => {
                saw_stats = true;
                assert!(v["data"]["memory"].is_object(), "{line}");
            }
            other => panic!("unexpected event type {other:?}: {line}"),
        }
        assert!(Instant::now() < deadline, "no oom event within 20 s");
    }
    let _ = events.kill();
    let _ = events.wait();
    assert!(saw_stats, "events printed no stats before the oom");
    assert!(saw_oom, "events ended without an oom event");
    rt.ok(&["delete", "--force", &id]);
}
