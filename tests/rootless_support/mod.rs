//! A throwaway ordinary user for the rootless tests, and rind (or runc) run as that user.
//!
//! Each [`TestUser`] is made with `useradd` (which gives it fresh subordinate ranges in
//! `/etc/subuid` and `/etc/subgid`) and a private `XDG_RUNTIME_DIR`; where there is no
//! `useradd` (the VM guest, which has busybox and `newuidmap`/`newgidmap`), by writing its
//! lines into `/etc/passwd`, `/etc/group`, `/etc/subuid` and `/etc/subgid`. Commands run as
//! the user after `setgroups`, `setgid` and `setuid` in the child, which drop every
//! capability on the way: no sudo, no privilege left. On drop (a failed assertion included),
//! the user's containers are deleted, any process left with its uid or one of its subordinate
//! uids is killed by pid, and the user, its ranges, its home and its runtime directory are
//! removed.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use serde_json::Value;

use crate::common::{self, TempDir};

/// useradd and userdel lock /etc/passwd and give up when another holds it, and the guest's
/// hand-written accounts are read-modify-write: one at a time.
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
    /// Made by writing the account files (no useradd): removed the same way.
    by_hand: bool,
}

fn run_root(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

fn subid_range(file: &str, name: &str) -> (u32, u32) {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && f[0] == name).then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("{name} has no range in {file}"))
}

/// Appends `line` to the account file `path` (made if missing).
fn append_line(path: &str, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    writeln!(f, "{line}").unwrap();
}

/// Removes the lines of `name` (its first field) from the account file `path`.
fn remove_lines(path: &str, name: &str) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let prefix = format!("{name}:");
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, kept).unwrap();
}

/// The first id above every id `file` (passwd or group: field 3; subuid: start + count)
/// uses, at least `floor`.
fn next_free(file: &str, floor: u32, ranges: bool) -> u32 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if ranges {
                let (a, n) = (
                    f.get(1)?.parse::<u32>().ok()?,
                    f.get(2)?.parse::<u32>().ok()?,
                );
                Some(a + n)
            } else {
                f.get(2)?
                    .parse::<u32>()
                    .ok()
                    .filter(|&u| u < 60000)
                    .map(|u| u + 1)
            }
        })
        .fold(floor, u32::max)
}

impl TestUser {
    /// A new user, or None (the test then returns, recorded as skipped) where a tool it needs
    /// is missing.
    pub fn new() -> Option<TestUser> {
        common::require_root();
        for tool in ["newuidmap", "newgidmap"] {
            if !common::require_tool(tool) {
                return None;
            }
        }
        Some(Self::create())
    }

