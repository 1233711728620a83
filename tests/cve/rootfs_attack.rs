//! What the root filesystem and procfs attacks share: bundles laid out as an attacker's image
//! would be, a racer that swaps two names with `renameat2(RENAME_EXCHANGE)` for as long as an
//! attempt runs, and the host files the attacks aim at.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::*;

/// A bundle whose process runs `sh -c script`, with no seccomp profile (rind's default spec
/// has one; the attacks need system calls it denies, as runc's own tests run without one).
pub fn bundle(script: &str) -> Bundle {
    let mut b = Bundle::sh(script);
    if let Some(linux) = b.config["linux"].as_object_mut() {
        linux.remove("seccomp");
    }
    b
}

/// Removes the spec's mounts at `destinations` (e.g. `/dev`, so that `/dev` is the image's own
/// directory, as in the CVE-2025-31133 and -52565 attacks).
pub fn drop_mounts(b: &mut Bundle, destinations: &[&str]) {
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !destinations.contains(&m["destination"].as_str().unwrap_or_default()));
}

/// Puts the mount at `destination` first in the list (before `/proc` and `/dev`).
pub fn move_mount_first(b: &mut Bundle, destination: &str) {
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    let i = mounts
        .iter()
        .position(|m| m["destination"] == destination)
        .unwrap();
    let m = mounts.remove(i);
    mounts.insert(0, m);
}

/// A symlink at `link` (a path inside the bundle's rootfs, e.g. `/dev/console`) to `target`,
/// replacing whatever the fixture has there.
pub fn plant_symlink(b: &Bundle, link: &str, target: &str) {
    let at = b.rootfs().join(link.trim_start_matches('/'));
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    match std::fs::symlink_metadata(&at) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&at).unwrap(),
        Ok(_) => std::fs::remove_file(&at).unwrap(),
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, &at).unwrap();
}

/// Writes a regular file at `path` inside the rootfs (parents created).
pub fn plant_file(b: &Bundle, path: &str, content: &str) {
    let at = b.rootfs().join(path.trim_start_matches('/'));
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&at);
    std::fs::write(&at, content).unwrap();
}

/// Reads a host file (a procfs one, typically), trimmed.
pub fn host_value(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_string()
}

/// Tests that watch a host value run one at a time, so that one's attempt cannot look like
/// another's change.
static HOST_VALUES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Restores a host sysctl on drop if an attempt changed it, so that a failing test does not
/// leave the machine altered.
pub struct HostValue {
    path: &'static str,
    pub original: String,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

impl HostValue {
    pub fn new(path: &'static str) -> Self {
        let guard = HOST_VALUES.lock().unwrap_or_else(|e| e.into_inner());
        HostValue {
            path,
            original: host_value(path),
            _one_at_a_time: guard,
        }
    }
    /// The value now, and whether it is still the original.
    pub fn unchanged(&self) -> (String, bool) {
        let now = host_value(self.path);
        let same = now == self.original;
        (now, same)
    }
}

impl Drop for HostValue {
    fn drop(&mut self) {
        if host_value(self.path) != self.original {
            let _ = std::fs::write(self.path, &self.original);
        }
    }
}

/// `stdout + stderr` of an attempt, for messages.
pub fn both(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Swaps two paths with `renameat2(RENAME_EXCHANGE)` in a loop on a thread of its own, until
/// dropped (or [`Racer::stop`]). The host side of a container that shares the directory.
pub struct Racer {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Racer {
    pub fn start(a: &Path, b: &Path) -> Self {
        Self::start_with(a, b, || {})
    }

    /// As [`Racer::start`], calling `keep` after every exchange (to put back what the victim
    /// removed, say).
    pub fn start_with(a: &Path, b: &Path, keep: impl Fn() + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let (a, b) = (cstring(a), cstring(b));
        let thread = {
            let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: two valid C strings; renameat2 has no other effect on memory.
                    let r = unsafe {
                        libc::renameat2(
                            libc::AT_FDCWD,
                            a.as_ptr(),
                            libc::AT_FDCWD,
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                    if r == 0 {
                        swaps.fetch_add(1, Ordering::Relaxed);
                    }
                    keep();
                }
            })
        };
        Racer {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    /// Stops the loop; returns how many exchanges were made.
    pub fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.swaps.load(Ordering::Relaxed)
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cstring(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// How long and how often a race test tries: at most `attempts` containers or `secs` seconds,
/// whichever ends first.
pub struct Budget {
    pub attempts: usize,
    pub deadline: Instant,
}

impl Budget {
    pub fn new(attempts: usize, secs: u64) -> Self {
        Budget {
            attempts,
            deadline: Instant::now() + Duration::from_secs(secs),
        }
    }
    pub fn more(&self, done: usize) -> bool {
        done < self.attempts && Instant::now() < self.deadline
    }
}

/// A host directory outside every rootfs, that the attacks try to reach (removed on drop).
pub fn outside_dir(tag: &str) -> TempDir {
    TempDir::new(tag)
}

/// Every entry under `dir`, recursively, as paths relative to it (for "nothing was created
/// here" checks).
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
