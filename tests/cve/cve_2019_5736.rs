//! CVE-2019-5736: overwriting the runtime's binary from inside the container. The container's
//! program (or a binary it planted for `exec`) is a script whose interpreter is
//! `/proc/self/exe`; the kernel then runs, as a container process, whatever the process that
//! executes the script runs: the runtime's binary if the runtime executes it itself. A second
//! container process opens that process's `/proc/<pid>/exe`, kills it, and writes through the
//! descriptor once the binary is no longer busy: the host's next runtime call runs the
//! attacker's code.
//!
//! The runtime here is a copy of rind in a temporary directory (so a successful attack harms
//! nothing else); the test fails if the copy changed or if the attacker reports a write.
//! rind's defences: init reaches its program through the sealed exec stub, or re-executes
//! itself from a read-only view (or a sealed memfd) first, as `exec` always does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::attacker;
use crate::common::*;

/// A copy of rind, and the bytes it started with.
struct RuntimeCopy {
    _dir: TempDir,
    bin: PathBuf,
    original: Vec<u8>,
}

impl RuntimeCopy {
    fn new() -> Self {
        let dir = TempDir::new("cve-2019-5736-bin");
        let bin = dir.path().join("rind");
        std::fs::copy(rind_bin(), &bin).unwrap();
        let original = std::fs::read(&bin).unwrap();
        RuntimeCopy {
            _dir: dir,
            bin,
            original,
        }
    }

    /// Runs the copy with `--root` of `rt` and `args`; output through files (a detached
    /// container keeps the runtime's stdio).
    fn run(&self, rt: &Runtime, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(rt.root.path())
            .args(args)
            .stdin(Stdio::null());
        output_through_files(cmd, rt.root.path())
    }

    fn ok(&self, rt: &Runtime, args: &[&str]) {
        let out = self.run(rt, args);
        assert!(
            out.status.success(),
            "rind {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn assert_intact(&self, result: &str) {
        assert!(
            !result.contains("wrote "),
            "the container wrote to a binary:\n{result}"
        );
        let now = std::fs::read(&self.bin).unwrap();
        assert!(
            now == self.original,
            "the runtime's binary changed on the host:\n{result}"
        );
    }
}

/// A script whose interpreter is the executing process's own binary.
fn plant_evil(rootfs: &Path, at: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = rootfs.join(at.trim_start_matches('/'));
    std::fs::write(&path, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Through `exec`: the attacker is the container's process; the admin keeps running
/// `exec ID /bin/evil`.
#[test]
fn exec_of_a_proc_self_exe_script_cannot_overwrite_the_runtime() {
    let rt = Runtime::new();
    let copy = RuntimeCopy::new();
    let mut b = Bundle::new();
    attacker::install(&b.rootfs());
    plant_evil(&b.rootfs(), "/bin/evil");
    b.config["process"]["args"] = json!(["/attacker", "exe-writer", "6", "/result"]);
    b.write();
    let id = unique("c5736");
    copy.ok(
        &rt,
        &["run", "-d", "--bundle", b.path().to_str().unwrap(), &id],
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut execs = 0;
    while Instant::now() < deadline {
        let _ = copy.run(&rt, &["exec", &id, "/bin/evil"]);
        execs += 1;
    }
    let result = attacker::wait_result(&b.rootfs().join("result"), Duration::from_secs(20));
    eprintln!("{execs} execs; attacker:\n{result}");
    copy.assert_intact(&result);
    copy.ok(&rt, &["delete", "--force", &id]);
}

/// Through init, without the exec stub: the container joins the PID namespace of another,
/// whose process is the attacker, so init re-executes itself sealed; its program is
/// `#!/proc/self/exe`.
#[test]
fn init_running_a_proc_self_exe_script_cannot_overwrite_the_runtime() {
    let rt = Runtime::new();
    let copy = RuntimeCopy::new();
    let mut a = Bundle::new();
    attacker::install(&a.rootfs());
    a.config["process"]["args"] = json!(["/attacker", "exe-writer", "6", "/result"]);
    a.write();
    let attacker_id = unique("c5736");
    copy.ok(
        &rt,
        &[
            "run",
            "-d",
            "--bundle",
            a.path().to_str().unwrap(),
            &attacker_id,
        ],
    );
    let pid = rt.state(&attacker_id)["pid"].as_i64().unwrap();

    let mut b = Bundle::new();
    plant_evil(&b.rootfs(), "/evil");
    b.config["process"]["args"] = json!(["/evil"]);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
        }
    }
    b.write();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut runs = 0;
    while Instant::now() < deadline {
        let id = unique("c5736");
        let _ = copy.run(&rt, &["run", "--bundle", b.path().to_str().unwrap(), &id]);
        let _ = copy.run(&rt, &["delete", "--force", &id]);
        runs += 1;
    }
    let result = attacker::wait_result(&a.rootfs().join("result"), Duration::from_secs(20));
    eprintln!("{runs} runs; attacker:\n{result}");
    copy.assert_intact(&result);
    copy.ok(&rt, &["delete", "--force", &attacker_id]);
}

/// Through init with the exec stub (a PID namespace of its own): the attacker is exec'd into
/// the created container before `start`; the script then has the stub as its interpreter.
#[test]
fn init_through_the_stub_running_a_proc_self_exe_script_cannot_overwrite_anything() {
    let rt = Runtime::new();
    let copy = RuntimeCopy::new();
    let mut b = Bundle::new();
    attacker::install(&b.rootfs());
    plant_evil(&b.rootfs(), "/evil");
    b.config["process"]["args"] = json!(["/evil"]);
    b.write();
    let id = unique("c5736");
    copy.ok(
        &rt,
        &["create", "--bundle", b.path().to_str().unwrap(), &id],
    );
    copy.ok(
        &rt,
        &["exec", "-d", &id, "/attacker", "exe-writer", "3", "/result"],
    );
    // Let the attacker start scanning, then release init.
    std::thread::sleep(Duration::from_millis(200));
    copy.ok(&rt, &["start", &id]);
    let result = attacker::wait_result(&b.rootfs().join("result"), Duration::from_secs(20));
    eprintln!("attacker:\n{result}");
    copy.assert_intact(&result);
    assert!(
        attacker::counter(&result, "seen") > 0,
        "the attacker never saw init's program: {result}"
    );
    copy.ok(&rt, &["delete", "--force", &id]);
}