    fn create() -> TestUser {
        // A short, unique login name (at most 32 characters, starting with a letter).
        let name = common::unique("rl").replace('-', "");
        let by_hand = !on_path("useradd");
        let _one = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let (uid, gid, home) = if by_hand {
            Self::create_by_hand(&name)
        } else {
            let out = run_root("useradd", &["-m", "-s", "/bin/sh", &name]);
            assert!(
                out.status.success(),
                "useradd {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let id = |flag: &str| -> u32 {
                let out = run_root("id", &[flag, &name]);
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            (id("-u"), id("-g"), PathBuf::from(format!("/home/{name}")))
        };
        let xdg = std::env::temp_dir().join(format!("rind-test-xdg-{name}"));
        let user = TestUser {
            subuid: subid_range("/etc/subuid", &name),
            subgid: subid_range("/etc/subgid", &name),
            name,
            uid,
            gid,
            home,
            xdg,
            by_hand,
        };
        std::fs::create_dir(&user.xdg).unwrap();
        std::os::unix::fs::chown(&user.xdg, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&user.xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
        user
    }

    /// What useradd does, by hand: a uid and gid above those in use (from 2000), a range of
    /// 65536 ids above every range in use (from 100000), a home of its own.
    fn create_by_hand(name: &str) -> (u32, u32, PathBuf) {
        let uid = next_free("/etc/passwd", 2000, false);
        let gid = next_free("/etc/group", 2000, false);
        let home = std::env::temp_dir().join(format!("rind-test-home-{name}"));
        append_line(
            "/etc/passwd",
            &format!("{name}:x:{uid}:{gid}::{}:/bin/sh", home.display()),
        );
        append_line("/etc/group", &format!("{name}:x:{gid}:"));
        for file in ["/etc/subuid", "/etc/subgid"] {
            let start = next_free(file, 100000, true);
            append_line(file, &format!("{name}:{start}:65536"));
        }
        std::fs::create_dir(&home).unwrap();
        std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        (uid, gid, home)
    }

    /// `prog args...` as this user, with a login-like environment and no capabilities: the
    /// child sets its groups, gid and uid before it runs `prog`, and a uid change away from
    /// root clears every capability set.
    pub fn command(&self, prog: &Path, args: &[&str]) -> Command {
        self.command_in(None, prog, args)
    }

    /// [`command`](Self::command), started in the cgroup `cgroup` (the child moves itself
    /// there while still root), as a login session in a delegated subtree is.
    pub fn command_in_cgroup(&self, cgroup: &Path, prog: &Path, args: &[&str]) -> Command {
        self.command_in(Some(cgroup), prog, args)
    }

    fn command_in(&self, cgroup: Option<&Path>, prog: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(prog);
        c.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env(
                "PATH",
                "/rind/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            )
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        let (uid, gid) = (self.uid, self.gid);
        let procs = cgroup
            .map(|d| std::ffi::CString::new(d.join("cgroup.procs").to_str().unwrap()).unwrap());
        // SAFETY: the closure makes only async-signal-safe system calls and allocates nothing.
        unsafe {
            c.pre_exec(move || {
                if let Some(procs) = &procs {
                    let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let r = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let e = std::io::Error::last_os_error();
                    libc::close(fd);
                    if r != 1 {
                        return Err(e);
                    }
                }
                let groups = [gid];
                if libc::setgroups(1, groups.as_ptr()) != 0
                    || libc::setresgid(gid, gid, gid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
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

    /// Gives `path` and everything under it to the user (`chown -R`).
    pub fn give(&self, path: &Path) {
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "chown -R {}", path.display());
    }

    /// A bundle owned by this user: the busybox rootfs and the config `rind spec --rootless`
    /// writes for it, running `sh -c script` without a terminal.
    pub fn bundle(&self, script: &str) -> UserBundle {
        let dir = TempDir::new("rl-bundle");
        common::copy_busybox_rootfs(&dir.path().join("rootfs"));
        self.give(dir.path());
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
        if self.by_hand {
            for file in ["/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"] {
                remove_lines(file, &self.name);
            }
            let _ = std::fs::remove_dir_all(&self.home);
            return;
        }
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

/// An OCI layout the user owns: a copy of the fixture layout (tags `busybox` and
/// `whiteouts`), which rind reads as that user.
pub struct UserLayout {
    _dir: TempDir,
    path: PathBuf,
}

impl UserLayout {
    /// The source reference of `tag`: `oci:DIR:TAG`.
    pub fn source(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.path.display())
    }

    /// The name rind stores `tag` under (`localhost/<layout dir>:TAG`).
    pub fn stored(&self, tag: &str) -> String {
        format!(
            "localhost/{}:{tag}",
            self.path.file_name().unwrap().to_str().unwrap()
        )
    }
}

impl TestUser {
    /// The fixture OCI layout, copied and given to the user.
    pub fn layout(&self) -> UserLayout {
        let dir = TempDir::new("rl-layout");
        let path = dir.path().join(common::unique("oci"));
        let st = Command::new("cp")
            .arg("-a")
            .arg(common::fixtures().join("images/oci"))
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success());
        self.give(dir.path());
        UserLayout { _dir: dir, path }
    }

    /// The image store rind uses for this user by default.
    pub fn store(&self) -> PathBuf {
        self.home.join(".local/share/rind")
    }

    /// Whether the filesystem of the user's home takes `user.` extended attributes, which a
    /// store without host privilege marks opaque directories with (tmpfs has them from Linux
    /// 6.6; the VM guest's home is on tmpfs of Linux 6.1).
    pub fn home_has_user_xattrs(&self) -> bool {
        let probe = self.home.join(".rind-xattr-probe");
        std::fs::write(&probe, b"").unwrap();
        let c = std::ffi::CString::new(probe.to_str().unwrap()).unwrap();
        // SAFETY: valid C strings and a valid buffer of the given length.
        let r = unsafe {
            libc::setxattr(
                c.as_ptr(),
                c"user.rind-probe".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        let _ = std::fs::remove_file(&probe);
        r == 0
    }

    /// Removes the user's lines from /etc/subuid and /etc/subgid: it then has no subordinate
    /// ids.
    pub fn drop_ranges(&self) {
        let _one = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for file in ["/etc/subuid", "/etc/subgid"] {
            remove_lines(file, &self.name);
        }
    }

    /// Gives the user new ranges of 65536 ids in /etc/subuid and /etc/subgid, above every range
    /// in use (its old ones are removed).
    pub fn move_ranges(&mut self) {
        let _one = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for file in ["/etc/subuid", "/etc/subgid"] {
            let start = next_free(file, 100000, true);
            remove_lines(file, &self.name);
            append_line(file, &format!("{}:{start}:65536", self.name));
        }
        self.subuid = subid_range("/etc/subuid", &self.name);
        self.subgid = subid_range("/etc/subgid", &self.name);
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

/// A cgroup v2 subtree delegated to a user, as systemd's `Delegate=yes` or an administrator's
/// `chown` makes one: a directory below the test's own cgroup with memory, pids, cpu and io
/// enabled for its children, owned by the user (with its `cgroup.procs`,
/// `cgroup.subtree_control` and `cgroup.threads`), and a `session` leaf where the user's
/// commands start. rind then puts a container's cgroup beside `session` (under the parent of
/// its own cgroup). On drop, everything in the subtree is killed and the subtree removed.
pub struct Delegated {
    pub dir: PathBuf,
    pub session: PathBuf,
}

/// The controllers a delegated subtree gets.
pub const DELEGATED_CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "io"];

impl Delegated {
    /// A subtree for `u`, or None (a skip recorded) on a host where it cannot be made: not
    /// pure cgroup v2 (the VM suite runs these tests), or the test's own cgroup cannot offer
    /// the controllers.
    pub fn new(u: &TestUser) -> Option<Delegated> {
        if !common::cgroup_v2() {
            common::skip(
                "a delegated cgroup v2 subtree needs a pure cgroup v2 host (scripts/vm-test.sh runs this)",
            );
            return None;
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup2 line in /proc/self/cgroup");
        let base = Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/'));
        let dir = base.join(common::unique("rl-deleg"));
        std::fs::create_dir(&dir).unwrap();
        let d = Delegated {
            session: dir.join("session"),
            dir,
        };
        let available = std::fs::read_to_string(d.dir.join("cgroup.controllers")).unwrap();
        for c in DELEGATED_CONTROLLERS {
            let enabled = available.split_whitespace().any(|a| a == c)
                && std::fs::write(d.dir.join("cgroup.subtree_control"), format!("+{c}")).is_ok();
            if !enabled {
                common::skip(&format!(
                    "the {c} controller cannot be enabled below {} (the test's own cgroup)",
                    base.display()
                ));
                return None;
            }
        }
        std::fs::create_dir(&d.session).unwrap();
        let chown = |p: &Path| std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid)).unwrap();
        for p in [&d.dir, &d.session] {
            chown(p);
            for f in ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
                chown(&p.join(f));
            }
        }
        Some(d)
    }

    /// The container `id`'s cgroup directory when rind places it by its id.
    pub fn container(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        if !self.dir.exists() {
            return;
        }
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
        fn remove(dir: &Path) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        remove(&e.path());
                    }
                }
            }
            for _ in 0..200 {
                match std::fs::remove_dir(dir) {
                    Ok(()) => return,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(10))
                    }
                    Err(e) => {
                        eprintln!("remove {}: {e}", dir.display());
                        return;
                    }
                }
            }
        }
        remove(&self.dir);
    }
}

impl TestUser {
    /// rind as this user, started in the delegated subtree's session cgroup.
    pub fn rind_in(&self, d: &Delegated, args: &[&str]) -> Output {
        self.output(self.command_in_cgroup(&d.session, &common::rind_bin(), args))
    }

    /// [`rind_in`](Self::rind_in), which must succeed; its stdout.
    pub fn rind_in_ok(&self, d: &Delegated, args: &[&str]) -> String {
        let out = self.rind_in(d, args);
        assert!(
            out.status.success(),
            "rind {args:?} as {} in {} failed ({}): {}",
            self.name,
            d.session.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
