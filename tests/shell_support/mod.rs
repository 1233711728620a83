//! Harness for the `rind run --image` / stop / rm / logs / inspect tests: a private `--root`
//! and `--store` per test, the image fixtures, and a cleanup that removes every container,
//! unmounts anything left under the store and checks that nothing was left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TempDir, expect_failure, expect_success, output_through_files, rind_bin};

/// The image fixtures (`rootfs-fixtures/images/build.sh`); fails the test when they are
/// missing or the test does not run as root.
pub fn images() -> PathBuf {
    crate::common::require_root();
    let p = crate::common::fixtures().join("images");
    assert!(
        p.join(".complete").exists(),
        "image fixtures missing at {} (run rootfs-fixtures/images/build.sh)",
        p.display()
    );
    p
}

/// `oci:<fixtures>/images/oci:busybox`, the image most tests run. Its config: entrypoint
/// `/bin/sh -c`, cmd `echo hello from busybox`, user tester, workdir /home/tester, env
/// GREETING=hi, StopSignal SIGQUIT.
pub fn busybox_ref(images: &Path) -> String {
    format!("oci:{}:busybox", images.join("oci").display())
}

/// A private state root and image store, cleaned up on drop.
pub struct Shell {
    pub root: TempDir,
    pub store: TempDir,
}

impl Shell {
    pub fn new() -> Shell {
        Shell {
            root: TempDir::new("shell-root"),
            store: TempDir::new("shell-store"),
        }
    }

    /// A new shell with `reference` already in its store, named `name`.
    pub fn with_image(reference: &str, name: &str) -> Shell {
        let sh = Shell::new();
        sh.ok(&["image", "import", "-q", "--name", name, reference]);
        sh
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(rind_bin());
        c.arg("--root")
            .arg(self.root.path())
            .arg("--store")
            .arg(self.store.path())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Runs rind; output goes through files ([`output_through_files`]).
    pub fn run(&self, args: &[&str]) -> Output {
        output_through_files(self.command(args), self.root.path())
    }

    /// Runs rind, asserts exit 0, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        expect_success(args, &self.run(args))
    }

    /// Runs rind, asserts exit 1, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        expect_failure(args, &self.run(args))
    }

    /// `rind run --image IMAGE --rm FLAGS... -- sh-script`: the container's stdout, asserting
    /// exit 0.
    pub fn sh(&self, image: &str, flags: &[&str], script: &str) -> String {
        let mut args = vec!["run", "--image", image, "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", script]);
        self.ok(&args)
    }

    /// `rind run -d`; returns the container's name.
    pub fn detach(&self, image: &str, flags: &[&str], script: &str) -> String {
        let mut args = vec!["run", "--image", image, "-d"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", script]);
        self.ok(&args).trim().to_string()
    }

    pub fn inspect(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(&["inspect", name])).unwrap()
    }

    pub fn list_json(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["list", "--format", "json"])).unwrap()
    }

    pub fn status(&self, name: &str) -> Option<String> {
        let out = self.run(&["state", name]);
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_string))
    }

    /// Waits until `cond` holds (panics with `what` after 10 s).
    pub fn wait_for(&self, what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The container's log once it contains `needle` (panics after 10 s).
    pub fn wait_log(&self, name: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.ok(&["logs", name]);
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "log of {name} never showed {needle:?}: {log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn bundles(&self) -> Vec<String> {
        let dir = self.store.path().join("containers");
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Mount points under the store (overlay roots still mounted).
    pub fn mounts(&self) -> Vec<String> {
        mounts_under(self.store.path())
    }

    /// Leases the store holds for container roots.
    pub fn leases(&self) -> usize {
        std::fs::read_dir(self.store.path().join("leases"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    }

    /// Asserts that no container, bundle, overlay mount or lease is left.
    pub fn assert_clean(&self) {
        assert_eq!(self.ok(&["list", "-q"]), "", "containers left");
        assert_eq!(self.bundles(), Vec::<String>::new(), "bundles left");
        assert_eq!(
            self.mounts(),
            Vec::<String>::new(),
            "mounts left: {}",
            mountinfo_lines_under(self.store.path()).join("\n")
        );
        assert_eq!(self.leases(), 0, "leases left");
    }
}

/// The whole mountinfo lines of the mounts under `dir` (ids, parent, propagation), for
/// messages.
pub fn mountinfo_lines_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| Path::new(m).starts_with(dir))
        })
        .map(str::to_string)
        .collect()
}

pub fn mounts_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        // By path components: store ".../store-7-1" must not claim ".../store-7-15"'s mounts.
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

impl Drop for Shell {
    /// Removes every container (killing running ones) with their roots and bundles, then
    /// unmounts anything still mounted under the store, so a failed test leaves nothing.
    fn drop(&mut self) {
        let ids = self
            .command(&["list", "-q"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = self.command(&["rm", "-f", id]).output();
        }
        for b in self.bundles() {
            let _ = self.command(&["rm", "-f", &b]).output();
        }
        let mut left = self.mounts();
        left.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for m in left {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// The host file of a cgroup controller for a process: v1 `<mnt>/<controller>/<path>/<v1>`
/// or, where the controller is on cgroup2, `<mnt>/<path>/<v2>` (read from /proc/<pid>/cgroup).
pub fn cgroup_file(pid: i64, controller: &str, v1: &str, v2: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        if ctrls.split(',').any(|c| c == controller) {
            let p = format!("/sys/fs/cgroup/{controller}{path}/{v1}");
            return std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("{p}: {e}"))
                .trim()
                .to_string();
        }
    }
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("no cgroup2 line");
    let base = if Path::new("/sys/fs/cgroup/unified").exists() {
        "/sys/fs/cgroup/unified"
    } else {
        "/sys/fs/cgroup"
    };
    let p = format!("{base}{path}/{v2}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{p}: {e}"))
        .trim()
        .to_string()
}
