//! Container roots made from a stored image: an overlayfs of the image's layers with a
//! private upper and work directory, or a flattened copy where overlayfs cannot be mounted.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use super::fsutil::{now_secs, remove_tree, write_atomic};
use super::{Image, Store};
use crate::image::ImageError;
use crate::image::digest::Digest;

/// How a container root was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootMode {
    /// Try overlayfs, copy if it cannot be mounted.
    Auto,
    /// overlayfs over the store's layers.
    Overlay,
    /// A private copy of the flattened layers.
    Copy,
}

/// A container's root filesystem, made by [`Store::prepare_rootfs`]. It stays mounted (or
/// copied) until [`PreparedRoot::release`]; the store keeps the image's layers while it exists.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PreparedRoot {
    /// The directory to use as the container's root.
    pub rootfs: PathBuf,
    pub container_dir: PathBuf,
    pub image: Digest,
    /// `Overlay` or `Copy`, never `Auto`.
    pub mode: RootMode,
    /// Why overlayfs was not used, when it was not (for `--debug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    lease: PathBuf,
}

const STATE_FILE: &str = "image-root.json";

impl Store {
    /// Makes `container_dir/rootfs` from `image`: an overlayfs of its layers with
    /// `container_dir/upper` and `container_dir/work`, or a copy when overlayfs cannot be
    /// mounted. Nothing is unpacked: a second container from the same image costs one mount.
    /// The state is saved in `container_dir/image-root.json` for [`PreparedRoot::load`].
    pub fn prepare_rootfs(
        &self,
        image: &Image,
        container_dir: &Path,
    ) -> Result<PreparedRoot, ImageError> {
        self.prepare_rootfs_with(image, container_dir, RootMode::Auto)
    }

    /// [`Store::prepare_rootfs`] with the mode chosen by the caller (`Copy` forces the copy).
    pub fn prepare_rootfs_with(
        &self,
        image: &Image,
        container_dir: &Path,
        mode: RootMode,
    ) -> Result<PreparedRoot, ImageError> {
        let _shared = self.lock(false)?;
        let create = |p: &Path| {
            fs::create_dir_all(p).map_err(|e| ImageError::sys(format!("create {}", p.display()), e))
        };
        create(container_dir)?;
        let container_dir = fs::canonicalize(container_dir)
            .map_err(|e| ImageError::sys(format!("resolve {}", container_dir.display()), e))?;
        let rootfs = container_dir.join("rootfs");
        if rootfs.exists() {
            return Err(ImageError::malformed(
                rootfs.display().to_string(),
                "already exists; release the old root first",
            ));
        }
        let lease = self.root.join("leases").join(format!(
            "{}.json",
            Digest::of(container_dir.as_os_str().as_encoded_bytes()).hex()
        ));
        let mut root = PreparedRoot {
            rootfs: rootfs.clone(),
            container_dir: container_dir.clone(),
            image: image.id.clone(),
            mode: RootMode::Overlay,
            fallback_reason: None,
            lease,
        };
        // The lease goes first, so that from here on prune keeps the layers.
        root.save_lease()?;
        let result = (|| {
            create(&rootfs)?;
            let chains: Vec<Digest> = image
                .layers
                .iter()
                .rev()
                .map(|l| l.chain_id.clone())
                .collect();
            let lowers: Vec<PathBuf> = chains.iter().map(|c| self.layer_diff(c)).collect();
            let overlay_err = match mode {
                RootMode::Copy => Some("copy requested".to_string()),
                _ if lowers.is_empty() => Some("the image has no layers".to_string()),
                _ => mount_overlay(&container_dir, &rootfs, &lowers).err(),
            };
            if let Some(reason) = overlay_err {
                if mode == RootMode::Overlay {
                    return Err(ImageError::sys(
                        format!("mount overlay on {}", rootfs.display()),
                        crate::error::Cause::Other(reason),
                    ));
                }
                root.mode = RootMode::Copy;
                root.fallback_reason = Some(reason);
                // Bottom layer first.
                for l in lowers.iter().rev() {
                    super::flatten::apply(l, &rootfs)?;
                }
            }
            let json = serde_json::to_vec_pretty(&root)
                .map_err(|e| ImageError::malformed("root state", e))?;
            write_atomic(&container_dir.join(STATE_FILE), &json)
        })();
        if let Err(e) = result {
            let _ = root.clone().release();
            return Err(e);
        }
        Ok(root)
    }
}

impl PreparedRoot {
    /// Reads the root a previous `prepare_rootfs` saved in `container_dir`.
    pub fn load(container_dir: &Path) -> Result<PreparedRoot, ImageError> {
        let p = container_dir.join(STATE_FILE);
        let data = fs::read(&p).map_err(|e| ImageError::sys(format!("read {}", p.display()), e))?;
        serde_json::from_slice(&data).map_err(|e| ImageError::malformed(p.display().to_string(), e))
    }

    fn save_lease(&self) -> Result<(), ImageError> {
        #[derive(Serialize)]
        struct Lease<'a> {
            image: &'a Digest,
            container_dir: &'a Path,
            created: u64,
        }
        let json = serde_json::to_vec(&Lease {
            image: &self.image,
            container_dir: &self.container_dir,
            created: now_secs(),
        })
        .map_err(|e| ImageError::malformed("lease", e))?;
        write_atomic(&self.lease, &json)
    }

    /// Unmounts the root (lazily if it is busy), removes `rootfs`, `upper`, `work` and the
    /// saved state, and drops the lease on the image's layers. Safe to call again.
    pub fn release(self) -> Result<(), ImageError> {
        // A copy was never mounted (an ordinary user may not even try to unmount it).
        let mounted = self.mode != RootMode::Copy;
        match umount2(&self.rootfs, MntFlags::empty()) {
            _ if !mounted => {}
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(Errno::EBUSY) => {
                umount2(&self.rootfs, MntFlags::MNT_DETACH).map_err(|e| {
                    ImageError::sys(format!("unmount {}", self.rootfs.display()), e)
                })?;
            }
            Err(e) => {
                return Err(ImageError::sys(
                    format!("unmount {}", self.rootfs.display()),
                    e,
                ));
            }
        }
        for sub in ["rootfs", "upper", "work"] {
            remove_tree(&self.container_dir.join(sub))?;
        }
        let _ = fs::remove_file(self.container_dir.join(STATE_FILE));
        match fs::remove_file(&self.lease) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::sys(
                format!("remove {}", self.lease.display()),
                e,
            )),
        }
    }
}

/// Mounts overlayfs on `rootfs`. Lower directories are passed as `/proc/self/fd/N` of fds
/// opened here, so the option string stays short (a page holds the options; ~100-byte store
/// paths would cap an image at about 40 layers, fd paths at overlayfs' own limit of 500).
fn mount_overlay(container_dir: &Path, rootfs: &Path, lowers: &[PathBuf]) -> Result<(), String> {
    let upper = container_dir.join("upper");
    let work = container_dir.join("work");
    for d in [&upper, &work] {
        fs::create_dir_all(d)
            .map_err(|e| format!("create {}: {}", d.display(), crate::error::Cause::from(e)))?;
    }
    let mut fds: Vec<OwnedFd> = Vec::with_capacity(lowers.len());
    for l in lowers {
        let fd = open(
            l,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("open {}: {}", l.display(), crate::error::errno_text(e)))?;
        fds.push(fd);
    }
    let lowerdir: Vec<String> = fds
        .iter()
        .map(|fd| format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .collect();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(|e| format!("overlayfs: {}", crate::error::errno_text(e)))
}
