//! What rind keeps about an image container beside its bundle: `run.json` (written once, when
//! the bundle is made) and `exit.json` (written when the exit code is known), and the lock
//! that serialises setting up and removing a bundle.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::ShellError;
use super::bundle::Network;
use crate::container::State;
use crate::sys::{Durability, write_atomic};

const RECORD_FILE: &str = "run.json";
const EXIT_FILE: &str = "exit.json";

/// Writes `data` to `path` through a temporary file and a rename, so readers see the old
/// content or the new, never a part. Unlike the image store's writes it does not sync: a
/// bundle does not outlive a crash in any useful way (the container's state is on tmpfs), and
/// the two syncs (config.json, run.json) would be most of a `run`'s cost on a disk (see
/// docs/benchmarks.md).
pub fn write_replace(path: &Path, data: &[u8]) -> Result<(), ShellError> {
    Ok(write_atomic(path, data, 0o666, Durability::Volatile)?)
}

/// An image container's record (`<bundle>/run.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The container's id (its name).
    pub id: String,
    /// The `--root` whose state directory holds the container.
    pub root: PathBuf,
    /// The bundle directory, which is also where this record lives.
    pub bundle: PathBuf,
    /// The image as the user named it, and the name it is stored under.
    pub image: String,
    pub image_name: String,
    /// The image id (its config digest).
    pub image_id: String,
    /// The process's arguments.
    pub command: Vec<String>,
    /// Remove the container once it stops (`--rm`).
    pub rm: bool,
    pub detached: bool,
    pub network: Network,
    /// RFC 3339 time the bundle was made.
    pub created: String,
}

/// How a container's process ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Exit {
    /// The exit code, or 128 + n for a kill by signal n.
    pub code: i32,
    /// RFC 3339 time it was seen.
    pub finished: String,
}

fn bad(what: &'static str, path: &Path, reason: impl ToString) -> ShellError {
    ShellError::Record {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    path: &Path,
) -> Result<Option<T>, ShellError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| bad(what, path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(bad(what, path, crate::error::Cause::from(e))),
    }
}

impl Record {
    /// Reads the record in `bundle`; `None` when there is none.
    pub fn load(bundle: &Path) -> Result<Option<Record>, ShellError> {
        read_json("read", &bundle.join(RECORD_FILE))
    }

    /// The record of the container whose state this is, if rind made its bundle: the record in
    /// the state's bundle must name the same id and bundle, so a runc-style bundle that happens
    /// to hold a `run.json` is never taken for one (and never removed by `rm`).
    pub fn for_state(state: &State) -> Option<Record> {
        let r = Record::load(&state.bundle).ok()??;
        (r.id == state.id && r.bundle == state.bundle).then_some(r)
    }

    pub fn save(&self) -> Result<(), ShellError> {
        let path = self.bundle.join(RECORD_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| bad("write", &path, e))?;
        write_replace(&path, &json)
    }

    /// The log file of a detached container (`None` for one that ran in the foreground).
    pub fn log_path(&self) -> Option<PathBuf> {
        self.detached.then(|| self.bundle.join(super::LOG_FILE))
    }

    /// The exit code, once a monitor or a foreground `run` has seen it.
    pub fn exit(&self) -> Result<Option<Exit>, ShellError> {
        read_json("read", &self.bundle.join(EXIT_FILE))
    }

    /// Records the exit code.
    pub fn save_exit(&self, code: i32) -> Result<(), ShellError> {
        let path = self.bundle.join(EXIT_FILE);
        let exit = Exit {
            code,
            finished: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let json = serde_json::to_vec(&exit).map_err(|e| bad("write", &path, e))?;
        write_replace(&path, &json)
    }
}

/// An exclusive `flock` on a bundle directory, held while the bundle is set up (until the
/// container has started) and while it is removed, so that `rm`, `stop --rm`, a monitor and the
/// sweep of `run --image` and `rm` never remove the same bundle at once or one still being made.
pub struct BundleLock {
    file: File,
}

impl BundleLock {
    /// Blocks until the lock is held. `None` when the directory no longer exists.
    pub fn acquire(dir: &Path) -> Result<Option<BundleLock>, ShellError> {
        let file = match File::open(dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad("open", dir, crate::error::Cause::from(e))),
        };
        loop {
            // SAFETY: flock on a valid, owned descriptor.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            match Errno::result(r) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(bad("lock", dir, crate::error::errno_text(e))),
            }
        }
        // Removed while we waited: the holder took it away.
        if nix::sys::stat::stat(dir).is_err() {
            return Ok(None);
        }
        Ok(Some(BundleLock { file }))
    }

    /// The descriptor, so a forked monitor can keep holding the lock after its parent lets go.
    pub fn fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bundle: &Path) -> Record {
        Record {
            id: "calm_otter".into(),
            root: "/run/rind".into(),
            bundle: bundle.to_path_buf(),
            image: "busybox".into(),
            image_name: "localhost/busybox:latest".into(),
            image_id: "sha256:00".into(),
            command: vec!["sh".into()],
            rm: true,
            detached: true,
            network: Network::None,
            created: "2024-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn record_and_exit_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let r = record(t.path());
        assert!(Record::load(t.path()).unwrap().is_none());
        r.save().unwrap();
        assert_eq!(Record::load(t.path()).unwrap().unwrap(), r);
        assert!(r.exit().unwrap().is_none());
        r.save_exit(137).unwrap();
        assert_eq!(r.exit().unwrap().unwrap().code, 137);
        assert_eq!(r.log_path().unwrap(), t.path().join("container.log"));
    }

    #[test]
    fn a_record_for_another_id_does_not_claim_the_bundle() {
        let t = tempfile::tempdir().unwrap();
        record(t.path()).save().unwrap();
        let state = |id: &str, bundle: &Path| State {
            oci_version: "1.2.0".into(),
            id: id.into(),
            pid: 0,
            init_start_time: 0,
            bundle: bundle.to_path_buf(),
            rootfs: bundle.join("rootfs"),
            created: String::new(),
            owner: String::new(),
            annotations: Default::default(),
            cgroup: crate::cgroups::CgroupPaths::V2 { dir: "/x".into() },
            create_finished: true,
            private_pid_ns: true,
            systemd: None,
        };
        assert!(Record::for_state(&state("calm_otter", t.path())).is_some());
        assert!(Record::for_state(&state("other", t.path())).is_none());
    }

    #[test]
    fn lock_on_a_missing_directory_is_none() {
        let t = tempfile::tempdir().unwrap();
        assert!(
            BundleLock::acquire(&t.path().join("gone"))
                .unwrap()
                .is_none()
        );
        assert!(BundleLock::acquire(t.path()).unwrap().is_some());
    }
}
