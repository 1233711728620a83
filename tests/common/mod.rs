//! Shared harness for the integration tests: the rind binary, the busybox fixture, bundles in
//! temporary directories, and a private `--root` per test that is cleaned up on drop.
//!
//! Tests run as root and drive the real binary. Every test uses its own state root and its own
//! container ids, and leaves no process, cgroup, mount or file behind.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The rind binary under test: `RIND_BIN`, else the one cargo built for these tests.
pub fn rind_bin() -> PathBuf {
    std::env::var_os("RIND_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rind")))
}

/// The fixtures directory (holding `busybox/rootfs`): `RIND_FIXTURES`, else the repository's.
pub fn fixtures() -> PathBuf {
    std::env::var_os("RIND_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs-fixtures/out"))
        })
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this test process and call: `<tag>-<pid>-<n>`.
pub fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A temporary directory removed (recursively) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rind-test-{}", unique(tag)));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bundle: a copy of the busybox rootfs plus a config.json built from rind's default spec
/// (without a terminal, with a writable root), which a test edits before use.
pub struct Bundle {
    pub dir: TempDir,
    pub config: Value,
}

impl Bundle {
    pub fn new() -> Self {
        let dir = TempDir::new("bundle");
        let src = fixtures().join("busybox/rootfs");
        assert!(
            src.join("bin/busybox").exists(),
            "busybox fixture missing at {}: run rootfs-fixtures/busybox-rootfs.sh",
            src.display()
        );
        let st = Command::new("cp")
            .arg("-a")
            .arg(&src)
            .arg(dir.path().join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success(), "copy rootfs");
        let mut config = rind::spec::default::default_spec(false);
        // Tests write results into the rootfs; the read-only root has tests of its own.
        config["root"]["readonly"] = json!(false);
        Bundle { dir, config }
    }

    /// A bundle whose process runs `sh -c script`.
    pub fn sh(script: &str) -> Self {
        let mut b = Bundle::new();
        b.config["process"]["args"] = json!(["sh", "-c", script]);
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    /// Writes config.json (call after editing `config`).
    pub fn write(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Adds a mount entry.
    pub fn add_mount(&mut self, m: Value) {
        self.config["mounts"].as_array_mut().unwrap().push(m);
    }

    /// Removes a namespace type from the spec.
    pub fn drop_namespace(&mut self, typ: &str) {
        let ns = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != typ);
    }
}

/// A private state root for one test. On drop, every container left in it is deleted with
/// `--force` (killing its processes and removing its cgroup), then the directory goes.
pub struct Runtime {
    pub root: TempDir,
}

impl Runtime {
    pub fn new() -> Self {
        Runtime {
            root: TempDir::new("root"),
        }
    }

    /// A `rind --root <root> args...` command, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(rind_bin());
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs rind with `args` and captures its output. Output goes through files, not pipes:
    /// a container's init inherits rind's stdio, and a pipe it holds would never reach EOF.
    pub fn run(&self, args: &[&str]) -> Output {
        let out_path = self.root.path().join(format!(".out-{}", unique("o")));
        let err_path = self.root.path().join(format!(".err-{}", unique("e")));
        let status = self
            .command(args)
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        let stdout = std::fs::read(&out_path).unwrap_or_default();
        let stderr = std::fs::read(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        Output {
            status,
            stdout,
            stderr,
        }
    }

    /// Runs rind and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rind {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs rind and asserts failure with exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "rind {args:?} should fail with 1; stdout: {} stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `rind run --bundle <b> <id>`, returning its output.
    pub fn run_bundle(&self, b: &Bundle, id: &str) -> Output {
        b.write();
        self.run(&["run", "--bundle", b.path().to_str().unwrap(), id])
    }

    /// Runs the bundle and asserts exit 0; returns stdout.
    pub fn output_of(&self, b: &Bundle) -> String {
        let id = unique("c");
        let out = self.run_bundle(b, &id);
        assert!(
            out.status.success(),
            "container failed ({}): stdout: {} stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `rind create` of the bundle as `id`, asserting success.
    pub fn create(&self, b: &Bundle, id: &str) {
        b.write();
        self.ok(&["create", "--bundle", b.path().to_str().unwrap(), id]);
    }

    /// The parsed `rind state`.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Waits until the container exists and reaches `status` (panics after 10 s).
    pub fn wait_status(&self, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.run(&["state", id]);
            let s = serde_json::from_slice::<Value>(&out.stdout)
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_string))
                .unwrap_or_else(|| "absent".into());
            if s == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} stuck in {s}, want {status}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids = Command::new(rind_bin())
            .arg("--root")
            .arg(self.root.path())
            .args(["list", "-q"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new(rind_bin())
                .arg("--root")
                .arg(self.root.path())
                .args(["delete", "--force", id])
                .output();
        }
    }
}

/// The target of `/proc/self/ns/<name>` on the host, e.g. `net:[4026531840]`.
pub fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// True if a process with this pid exists (zombies included).
pub fn pid_exists(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
