//! Paths inside the container's root filesystem, resolved so that they never leave it.
//!
//! Every lookup goes through `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: the rootfs is
//! treated as `/` during resolution, so a symlink planted in the image (`/proc -> /host/etc`,
//! `../../..`) resolves inside the rootfs, never out of it (the CVE-2021-30465 class). Missing
//! directories are created one component at a time through the same resolution.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::NixPath;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, mkdirat};

use crate::error::{StepContext, SysError};

/// An open directory that acts as the root for lookups under it.
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What to create when the target of a mount does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
}

/// `openat2(2)`, retried while it fails with `EAGAIN`.
///
/// With `RESOLVE_IN_ROOT` or `RESOLVE_BENEATH` the kernel gives up with `EAGAIN` when any
/// rename or mount anywhere on the system raced with the lookup; it cannot prove the walk
/// stayed inside. A runtime that mounts while other containers start sees that often, so the
/// lookup is simply repeated (the cap only stops a livelock from spinning forever).
pub fn openat2_retrying<P: ?Sized + nix::NixPath>(
    dir: BorrowedFd<'_>,
    path: &P,
    how: OpenHow,
) -> Result<OwnedFd, Errno> {
    const ATTEMPTS: usize = 1024;
    let mut left = ATTEMPTS;
    loop {
        match openat2(dir, path, how) {
            Err(Errno::EAGAIN) if left > 1 => left -= 1,
            other => return other,
        }
    }
}

fn resolve_flags() -> ResolveFlag {
    ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS
}

impl RootDir {
    /// Opens `path` (a host path) as a lookup root.
    pub fn open(path: &Path) -> Result<Self, SysError> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open rootfs {}", path.display()))?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The host path of the root, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `path` (relative to the root; a leading `/` is allowed) with `O_PATH`, resolving
    /// symlinks inside the root.
    pub fn open_path(&self, path: &Path) -> Result<OwnedFd, Errno> {
        self.open_with(path, OFlag::O_PATH | OFlag::O_CLOEXEC)
    }

    /// Opens `path` with `O_PATH` only if no component of it is a symlink (`ELOOP` if one is).
    pub fn open_path_without_symlinks(&self, path: &Path) -> Result<OwnedFd, Errno> {
        let rel = relative(path);
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(resolve_flags() | ResolveFlag::RESOLVE_NO_SYMLINKS);
        openat2_retrying(self.fd.as_fd(), rel.as_path(), how)
    }

    /// Opens `path` inside the root with the given flags.
    pub fn open_with(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        let rel = relative(path);
        // openat2 insists on a zero mode unless a file is being created.
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(resolve_flags());
        openat2_retrying(self.fd.as_fd(), rel.as_path(), how)
    }

    /// Opens `path` inside the root, creating it (and missing parent directories, mode 0755)
    /// when it does not exist. Returns an `O_PATH` fd to mount on ([`mount_at`]).
    pub fn create(&self, path: &Path, kind: Kind) -> Result<OwnedFd, SysError> {
        let step = || {
            format!(
                "create {} in rootfs {}",
                path.display(),
                self.path.display()
            )
        };
        match self.open_path(path) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOENT) => self
                .walk_create(path, kind)
                .map_err(|e| SysError::new(step(), e)),
            Err(e) => Err(SysError::new(step(), e)),
        }
    }

    /// Walks `path` one component at a time from the root, creating what is missing. Symlinks
    /// are followed by hand, as if the root were `/` (an absolute target restarts at the root,
    /// `..` never climbs above it), so a dangling symlink in the image gets its target created
    /// inside the root rather than failing or escaping.
    fn walk_create(&self, path: &Path, kind: Kind) -> Result<OwnedFd, Errno> {
        const MAX_SYMLINKS: usize = 40;
        let mut queue: VecDeque<OsString> = components(path);
        let mut stack: Vec<OwnedFd> = vec![nix::unistd::dup(&self.fd)?];
        let mut links = 0;
        while let Some(name) = queue.pop_front() {
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let last = queue.is_empty();
            let cur = stack.last().ok_or(Errno::EINVAL)?;
            let fd = match openat(cur, name.as_os_str(), nofollow(), Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    if last && kind == Kind::File {
                        let flags = OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC;
                        match openat(
                            cur,
                            name.as_os_str(),
                            flags,
                            Mode::from_bits_truncate(0o644),
                        ) {
                            Ok(_) | Err(Errno::EEXIST) => {}
                            Err(e) => return Err(e),
                        }
                    } else {
                        match mkdirat(cur, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                            Ok(()) | Err(Errno::EEXIST) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    openat(cur, name.as_os_str(), nofollow(), Mode::empty())?
                }
                Err(e) => return Err(e),
            };
            let st = nix::sys::stat::fstat(&fd)?;
            match st.st_mode & libc::S_IFMT {
                libc::S_IFLNK => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let target = nix::fcntl::readlinkat(cur, name.as_os_str())?;
                    let target = PathBuf::from(target);
                    if target.is_absolute() {
                        stack.truncate(1);
                    }
                    for c in components(&target).into_iter().rev() {
                        queue.push_front(c);
                    }
                }
                libc::S_IFDIR => stack.push(fd),
                _ if last => return Ok(fd),
                _ => return Err(Errno::ENOTDIR),
            }
        }
        stack.pop().ok_or(Errno::EINVAL)
    }
}

