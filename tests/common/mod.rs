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

mod mountinfo;
mod skip;
mod tree;
#[allow(unused_imports)] // not every test file uses the mount helpers
pub use mountinfo::*;
#[allow(unused_imports)]
pub use skip::*;
#[allow(unused_imports)] // only the comparison tests walk trees
pub use tree::*;

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

/// Runs `cmd` and captures its output. Output goes through files in `dir`, not pipes: a
/// container's init inherits rind's stdio, and a pipe it holds would never reach EOF.
pub fn output_through_files(mut cmd: Command, dir: &Path) -> Output {
    let out_path = dir.join(format!(".out-{}", unique("o")));
    let err_path = dir.join(format!(".err-{}", unique("e")));
    let status = cmd
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    out
}

/// Asserts that `rind args` exited 0; returns its stdout.
pub fn expect_success(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "rind {args:?} failed ({}): stdout: {} stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that `rind args` exited 1; returns its stderr.
pub fn expect_failure(args: &[&str], out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "rind {args:?} should fail with 1; stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
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
        copy_busybox_rootfs(&dir.path().join("rootfs"));
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
    /// Grants `cap` (bounding, effective and permitted) beside the default ones.
    pub fn add_capability(&mut self, cap: &str) {
        for set in ["bounding", "effective", "permitted"] {
            self.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!(cap));
        }
    }

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

    /// Runs rind with `args` and captures its output (through files: [`output_through_files`]).
    pub fn run(&self, args: &[&str]) -> Output {
        output_through_files(self.command(args), self.root.path())
    }

    /// Runs rind and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        expect_success(args, &self.run(args))
    }

    /// Runs rind and asserts failure with exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        expect_failure(args, &self.run(args))
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

// ---- Additions for the namespace, mount, device, process, hook, error and cgroup tests ----

impl Bundle {
    /// Replaces the namespace list with new namespaces of these types.
    pub fn set_namespaces(&mut self, types: &[&str]) {
        self.config["linux"]["namespaces"] =
            Value::Array(types.iter().map(|t| json!({ "type": t })).collect());
    }

    /// Adds a bind mount of a host path.
    pub fn add_bind(&mut self, source: &Path, destination: &str, options: &[&str]) {
        let mut opts = vec!["bind"];
        opts.extend_from_slice(options);
        self.add_mount(json!({
            "destination": destination,
            "type": "bind",
            "source": source,
            "options": opts,
        }));
    }

    /// Adds a user namespace mapping container ids 0.. to host `uid`/`gid`.., and hands the
    /// rootfs to the mapped root, as engines do, so that mount targets can be created in it.
    pub fn add_user_namespace(&mut self, uid: u32, gid: u32, size: u32) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        self.config["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": uid, "size": size}]);
        self.config["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": gid, "size": size}]);
        let st = Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(self.rootfs())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Adds a writable tmpfs at `destination` (the default root is read-only).
    pub fn add_tmpfs(&mut self, destination: &str) {
        self.add_mount(json!({
            "destination": destination,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"],
        }));
    }
}

impl Runtime {
    /// Runs the bundle, asserts exit 0, and returns (stdout, stderr).
    pub fn outputs_of(&self, b: &Bundle) -> (String, String) {
        let id = unique("c");
        let out = self.run_bundle(b, &id);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "container failed ({}): stdout: {stdout} stderr: {stderr}",
            out.status
        );
        (stdout, stderr)
    }

    /// Runs the bundle as `id` and asserts that `run` fails with exit code 1; returns stderr.
    pub fn run_fails(&self, b: &Bundle, id: &str) -> String {
        let out = self.run_bundle(b, id);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "run should fail with 1; stdout: {} stderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// The container's `state.json` as rind stored it (holds the `cgroup` paths).
    pub fn stored_state(&self, id: &str) -> Value {
        let p = self.root.path().join(id).join("state.json");
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }

    /// Every cgroup directory of the container, from its stored state.
    pub fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        let paths: rind::cgroups::CgroupPaths =
            serde_json::from_value(self.stored_state(id)["cgroup"].clone()).unwrap();
        cgroup_dirs(&paths)
    }
}

