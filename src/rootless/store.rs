//! The image store of a user without host privilege: its operations run as root of a user
//! namespace that maps the user's ids, so that layers keep their owners.
//!
//! An ordinary user cannot give a file an owner other than itself. With a subordinate range
//! (`/etc/subuid`, `/etc/subgid`) and the setuid helpers `newuidmap`/`newgidmap`, it can make a
//! user namespace where it is root and its range is ids 1 and up, as rootless podman and
//! buildah do: there `chown` to any of those ids works, and the host sees the files owned by
//! the matching subordinate ids. A container `run --image` makes gets the same maps
//! (`idmap::default_mappings`), so it sees the image's owners.
//!
//! [`run`] forks a child that unshares a user and a mount namespace, waits until the parent
//! has written its maps (through the helpers), runs the operation and sends its result, and the
//! `--trace` steps it took, back over a pipe. The child's mount namespace, where a root's
//! overlayfs may be mounted to build a bundle, ends with it. Without a range the store's files
//! are simply the user's ([`Owners::Squashed`]); the child's namespace then maps the user
//! alone, which it may write itself. Root on the host, and root of a user namespace already
//! (rootless podman's), run the operation in place.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe2};
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RootlessError;
use super::idmap::{Kind, default_mappings};
use crate::image::layer::{IdRange, Owners};
use crate::image::{ImageError, Store};

/// Opens the store at `root` for the caller: [`owners`] decides who its files belong to.
pub fn open(root: &Path) -> Result<Store, ImageError> {
    Store::open_as(root, owners())
}

/// Who the caller's store files belong to: the host's owners for root on the host; the maps of
/// its own user namespace for root inside one; for an ordinary user, its own id and its
/// subordinate ranges when it has both a uid and a gid range (and the helpers to map them),
/// else the user alone.
pub fn owners() -> Owners {
    if !super::without_host_privilege() {
        return Owners::Host;
    }
    if nix::unistd::geteuid().is_root() {
        return Owners::Mapped {
            uids: own_maps("/proc/self/uid_map"),
            gids: own_maps("/proc/self/gid_map"),
        };
    }
    let ranges = |kind| -> Vec<IdRange> {
        default_mappings(kind)
            .into_iter()
            .map(|(inside, outside, size)| IdRange {
                inside,
                outside,
                size,
            })
            .collect()
    };
    let (uids, gids) = (ranges(Kind::Uid), ranges(Kind::Gid));
    if uids.len() > 1 && gids.len() > 1 {
        Owners::Mapped { uids, gids }
    } else {
        Owners::Squashed
    }
}

/// The lines of this process's own `uid_map` or `gid_map`.
fn own_maps(file: &str) -> Vec<IdRange> {
    let text = crate::sys::read_pseudo_file(file, 256).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(|v| v.parse::<u32>().ok());
            Some(IdRange {
                inside: f.next()??,
                outside: f.next()??,
                size: f.next()??,
            })
        })
        .collect()
}

/// Runs `op` where files get the store's `owners`: in place for root (on the host, or of a
/// user namespace already), else in a child in a user namespace with the owners' maps (see the
/// module). The child's result comes back as JSON, its error as its one line of text. `what`
/// names the operation in errors of the mechanism itself and in `--trace`.
pub fn run<T, E>(owners: &Owners, what: &str, op: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
    E: std::fmt::Display + From<RootlessError>,
{
    if nix::unistd::geteuid().is_root() {
        return op();
    }
    let (uids, gids) = maps_of(owners);
    let reply = in_child(&uids, &gids, what, op)
        .map_err(|why| RootlessError::Store(format!("{what}: {why}")))?;
    crate::sys::trace::record_runtime(reply.trace);
    match reply.result {
        Ok(value) => serde_json::from_value(value).map_err(|e| {
            RootlessError::Store(format!(
                "{what}: read the result of the store's process: {e}"
            ))
            .into()
        }),
        Err(text) => Err(RootlessError::Relayed(text).into()),
    }
}

/// What the child sends back: its result or its error line, and the `--trace` steps it took.
#[derive(Serialize, serde::Deserialize)]
struct Reply {
    result: Result<serde_json::Value, String>,
    trace: Vec<(u64, String)>,
}

/// The maps of the child's user namespace: the owners' own, or the caller alone.
fn maps_of(owners: &Owners) -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let line = |inside: u32, outside: u32, size: u32| {
        LinuxIdMappingBuilder::default()
            .container_id(inside)
            .host_id(outside)
            .size(size)
            .build()
            .expect("every field is set")
    };
    let to_spec = |ranges: &[IdRange]| -> Vec<LinuxIdMapping> {
        ranges
            .iter()
            .map(|r| line(r.inside, r.outside, r.size))
            .collect()
    };
    match owners {
        Owners::Mapped { uids, gids } => (to_spec(uids), to_spec(gids)),
        _ => (
            vec![line(0, nix::unistd::geteuid().as_raw(), 1)],
            vec![line(0, nix::unistd::getegid().as_raw(), 1)],
        ),
    }
}

