//! Directories that no other user may reach: the state root (`--root`) and the image store
//! (`--store`).
//!
//! Both hold what an unprivileged host user must never touch. The store's layers keep the
//! image's setuid binaries and device nodes as the image made them: with a traversable store,
//! `setpriv --reuid=65534 <store>/layers/.../diff/bin/su` runs as root, and a `c 1:3 0666` node
//! is writable by anyone (the class of moby's CVE-2021-41091 and containerd's CVE-2021-41103).
//! The state root holds each container's `config.json`, its exec FIFO and the compiled seccomp
//! filters. So each is a directory of mode 0700, owned by the user running rind, and never a
//! symbolic link. runc makes its root 0700 too. Nothing a container runs needs to pass through
//! either: init inherits its descriptors (exec FIFO, channel), an engine's bundles live
//! outside rind's root, and `run --image` (whose bundles are in the store) makes no user
//! namespace. containerd makes its root and state 0711 because a user namespace's root must
//! walk through them to a bundle; should `run --image` gain user namespaces, `containers/`
//! would need that, with `layers/` kept 0700.
//!
//! An existing directory is opened without following a symbolic link, and checked through that
//! descriptor, so nothing can swap it between the check and the fix:
//! - a symbolic link, or not a directory: refused;
//! - owned by another user: refused (that user controls what rind would trust);
//! - any permission for group or others: tightened to 0700 (logged with `--debug`). An older
//!   rind made its store 0755; refusing it would leave the layers exposed until someone acted,
//!   while the owner check already proved the directory is ours to fix. Docker did the same
//!   for CVE-2021-41091: the daemon tightened its existing data directory when it started.

use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, fchmod, fstat};

use crate::error::SysError;

/// The only mode a private directory keeps.
pub const MODE: u32 = 0o700;

/// Why a directory cannot be used as a private one.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error(
        "{what} {path} is a symbolic link: it must be a real directory, which other users cannot redirect"
    )]
    Symlink { what: &'static str, path: String },
    #[error("{what} {path} is not a directory")]
    NotDirectory { what: &'static str, path: String },
    #[error(
        "{what} {path} is owned by uid {owner}, not by uid {me} running rind: another user must not control it"
    )]
    Owner {
        what: &'static str,
        path: String,
        owner: u32,
        me: u32,
    },
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// Whether a missing directory is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfMissing {
    Create,
    /// Leave it missing (a command that only reads): `ensure` returns `Ok(false)`.
    Leave,
}

/// Makes sure `path` is a private directory (see the module comment). `what` names it in
/// errors ("state root", "image store"). Returns whether it exists now.
pub fn ensure(
    path: &Path,
    what: &'static str,
    missing: IfMissing,
) -> Result<bool, PrivateDirError> {
    // Without its trailing slashes: `link/` would make the lookup follow the link.
    let path: &Path = &path.components().collect::<std::path::PathBuf>();
    let fd = match open_dir(path) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) if missing == IfMissing::Create => {
            // Parents too, 0700 like the leaf (as Go's MkdirAll, and so runc, make them).
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(MODE)
                .create(path)
                .map_err(|e| SysError::new(format!("create {what} {}", path.display()), e))?;
            open_dir(path).map_err(|e| classify(e, what, path))?
        }
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(classify(e, what, path)),
    };
    check_fd(&fd, what, path)?;
    Ok(true)
}

fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn classify(e: Errno, what: &'static str, path: &Path) -> PrivateDirError {
    let shown = path.display().to_string();
    match e {
        // O_NOFOLLOW on a symbolic link fails with ELOOP; O_DIRECTORY on anything else that is
        // not a directory with ENOTDIR.
        Errno::ELOOP => PrivateDirError::Symlink { what, path: shown },
        Errno::ENOTDIR if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) => {
            PrivateDirError::Symlink { what, path: shown }
        }
        Errno::ENOTDIR => PrivateDirError::NotDirectory { what, path: shown },
        e => SysError::new(format!("open {what} {shown}"), e).into(),
    }
}

fn check_fd(fd: &OwnedFd, what: &'static str, path: &Path) -> Result<(), PrivateDirError> {
    let st = fstat(fd).map_err(|e| SysError::new(format!("stat {what} {}", path.display()), e))?;
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != me {
        return Err(PrivateDirError::Owner {
            what,
            path: path.display().to_string(),
            owner: st.st_uid,
            me,
        });
    }
    let mode = st.st_mode & 0o7777;
    if mode != MODE {
        fchmod(fd, Mode::from_bits_truncate(MODE)).map_err(|e| {
            SysError::new(
                format!("restrict {what} {} to mode 0700", path.display()),
                e,
            )
        })?;
        crate::logging::debug(|| {
            format!(
                "{what} {}: mode {mode:04o} tightened to 0700",
                path.display()
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_directory_is_made_0700_with_its_parents() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b");
        assert!(ensure(&p, "state root", IfMissing::Create).unwrap());
        for d in [t.path().join("a"), p.clone()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }

    #[test]
    fn a_missing_directory_is_left_missing_when_asked() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("none");
        assert!(!ensure(&p, "state root", IfMissing::Leave).unwrap());
        assert!(!p.exists());
    }

    #[test]
    fn an_open_directory_is_tightened() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("old");
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure(&p, "image store", IfMissing::Leave).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_symlink_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = ensure(&link, "state root", IfMissing::Create).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
    }

    #[test]
    fn a_symlink_is_refused_with_a_trailing_slash_too() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let slashed = std::path::PathBuf::from(format!("{}//", link.display()));
        let e = ensure(&slashed, "state root", IfMissing::Leave).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
    }

    #[test]
    fn a_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, b"").unwrap();
        let e = ensure(&f, "state root", IfMissing::Create).unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
    }
}
