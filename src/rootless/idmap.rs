//! A rootless user's id maps: the caller's own ids written directly, wider ranges through
//! `newuidmap`/`newgidmap`.
//!
//! The kernel lets an unprivileged process write one line mapping its own effective uid (and,
//! once `setgroups` is `deny`, its own gid) into a child user namespace. Anything more needs
//! CAP_SETUID/CAP_SETGID in the parent namespace, which the setuid-root helpers from shadow
//! (Debian: `uidmap`) hold: they write a map only when every range lies in the caller's
//! entries of `/etc/subuid` or `/etc/subgid` (or is the caller's own id). rind checks the same
//! before it clones anything, so that a mapping the helper would refuse fails `create` with a
//! line naming the field, and runs the helper after the clone, when init waits for its maps
//! (see `process/launch.rs`).

use std::path::Path;
use std::process::Command;

use nix::unistd::Pid;
use oci_spec::runtime::LinuxIdMapping;

use super::RootlessError;
use crate::error::{Cause, StepContext, SysError};
use crate::linux::namespaces::id_map_text;

/// uid or gid: the field, the files and the helper that go with each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Uid => "linux.uidMappings",
            Kind::Gid => "linux.gidMappings",
        }
    }
    fn subid_file(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }
    fn own_id(self) -> u32 {
        match self {
            Kind::Uid => nix::unistd::geteuid().as_raw(),
            Kind::Gid => nix::unistd::getegid().as_raw(),
        }
    }
}

/// True when `maps` is the one mapping the kernel lets the caller write itself: its own id,
/// size 1.
pub fn is_own_id_only(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.size() == 1 && m.host_id() == own)
}

