//! A throwaway ordinary user for the rootless tests, and rind (or runc) run as that user.
//!
//! Each [`TestUser`] is made with `useradd` (which gives it fresh subordinate ranges in
//! `/etc/subuid` and `/etc/subgid`) and a private `XDG_RUNTIME_DIR`. Commands run as the user
//! through `setpriv`, which drops every capability on the way: no sudo, no privilege left. On
//! drop (a failed assertion included), the user's containers are deleted, any process left
//! with its uid or one of its subordinate uids is killed by pid, and the user, its ranges, its
//! home and its runtime directory are removed.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use serde_json::Value;

use crate::common::{self, TempDir};

/// useradd and userdel lock /etc/passwd and give up when another holds it: one at a time.
static ACCOUNTS: Mutex<()> = Mutex::new(());

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub xdg: PathBuf,
    /// First id and count of its ranges in /etc/subuid and /etc/subgid.
    pub subuid: (u32, u32),
    pub subgid: (u32, u32),
}

fn run_root(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"))
}

fn subid_range(file: &str, name: &str) -> (u32, u32) {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && f[0] == name).then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("useradd gave {name} no range in {file}"))
}

impl TestUser {
    /// A new user, or None (the test then returns) in the VM guest, which has none of the
    /// account tools: the host part runs these tests in full.
    pub fn new() -> Option<TestUser> {
        common::require_root();
        for tool in [
            "useradd",
            "userdel",
            "setpriv",
            "newuidmap",
            "newgidmap",
            "runc",
        ] {
            if !common::require_tool(tool) {
                return None;
            }
        }
        Some(Self::create())
    }

    fn create() -> TestUser {
        // A short, unique login name (at most 32 characters, starting with a letter).
        let name = common::unique("rl").replace('-', "");
        {
            let _one = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
            let out = run_root("useradd", &["-m", "-s", "/bin/sh", &name]);
            assert!(
                out.status.success(),
                "useradd {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let id = |flag: &str| -> u32 {
            let out = run_root("id", &[flag, &name]);
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        let home = PathBuf::from(format!("/home/{name}"));
        let xdg = std::env::temp_dir().join(format!("rind-test-xdg-{name}"));
        let user = TestUser {
            subuid: subid_range("/etc/subuid", &name),
            subgid: subid_range("/etc/subgid", &name),
            name,
            uid,
            gid,
            home,
            xdg,
        };
        std::fs::create_dir(&user.xdg).unwrap();
        std::os::unix::fs::chown(&user.xdg, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&user.xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
        user
    }

    /// `prog args...` as this user, with a login-like environment and no capabilities.
    pub fn command(&self, prog: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(prog)
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        c
    }

    /// Runs a command and captures its output through files: a container's init inherits
    /// stdio, and a pipe it holds would never reach end-of-file.
    pub fn output(&self, mut c: Command) -> Output {
        let dir = TempDir::new("rl-out");
        let (o, e) = (dir.path().join("out"), dir.path().join("err"));
        let status = c
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&o).unwrap_or_default(),
            stderr: std::fs::read(&e).unwrap_or_default(),
        }
    }

    /// rind as this user.
    pub fn rind(&self, args: &[&str]) -> Output {
        self.output(self.command(&common::rind_bin(), args))
    }

    /// rind as this user, which must succeed; its stdout.
    pub fn rind_ok(&self, args: &[&str]) -> String {
        let out = self.rind(args);
        assert!(
            out.status.success(),
            "rind {args:?} as {} failed ({}): {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// rind as this user, which must fail with exit code 1; its stderr.
    pub fn rind_fails(&self, args: &[&str]) -> String {
        let out = self.rind(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "rind {args:?} as {} should fail; stdout: {} stderr: {}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The state directory rind uses for this user by default.
    pub fn state_root(&self) -> PathBuf {
        self.xdg.join("rind")
    }

    /// A bundle owned by this user: the busybox rootfs and the config `rind spec --rootless`
    /// writes for it, running `sh -c script` without a terminal.
    pub fn bundle(&self, script: &str) -> UserBundle {
        let dir = TempDir::new("rl-bundle");
        let src = common::fixtures().join("busybox/rootfs");
        assert!(src.join("bin/busybox").exists(), "busybox fixture missing");
        let st = Command::new("cp")
            .arg("-a")
            .arg(&src)
            .arg(dir.path().join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success());
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success());
        let b = dir.path().to_str().unwrap().to_string();
        self.rind_ok(&["spec", "--rootless", "--no-terminal", "--bundle", &b]);
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let mut config: Value = serde_json::from_str(&text).unwrap();
        config["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        config["root"]["readonly"] = serde_json::json!(false);
        let bundle = UserBundle { dir, config };
        bundle.write();
        bundle
    }

    /// The pids of every process running as this user or one of its subordinate uids.
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
                continue;
            };
            let ruid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|u| u.parse::<u32>().ok());
            if let Some(u) = ruid
                && (u == self.uid || (u >= self.subuid.0 && u < self.subuid.0 + self.subuid.1))
            {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let list = self.rind(&["list", "-q"]);
        for id in String::from_utf8_lossy(&list.stdout).lines() {
            let _ = self.rind(&["delete", "--force", id.trim()]);
        }
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for _ in 0..100 {
            if self.pids().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.xdg);
        let _one = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let out = run_root("userdel", &["-r", &self.name]);
        if !out.status.success() {
            eprintln!(
                "userdel {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A bundle that a test user owns.
pub struct UserBundle {
    pub dir: TempDir,
    pub config: Value,
}

impl UserBundle {
    pub fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
    pub fn write(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_string_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}
