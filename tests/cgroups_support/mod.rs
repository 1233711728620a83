//! Helpers shared by the cgroups integration tests: unique test cgroups that are always removed,
//! children started inside a cgroup, and reading a controller's file on either layout.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use rind::cgroups::{self, Cgroup, CgroupPaths, Layout, MountInfo};

#[path = "../common/skip.rs"]
mod skip;
#[allow(unused_imports)] // not every cgroups test skips
pub use skip::{require_root, skip};

pub fn layout() -> Layout {
    MountInfo::read_self().unwrap().layout()
}

/// The busybox binary of the fixture rootfs (`RIND_FIXTURES/busybox/rootfs/bin/busybox`).
pub fn busybox() -> PathBuf {
    let base = std::env::var_os("RIND_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs-fixtures/out"))
        });
    let bin = base.join("busybox/rootfs/bin/busybox");
    assert!(
        bin.exists(),
        "{} is missing: run rootfs-fixtures/busybox-rootfs.sh (or set RIND_FIXTURES)",
        bin.display()
    );
    bin
}

/// A name no other test (or test run) uses.
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "rind-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A created test cgroup that is killed and removed when dropped, even when the test fails.
pub struct TestCgroup {
    pub cg: Box<dyn Cgroup>,
}

impl TestCgroup {
    /// Resolves a unique relative cgroups path the way `rind create` does, and creates it.
    pub fn new(name: &str) -> TestCgroup {
        let path = PathBuf::from(unique(name));
        let cg = cgroups::resolve(Some(&path), "unused").unwrap();
        let t = TestCgroup { cg };
        t.cg.create().unwrap();
        t
    }

    /// Wraps an existing cgroup (for example one made with `from_paths`).
    pub fn wrap(cg: Box<dyn Cgroup>) -> TestCgroup {
        TestCgroup { cg }
    }

    pub fn apply_json(&self, json: &str) -> Result<(), cgroups::CgroupError> {
        let r: LinuxResources = serde_json::from_str(json).unwrap();
        self.cg.apply(&r)
    }

    /// The directory of `controller` (v1), or the one directory (v2).
    pub fn dir(&self, controller: &str) -> Option<PathBuf> {
        match self.cg.paths() {
            CgroupPaths::V1 { controllers, .. } => controllers.get(controller).cloned(),
            CgroupPaths::V2 { dir } => Some(dir),
        }
    }

    /// Reads `v1_file` of `controller` on v1, `v2_file` on v2.
    pub fn read(&self, controller: &str, v1_file: &str, v2_file: &str) -> String {
        let file = if self.is_v2() { v2_file } else { v1_file };
        let dir = self.dir(controller).expect("controller mounted");
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
            .trim()
            .to_string()
    }

    pub fn is_v2(&self) -> bool {
        matches!(self.cg.paths(), CgroupPaths::V2 { .. })
    }

    /// Every directory of the cgroup.
    pub fn all_dirs(&self) -> Vec<PathBuf> {
        match self.cg.paths() {
            CgroupPaths::V1 {
                controllers,
                unified,
            } => controllers.into_values().chain(unified).collect(),
            CgroupPaths::V2 { dir } => vec![dir],
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.cg.signal_all(Signal::SIGKILL);
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup: {e}");
        }
    }
}

/// A busybox shell that waits on stdin before running `script`, so that it can be moved into
/// a cgroup first.
pub struct Gated {
    pub child: Child,
}

impl Gated {
    pub fn spawn(script: &str) -> Gated {
        let child = Command::new(busybox())
            .args(["sh", "-c", &format!("read _gate; {script}")])
            .env("PATH", busybox().parent().unwrap())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Gated { child }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn release(&mut self) {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }

    /// Waits up to `limit` for the child to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Stdout and stderr, once the child has exited.
    pub fn output(&mut self) -> (String, String) {
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut out).unwrap();
        }
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        (out, err)
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `script` inside `cg`.
pub fn run_in(cg: &TestCgroup, script: &str) -> Gated {
    let mut g = Gated::spawn(script);
    cg.cg.add_process(g.pid()).unwrap();
    g.release();
    g
}

/// CPU time the cgroup has used, in nanoseconds.
pub fn cpu_ns(cg: &TestCgroup) -> u64 {
    cg.cg.stats().unwrap().cpu.usage.total
}

/// A tmpfs directory: its pages stay charged to the writer's memory cgroup and cannot be
/// reclaimed without swap.
pub fn tmpfs_dir() -> PathBuf {
    ["/dev/shm", "/tmp", "/run"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            nix::sys::statfs::statfs(p)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
        })
        .expect("a tmpfs directory")
}