/// The caller's subordinate ranges (start, count) in a `/etc/subuid`-style text: the lines
/// whose first field is the user's name or uid.
pub fn subordinate_ranges(text: &str, name: &str, uid: u32) -> Vec<(u64, u64)> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            if owner != name && owner != uid {
                return None;
            }
            Some((start.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// Whether `m` may be written by the helper for a caller with id `own` and these ranges.
fn covered(m: &LinuxIdMapping, own: u32, ranges: &[(u64, u64)]) -> bool {
    let (start, size) = (m.host_id() as u64, m.size() as u64);
    if size == 1 && start == own as u64 {
        return true;
    }
    ranges
        .iter()
        .any(|&(s, n)| start >= s && start + size <= s + n)
}

/// The caller's effective uid and its user name ("" when the user database has none).
fn caller() -> (nix::unistd::Uid, String) {
    let euid = nix::unistd::geteuid();
    let name = nix::unistd::User::from_uid(euid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    (euid, name)
}

/// The mappings of a container `run --image` makes for the caller: its own id as root and,
/// when `/etc/subuid` (`/etc/subgid`) gives it a range and the helper is installed, that range
/// from id 1 up, as rootless podman maps them, so that an image's non-root users exist.
pub fn default_mappings(kind: Kind) -> Vec<(u32, u32, u32)> {
    let own = kind.own_id();
    let mut maps = vec![(0, own, 1)];
    let (euid, name) = caller();
    let text = std::fs::read_to_string(kind.subid_file()).unwrap_or_default();
    if let Some(&(start, count)) = subordinate_ranges(&text, &name, euid.as_raw()).first()
        && which(kind.helper()).is_some()
        && let (Ok(start), Ok(count)) = (u32::try_from(start), u32::try_from(count))
    {
        maps.push((1, start, count));
    }
    maps
}

/// Checks before the clone that each mapping can be written, naming the field and range that
/// cannot.
pub fn check_allowed(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<(), RootlessError> {
    let (euid, name) = caller();
    for (kind, maps) in [(Kind::Uid, uid), (Kind::Gid, gid)] {
        let own = kind.own_id();
        if is_own_id_only(maps, own) {
            continue;
        }
        let text = std::fs::read_to_string(kind.subid_file()).unwrap_or_default();
        let ranges = subordinate_ranges(&text, &name, euid.as_raw());
        for m in maps {
            if !covered(m, own, &ranges) {
                let (first, last) = (m.host_id() as u64, m.host_id() as u64 + m.size() as u64);
                let yours = if ranges.is_empty() {
                    format!("{} has no range for {name:?}", kind.subid_file())
                } else {
                    let list: Vec<String> = ranges
                        .iter()
                        .map(|(s, n)| format!("{s}-{}", s + n - 1))
                        .collect();
                    format!("{} gives {name:?} {}", kind.subid_file(), list.join(", "))
                };
                return Err(RootlessError::IdMap(format!(
                    "{}: host ids {first}-{} are neither your own id ({own}) nor in your subordinate ranges ({yours})",
                    kind.field(),
                    last - 1
                )));
            }
        }
        if which(kind.helper()).is_none() {
            return Err(RootlessError::IdMap(format!(
                "{}: mapping more than your own id needs {}, which is not installed (Debian package uidmap)",
                kind.field(),
                kind.helper()
            )));
        }
    }
    Ok(())
}

/// Writes the maps of `pid`'s new user namespace, from the runtime, as a user that is not root.
pub fn write(pid: Pid, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<(), SysError> {
    write_one(pid, Kind::Uid, uid)?;
    write_one(pid, Kind::Gid, gid)
}

fn write_one(pid: Pid, kind: Kind, maps: &[LinuxIdMapping]) -> Result<(), SysError> {
    let file = match kind {
        Kind::Uid => "uid_map",
        Kind::Gid => "gid_map",
    };
    if is_own_id_only(maps, kind.own_id()) {
        if kind == Kind::Gid {
            // The kernel takes an unprivileged gid_map only after setgroups is denied, so that
            // no one can drop a group that a file's permissions hold against them.
            crate::linux::procfs::write_pid(pid.as_raw(), "setgroups", b"deny")?;
        }
        return crate::linux::procfs::write_pid(pid.as_raw(), file, id_map_text(maps).as_bytes());
    }
    let mut cmd = Command::new(kind.helper());
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let step = || format!("write {file} of pid {pid} with {}", kind.helper());
    let out = cmd.output().step(step)?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let why = text.lines().last().unwrap_or("").trim().to_string();
        let why = if why.is_empty() {
            format!("{}", out.status)
        } else {
            why
        };
        return Err(SysError::new(step(), Cause::Other(why)));
    }
    Ok(())
}

/// The path of `prog` on `PATH`, if it is there.
fn which(prog: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        serde_json::from_value(serde_json::json!({"containerID": c, "hostID": h, "size": s}))
            .unwrap()
    }

    #[test]
    fn subordinate_ranges_match_by_name_or_uid() {
        let text = "alice:100000:65536\nbob:200000:65536\n1000:300000:10\n# x\n";
        assert_eq!(
            subordinate_ranges(text, "alice", 1000),
            vec![(100000, 65536), (300000, 10)]
        );
        assert!(subordinate_ranges(text, "carol", 1002).is_empty());
    }

    #[test]
    fn own_id_alone_needs_no_helper() {
        assert!(is_own_id_only(&[map(0, 1000, 1)], 1000));
        assert!(!is_own_id_only(&[map(0, 1000, 2)], 1000));
        assert!(!is_own_id_only(&[map(0, 1001, 1)], 1000));
        assert!(!is_own_id_only(
            &[map(0, 1000, 1), map(1, 100000, 10)],
            1000
        ));
    }

    #[test]
    fn a_range_must_lie_inside_one_subordinate_range() {
        let r = [(100000, 65536)];
        assert!(covered(&map(1, 100000, 65536), 1000, &r));
        assert!(!covered(&map(1, 100000, 65537), 1000, &r));
        assert!(!covered(&map(1, 99999, 2), 1000, &r));
        assert!(covered(&map(0, 1000, 1), 1000, &r));
        assert!(!covered(&map(0, 1000, 2), 1000, &r));
    }
}
