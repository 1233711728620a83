//! Container roots made from a stored image: an overlayfs of the image's layers with a
//! private upper and work directory, or a flattened copy where overlayfs cannot be mounted.
//!
//! A store without host privilege makes its roots in a user namespace of its own (see
//! `rootless/store.rs`), whose mount namespace ends with the operation: the overlayfs is
//! mounted there to build the container's bundle (its spec reads the image's `/etc/passwd`),
//! then handed to the container's init ([`PreparedRoot::leave_to_init`]), which mounts it again
//! inside its own namespaces.

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, umount2};
use serde::{Deserialize, Serialize};

use super::fsutil::{now_secs, remove_tree, write_atomic};
use super::{Image, Store};
use crate::image::ImageError;
use crate::image::digest::Digest;
use crate::linux::overlay::Overlay;

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
    /// The overlayfs of an `Overlay` root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<Overlay>,
    /// The overlayfs is not mounted on `rootfs` here: the container's init mounts it in its
    /// own mount namespace.
    #[serde(default)]
    pub in_container: bool,
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
            overlay: None,
            in_container: false,
            lease,
        };
        // The lease goes first, so that from here on prune keeps the layers.
        root.save_lease()?;
        let result = (|| {
            create(&rootfs)?;
            let overlay = Overlay {
                // Topmost first.
                lowers: image
                    .layers
                    .iter()
                    .rev()
                    .map(|l| self.layer_diff(&l.chain_id))
                    .collect(),
                upper: container_dir.join("upper"),
                work: container_dir.join("work"),
                userxattr: self.owners.userxattr(),
            };
            let overlay_err = match mode {
                RootMode::Copy => Some("copy requested".to_string()),
                _ if overlay.lowers.is_empty() => Some("the image has no layers".to_string()),
                _ => mount_overlay(&overlay, &rootfs).err(),
            };
            match overlay_err {
                None => root.overlay = Some(overlay),
                Some(reason) if mode == RootMode::Overlay => {
                    return Err(ImageError::sys(
                        format!("mount overlay on {}", rootfs.display()),
                        crate::error::Cause::Other(reason),
                    ));
                }
                Some(reason) => {
                    root.mode = RootMode::Copy;
                    root.fallback_reason = Some(reason);
                    // Bottom layer first.
                    for l in overlay.lowers.iter().rev() {
                        super::flatten::apply(l, &rootfs, &self.owners)?;
                    }
                }
            }
            root.save()
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

    fn save(&self) -> Result<(), ImageError> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| ImageError::malformed("root state", e))?;
        write_atomic(&self.container_dir.join(STATE_FILE), &json)
    }

    /// The overlayfs the container's init must mount on its root, if it is one.
    pub fn init_overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref().filter(|_| self.in_container)
    }

    /// Unmounts an overlayfs root from the mount namespace it was made in (a store's user
    /// namespace, which ends with the operation) and records that the container's init mounts
    /// it in its own. Two overlayfs mounts may not share an upper directory, so this one must
    /// go first. A copy stays as it is.
    pub fn leave_to_init(&mut self) -> Result<(), ImageError> {
        if self.mode != RootMode::Overlay || self.in_container {
            return Ok(());
        }
        umount2(&self.rootfs, MntFlags::empty())
            .map_err(|e| ImageError::sys(format!("unmount {}", self.rootfs.display()), e))?;
        self.in_container = true;
        self.save()
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
        // A copy was never mounted, nor a root the container mounts (an ordinary user may not
        // even try to unmount it).
        let mounted = self.mode == RootMode::Overlay && !self.in_container;
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

/// Mounts the overlayfs on `rootfs`, making its upper and work directories; the error is
/// the reason the copy fallback records.
fn mount_overlay(overlay: &Overlay, rootfs: &Path) -> Result<(), String> {
    for d in [&overlay.upper, &overlay.work] {
        fs::create_dir_all(d)
            .map_err(|e| format!("create {}: {}", d.display(), crate::error::Cause::from(e)))?;
    }
    overlay.mount(rootfs).map_err(|e| e.to_string())
}