/// Every directory of a cgroup, in all hierarchies.
pub fn cgroup_dirs(paths: &rind::cgroups::CgroupPaths) -> Vec<PathBuf> {
    match paths {
        rind::cgroups::CgroupPaths::V1 {
            controllers,
            unified,
        } => controllers
            .values()
            .cloned()
            .chain(unified.iter().cloned())
            .collect(),
        rind::cgroups::CgroupPaths::V2 { dir } => vec![dir.clone()],
    }
}

/// The cgroup directories `rind create` would use for `id` without a `cgroupsPath` (the test
/// runs in the same cgroup as the rind it starts).
pub fn default_cgroup_dirs(id: &str) -> Vec<PathBuf> {
    cgroup_dirs(&rind::cgroups::resolve(None, id).unwrap().paths())
}

/// True when /sys/fs/cgroup is a cgroup2 mount (a pure v2 host, as in the VM).
pub fn cgroup_v2() -> bool {
    matches!(
        rind::cgroups::MountInfo::read_self().unwrap().layout(),
        rind::cgroups::Layout::Unified
    )
}

/// Pids of live (non-zombie) processes whose command line contains `needle` as one argument.
/// A container's init is a clone of rind, so until it execs its command line is rind's, which
/// names the container id.
pub fn processes_with_arg(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true);
        if !zombie && cmdline.split(|b| *b == 0).any(|a| a == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// Polls `cond` every 10 ms until it holds; panics with `what` after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True if `pid` is gone or a zombie.
pub fn pid_dead(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z"))
        .unwrap_or(true)
}

/// Runs the bundle with `runc --root <private> run [flags] --bundle <b> ID` (the reference;
/// scripts/install-deps.sh installs it), output through files. None (a recorded skip) in the
/// VM guest, which has no runc.
pub fn runc_run(b: &Bundle, flags: &[&str]) -> Option<Output> {
    if !require_tool("runc") {
        return None;
    }
    // runc 1.1 checks the spec version it was built for; the fields used here are 1.0.
    let mut config = b.config.clone();
    config["ociVersion"] = json!("1.0.2");
    std::fs::write(
        b.path().join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let root = TempDir::new("runc-root");
    let mut cmd = Command::new("runc");
    cmd.arg("--root")
        .arg(root.path())
        .arg("run")
        .args(flags)
        .args(["--bundle", b.path().to_str().unwrap(), &unique("runc")])
        .stdin(Stdio::null());
    Some(output_through_files(cmd, root.path()))
}

/// Runs `bundle` with runc and returns its stdout, or None after recording a skip when runc
/// itself cannot run the bundle on this host (or is not there, in the VM guest).
pub fn runc_output(b: &Bundle) -> Option<String> {
    let out = runc_run(b, &[])?;
    if !out.status.success() {
        skip(&format!(
            "runc cannot run this bundle here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of a `Key:\tvalue` line of a /proc status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim()))
}

/// A seccomp agent's first step: waits (up to 10 s) for a connection on `socket`, and returns
/// the state document that arrives on it and the listener sent with it (`SCM_RIGHTS`).
pub fn seccomp_agent_accept(
    socket: &std::os::unix::net::UnixListener,
) -> (serde_json::Value, std::os::fd::OwnedFd) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd};
    let ready = nix::poll::poll(
        &mut [nix::poll::PollFd::new(
            socket.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )],
        nix::poll::PollTimeout::from(10_000u16),
    )
    .unwrap();
    assert_eq!(ready, 1, "nobody connected to the agent");
    let (stream, _) = socket.accept().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    let fd = match msg.cmsgs().unwrap().next() {
        Some(ControlMessageOwned::ScmRights(fds)) => fds[0],
        other => panic!("no descriptor came with the state: {other:?}"),
    };
    let len = msg.bytes;
    // SAFETY: the descriptor just arrived with the message; nothing else owns it.
    let listener = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    (serde_json::from_slice(&buf[..len]).unwrap(), listener)
}

/// Copies the busybox fixture's root filesystem to `dest` (owners and modes kept).
pub fn copy_busybox_rootfs(dest: &Path) {
    let src = fixtures().join("busybox/rootfs");
    assert!(
        src.join("bin/busybox").exists(),
        "busybox fixture missing at {}: run rootfs-fixtures/busybox-rootfs.sh",
        src.display()
    );
    let st = Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(dest)
        .status()
        .unwrap();
    assert!(st.success(), "copy rootfs to {}", dest.display());
}
