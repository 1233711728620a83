//! The attacker program the race tests run inside the container (`attacker.c`, beside this
//! file): built static once per test run with the C compiler every Rust build already needs
//! (or staged by scripts/vm-test.sh for the VM guest), and copied into each container's
//! rootfs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The static attacker binary: `cve-attacker` in the fixtures directory where one was staged
/// (the VM suite builds it on the host: the guest has no C compiler), else built on first use.
pub fn binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let staged = crate::common::fixtures().join("cve-attacker");
        if staged.exists() {
            return staged;
        }
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cve-attacker");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cve/attacker.c");
        let st = Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(src)
            .status()
            .expect("run cc (the C compiler Rust links with)");
        assert!(st.success(), "cc -static {src} failed");
        out
    })
}

/// Copies the attacker to `/attacker` in `rootfs`.
pub fn install(rootfs: &Path) {
    std::fs::copy(binary(), rootfs.join("attacker")).unwrap();
}

/// Waits (up to `limit`) until the attacker wrote its final line to `result`, and returns
/// what it wrote.
pub fn wait_result(result: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(result).unwrap_or_default();
        if text.lines().any(|l| l.starts_with("done ")) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the attacker did not finish: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A counter from the attacker's final line (`done seen=.. opened=.. denied=..`).
pub fn counter(result: &str, name: &str) -> u64 {
    result
        .lines()
        .find(|l| l.starts_with("done "))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
