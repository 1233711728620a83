//! overlayfs: an image's layers, read-only, under a container's own upper directory.
//!
//! The image store mounts it where the container root is made when it runs as root on the host.
//! A store without host privilege cannot mount anything in the host's mount namespace: the
//! container's init mounts it inside its own, which its user namespace owns (overlayfs allows
//! that since Linux 5.11, with `userxattr`, which makes it read `user.overlay.*` attributes,
//! the only kind such a store can set).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use crate::error::{StepContext, SysError};

/// An overlayfs to mount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    /// The read-only layers, topmost first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Read and write `user.overlay.*` attributes instead of `trusted.overlay.*`.
    #[serde(default)]
    pub userxattr: bool,
}

impl Overlay {
    /// Mounts it on `target`. The lower directories are passed as `/proc/self/fd/N` of
    /// descriptors opened here, so that the options stay short: the kernel reads one page of
    /// them, which with store paths of about 100 bytes would cap an image at about 40 layers;
    /// with descriptors the cap is overlayfs' own, 500. The descriptors close on return.
    pub fn mount(&self, target: &Path) -> Result<(), SysError> {
        let mut fds: Vec<OwnedFd> = Vec::with_capacity(self.lowers.len());
        for l in &self.lowers {
            let fd = open(
                l,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .step(|| format!("open layer {}", l.display()))?;
            fds.push(fd);
        }
        let lowerdir: Vec<String> = fds
            .iter()
            .map(|fd| format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .collect();
        let mut opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowerdir.join(":"),
            self.upper.display(),
            self.work.display()
        );
        if self.userxattr {
            opts.push_str(",userxattr");
        }
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
        .step(|| format!("mount overlayfs on {}", target.display()))
    }
}
