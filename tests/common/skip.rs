//! The suite's one policy for tests that cannot run.
//!
//! A missing prerequisite (root, a fixture, a tool such as umoci or runc) fails the test:
//! `scripts/test.sh` installs and builds every one of them, so a missing one is a broken setup,
//! not a reason to pass. A test that cannot apply on this host (a cgroup v1 check on a pure v2
//! host, a kernel without a feature) calls [`skip`] and returns. [`skip`] records the test and
//! the reason in the file `RIND_SKIP_LOG` names, and `scripts/test.sh` (and the VM suite) count
//! those apart from the passes and print them: a skip never reads as a pass.

use std::io::Write;

/// Records that the calling test does not apply on this host, and why. The test must return
/// right after.
pub fn skip(reason: &str) {
    // libtest runs each test on a thread named after it.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unknown test");
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| {
            s.rsplit_once('-')
                .map_or(s.clone(), |(name, _hash)| name.to_string())
        })
        .unwrap_or_default();
    let line = format!("{binary}::{test}: {reason}\n");
    eprint!("skipped: {line}");
    if let Some(path) = std::env::var_os("RIND_SKIP_LOG") {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!("record the skip in {}: {e}", path.to_string_lossy());
        }
    }
}

/// Fails the test unless it runs as root: the integration tests make namespaces, mounts and
/// cgroups.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the integration tests run as root (scripts/test.sh)"
    );
}

/// Fails the test unless `tool` is on PATH: scripts/install-deps.sh installs every tool the
/// tests use.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(
        found,
        "{tool} is not installed: scripts/install-deps.sh installs it"
    );
}