/// Opens `name` in directory `dir` with `O_PATH`, creating it (an empty file or a directory,
/// as `kind` says) when it is missing. A symlink there is removed and replaced, never
/// followed: for the targets the runtime itself mounts on (device nodes in a user namespace,
/// `/dev/console`), which an image could otherwise point at `/proc/sys/kernel/core_pattern`
/// (CVE-2025-52565). `ELOOP` if a symlink is there again by the time it is opened.
pub fn create_in(dir: BorrowedFd<'_>, name: &OsStr, kind: Kind) -> Result<OwnedFd, Errno> {
    use nix::fcntl::AtFlags;
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir)?
        }
        Ok(_) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let made = match kind {
        Kind::File => openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
        Kind::Directory => mkdirat(dir, name, Mode::from_bits_truncate(0o755)),
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    let fd = openat(dir, name, nofollow(), Mode::empty())?;
    if nix::sys::stat::fstat(&fd)?.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(Errno::ELOOP);
    }
    Ok(fd)
}

fn nofollow() -> OFlag {
    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// The normal and `..` components of a path, as owned names.
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// `path` without its leading `/`, so that it resolves relative to a directory fd; `.` for the
/// root itself.
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The `/proc/self/fd/N` path that names an open fd, for syscalls that take only paths
/// (`mount(2)`). The kernel resolves it to the fd's file without following anything further.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// mount(2) onto the file or directory `target` is open on.
///
/// The kernel resolves a `/proc/self/fd/N` path afresh on every call: a walk through four
/// procfs directories and a new inode for the fd, a fifth of what a mount cost init. So a
/// directory is entered and mounted on as ".", which names the same mount and dentry. The
/// working directory is left there: init uses descriptors and absolute paths, and sets its
/// working directory itself before anything relative (pivot_root, the process's cwd). A file
/// (a masked path, a device, the console), or a directory init may not enter (in a user
/// namespace, one owned by an unmapped user), goes through its `/proc/self/fd/N` path.
pub fn mount_at<S, T, D>(
    source: Option<&S>,
    target: &impl AsFd,
    fstype: Option<&T>,
    flags: MsFlags,
    data: Option<&D>,
) -> nix::Result<()>
where
    S: ?Sized + NixPath,
    T: ?Sized + NixPath,
    D: ?Sized + NixPath,
{
    match nix::unistd::fchdir(target) {
        Ok(()) => mount(source, ".", fstype, flags, data),
        Err(_) => mount(source, &fd_path(&target.as_fd()), fstype, flags, data),
    }
}

/// A bind mount of what `fd` is open on onto itself (how a path is made read-only), named as
/// [`mount_at`] names its target.
pub fn bind_onto_itself(fd: &impl AsFd, flags: MsFlags) -> nix::Result<()> {
    let none = None::<&str>;
    match nix::unistd::fchdir(fd) {
        Ok(()) => mount(Some("."), ".", none, flags, none),
        Err(_) => {
            let path = fd_path(&fd.as_fd());
            mount(Some(&path), &path, none, flags, none)
        }
    }
}

/// True when `name` is a plain file name (no separators, not `.` or `..`).
pub fn is_plain_name(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
    !b.is_empty() && b != b"." && b != b".." && !b.contains(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rind-paths-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn relative_strips_root_and_dots() {
        assert_eq!(relative(Path::new("/a/./b")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
    }

    #[test]
    fn absolute_symlink_resolves_inside_root() {
        let base = tempdir("abs");
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // /evil -> <outside> on the host; inside the root it must mean <root><outside>.
        symlink(&outside, root.join("evil")).unwrap();
        let r = RootDir::open(&root).unwrap();
        r.create(Path::new("/evil/target"), Kind::Directory)
            .unwrap();
        assert!(!outside.join("target").exists(), "escaped the root");
        assert!(root.join(relative(&outside)).join("target").is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn dotdot_symlink_cannot_climb_out() {
        let base = tempdir("dotdot");
        let root = base.join("root");
        std::fs::create_dir_all(&root).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        let r = RootDir::open(&root).unwrap();
        r.create(Path::new("/up/made"), Kind::File).unwrap();
        assert!(root.join("made").is_file());
        assert!(!base.join("made").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn plain_names_exclude_dots_and_slashes() {
        assert!(is_plain_name(OsStr::new("a.b")));
        assert!(!is_plain_name(OsStr::new("..")));
        assert!(!is_plain_name(OsStr::new("a/b")));
    }

    /// A lookup through `..` under `RESOLVE_IN_ROOT` fails with `EAGAIN` whenever a rename
    /// anywhere on the system races with it. Renames run in a loop beside the lookups: the raw
    /// syscall must be seen failing (so the race really happened), and the retrying lookup
    /// must never fail.
    #[test]
    fn lookups_through_dotdot_survive_concurrent_renames() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        let base = tempdir("eagain");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("up/x")).unwrap();
        symlink("../../..", root.join("up/x/d")).unwrap();
        let churn = base.join("churn");
        std::fs::write(&churn, b"").unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let renamer = {
            let stop = Arc::clone(&stop);
            let (a, b) = (churn.clone(), base.join("churn2"));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::fs::rename(&a, &b).unwrap();
                    std::fs::rename(&b, &a).unwrap();
                }
            })
        };

        let r = RootDir::open(&root).unwrap();
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(resolve_flags());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut raw_eagain = 0u32;
        let mut lookups = 0u32;
        while raw_eagain < 20 && std::time::Instant::now() < deadline {
            if let Err(Errno::EAGAIN) = openat2(r.fd(), "up/x/d/up/x/d/up", how) {
                raw_eagain += 1;
            }
            let got = r.open_path(Path::new("/up/x/d/up/x/d/up"));
            assert!(got.is_ok(), "lookup {lookups} failed: {:?}", got.err());
            lookups += 1;
        }
        stop.store(true, Ordering::Relaxed);
        renamer.join().unwrap();
        std::fs::remove_dir_all(&base).unwrap();
        assert!(
            raw_eagain > 0,
            "the raw openat2 never failed with EAGAIN in {lookups} lookups: the race was not exercised"
        );
    }
}