/// The number of threads of this process (a user namespace can only be unshared by a
/// process of one thread, and only a process of one thread forks safely).
fn threads() -> usize {
    crate::sys::read_pseudo_file("/proc/self/status", 2048)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Forks the child, writes its maps, and returns what it sent, or `Err` when the mechanism
/// failed.
fn in_child<T, E>(
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
    what: &str,
    op: impl FnOnce() -> Result<T, E>,
) -> Result<Reply, String>
where
    T: Serialize,
    E: std::fmt::Display,
{
    let n = threads();
    if n != 1 {
        return Err(format!(
            "the runtime has {n} threads; it forks the store's process only with one"
        ));
    }
    let pipe = || pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    // What the parent has buffered would be written twice.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the process has one thread (checked above), so the child inherits no lock held
    // by another; it leaves through `_exit` without running the parent's destructors.
    match unsafe { fork() } {
        Err(e) => Err(format!("fork: {e}")),
        Ok(ForkResult::Child) => {
            drop((ready_r, go_w, out_r));
            let code = child(ready_w, go_r, out_w, what, op);
            // SAFETY: ends the child without returning into the parent's code.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop((ready_w, go_r, out_w));
            let result = parent(child, ready_r, go_w, out_r, uids, gids);
            let status = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other,
                }
            };
            let out = result?;
            match status {
                Ok(WaitStatus::Exited(_, 0)) => {}
                Ok(s) => return Err(format!("the store's process (pid {child}) ended: {s:?}")),
                Err(e) => return Err(format!("wait for the store's process: {e}")),
            }
            serde_json::from_slice(&out)
                .map_err(|e| format!("the store's process (pid {child}) sent no result: {e}"))
        }
    }
}

/// The parent's side: waits for the child's new user namespace, writes its maps, lets it go
/// and reads its result to the end.
fn parent(
    child: Pid,
    ready: OwnedFd,
    go: OwnedFd,
    out: OwnedFd,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<Vec<u8>, String> {
    let mut byte = [0u8; 64];
    let n = std::fs::File::from(ready)
        .read(&mut byte)
        .map_err(|e| format!("wait for the store's process: {e}"))?;
    match byte[..n].split_first() {
        Some((b'R', _)) => {}
        Some((b'E', why)) => {
            return Err(format!(
                "unshare a user namespace: {}",
                String::from_utf8_lossy(why)
            ));
        }
        _ => return Err("the store's process ended before it was ready".into()),
    }
    // On an error the child sees its go pipe close and exits.
    super::idmap::write(child, uids, gids).map_err(|e| e.to_string())?;
    std::fs::File::from(go)
        .write_all(b"G")
        .map_err(|e| format!("start the store's process: {e}"))?;
    let mut buf = Vec::new();
    std::fs::File::from(out)
        .read_to_end(&mut buf)
        .map_err(|e| format!("read the store's process: {e}"))?;
    Ok(buf)
}

/// The child's side; returns its exit code.
fn child<T, E>(
    ready: OwnedFd,
    go: OwnedFd,
    out: OwnedFd,
    what: &str,
    op: impl FnOnce() -> Result<T, E>,
) -> i32
where
    T: Serialize,
    E: std::fmt::Display,
{
    let mut ready = std::fs::File::from(ready);
    if let Err(e) = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS) {
        let _ = ready.write_all(format!("E{}", crate::error::errno_text(e)).as_bytes());
        return 1;
    }
    if ready.write_all(b"R").is_err() {
        return 1;
    }
    drop(ready);
    let mut byte = [0u8; 1];
    if !matches!(std::fs::File::from(go).read(&mut byte), Ok(1)) {
        return 1;
    }
    // Mounts made here (a root's overlayfs, to build its bundle) stay in this namespace; the
    // kernel already made every shared mount a slave in a namespace of a less privileged user.
    let before = crate::sys::trace::count();
    crate::sys::trace::mark(|| format!("store: {what}, as root of a user namespace of its own"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(op));
    let result = match result {
        Ok(Ok(value)) => {
            serde_json::to_value(&value).map_err(|e| format!("encode the result: {e}"))
        }
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("the store's operation panicked".to_string()),
    };
    let reply = Reply {
        result,
        trace: crate::sys::trace::steps_after(before),
    };
    let payload = serde_json::to_vec(&reply).unwrap_or_default();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut out = std::fs::File::from(out);
    match out.write_all(&payload) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
