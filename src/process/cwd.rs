//! Entering the process's working directory without leaving the container (CVE-2024-21626).
//!
//! `process.cwd` (or `exec --cwd`, or a cwd the container replaced with a symlink of its own)
//! is a path the container chose. A plain `chdir` follows it wherever it leads, magic links
//! included: `/proc/self/fd/N` for a descriptor of the runtime's is a directory on the host.
//! Here the path is resolved inside the process's root (the container's `/`, after pivot_root
//! for init and after joining the mount namespace for `exec`), with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, and entered with `fchdir`. Afterwards
//! `getcwd` must name a path under that root: the kernel prefixes a directory the root cannot
//! reach with "(unreachable)", which is refused (runc's check).
//!
//! Where `openat2` is refused (a seccomp profile written before it existed, Linux < 5.6), the
//! path is walked one component at a time with `O_NOFOLLOW`, each symlink's text resolved
//! again under the root: the kernel never follows a link itself, so a magic link is read as
//! text and cannot lead out.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat};
use nix::sys::stat::Mode;

use crate::error::{Cause, SysError};
use crate::linux::paths::openat2_retrying;

/// Most symlinks one resolution follows (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Makes `cwd`, resolved inside the process's root, the working directory. An error names the
/// cwd and carries the system's reason (`permission denied` can be retried once the process
/// runs as its user, as runc does).
pub fn enter(cwd: &Path) -> Result<(), SysError> {
    let fail = |e: Errno| SysError::new(format!("chdir to cwd {}", cwd.display()), e);
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail)?;
    let dir = open_in_root(root.as_fd(), cwd).map_err(fail)?;
    nix::unistd::fchdir(&dir).map_err(fail)?;
    check_reachable().map_err(|why| SysError::new(format!("chdir to cwd {}", cwd.display()), why))
}

/// The directory `path` under `root`, never leaving it.
fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, Errno> {
    let rel = relative(path);
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2_retrying(root, rel.as_path(), how) {
        // Refused by a seccomp profile, or too old a kernel: walk by hand.
        Err(Errno::ENOSYS | Errno::EPERM) => walk_in_root(root, path),
        other => other,
    }
}

/// `path` without its leading `/` (`.` for the root itself).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Resolves `path` under `root` one component at a time, as `RESOLVE_IN_ROOT` does: `..`
/// stops at the root, and an absolute symlink starts again from it. Symlinks are read, never
/// followed by the kernel, so a magic link cannot lead out (its text, resolved under the
/// root, names some path inside).
fn walk_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, Errno> {
    let dup = |fd: BorrowedFd<'_>| {
        openat(
            fd,
            ".",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    // The directories walked so far, from the root down; `..` pops one.
    let mut stack: Vec<OwnedFd> = vec![dup(root)?];
    // Components still to walk, in order (a symlink's text is pushed in front of the rest).
    let mut todo: Vec<Vec<u8>> = components(path.as_os_str().as_bytes());
    todo.reverse();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        match name.as_slice() {
            b"" | b"." => continue,
            b".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            b"/" => {
                stack.truncate(1);
                continue;
            }
            _ => {}
        }
        let here = stack.last().expect("the root is never popped");
        let name = OsStr::from_bytes(&name);
        let fd = openat(
            here.as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let st = nix::sys::stat::fstat(&fd)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => stack.push(fd),
            libc::S_IFLNK => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target = nix::fcntl::readlinkat(here.as_fd(), name)?;
                let mut more = components(target.as_bytes());
                more.reverse();
                todo.extend(more);
            }
            _ => return Err(Errno::ENOTDIR),
        }
    }
    // Every directory on the way was searched by the kernel's own permission checks; fchdir
    // checks the last one.
    Ok(stack.pop().expect("the root is never popped"))
}

/// The components of a path, with a leading `/` kept as its own component ("start again
/// from the root").
fn components(path: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if path.first() == Some(&b'/') {
        out.push(b"/".to_vec());
    }
    out.extend(
        path.split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .map(<[u8]>::to_vec),
    );
    out
}

/// Fails unless the working directory is reachable from the process's root: the raw
/// `getcwd` system call (glibc's wrapper hides the marker) returns "(unreachable)/..." for a
/// directory outside it.
fn check_reachable() -> Result<(), Cause> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the buffer is writable for its full length.
    let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    // A directory too deep to name (ENAMETOOLONG) cannot be shown to be inside: refused.
    Errno::result(r).map_err(Cause::Errno)?;
    if buf.first() == Some(&b'/') {
        Ok(())
    } else {
        Err(Cause::Other(
            "the directory is outside the container's root (possible container breakout)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::symlink;

    struct Tree(PathBuf);
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree(tag: &str) -> (Tree, OwnedFd) {
        let dir = std::env::temp_dir().join(format!("rind-cwd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        symlink("/a", dir.join("abs")).unwrap();
        symlink("../../..", dir.join("a/up")).unwrap();
        symlink("/proc/self/fd/0", dir.join("magic")).unwrap();
        std::fs::write(dir.join("file"), "").unwrap();
        let fd = nix::fcntl::open(&dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        (Tree(dir), fd)
    }

    fn name_of(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
    }

    #[test]
    fn the_walk_resolves_symlinks_under_the_root() {
        let (t, root) = tree("walk");
        let got = walk_in_root(root.as_fd(), Path::new("/abs/b")).unwrap();
        assert_eq!(name_of(&got), t.0.join("a/b"));
        let got = walk_in_root(root.as_fd(), Path::new("/a/up/a/../a/b/../../..")).unwrap();
        assert_eq!(name_of(&got), t.0);
        assert_eq!(
            walk_in_root(root.as_fd(), Path::new("/file")).unwrap_err(),
            Errno::ENOTDIR
        );
    }

    #[test]
    fn the_walk_reads_a_magic_link_as_text_under_the_root() {
        let (_t, root) = tree("magic");
        // /proc/self/fd/0, read under the root, is a path inside it that does not exist.
        assert_eq!(
            walk_in_root(root.as_fd(), Path::new("/magic")).unwrap_err(),
            Errno::ENOENT
        );
    }

    #[test]
    fn openat2_refuses_a_magic_link_and_stays_under_the_root() {
        let (t, root) = tree("openat2");
        assert_eq!(
            open_in_root(root.as_fd(), Path::new("/magic")).unwrap_err(),
            Errno::ENOENT
        );
        let got = open_in_root(root.as_fd(), Path::new("/a/up/a/b")).unwrap();
        assert_eq!(name_of(&got), t.0.join("a/b"));
    }

    #[test]
    fn a_path_is_made_relative_to_the_root() {
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("/x/y")), PathBuf::from("x/y"));
        assert_eq!(
            components(b"/a//b/"),
            vec![b"/".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
    }
}
