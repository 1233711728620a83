//! The image store: verified metadata blobs by digest, each layer unpacked once (keyed by its
//! chain id, recording its diff id), image records, and names.
//!
//! ```text
//! <root>/lock                      shared by pulls and root preparation, exclusive for rm/prune
//! <root>/refs.json                 {"name:tag": "sha256:<config digest>"}, rewritten atomically
//! <root>/refs.lock                 held while refs.json is read, changed and renamed
//! <root>/blobs/sha256/<hex>        manifests and configs (layer blobs are not kept)
//! <root>/layers/sha256/<chain>/    diff/ (the layer in overlayfs form) and layer.json
//! <root>/layers/locks/<chain>.lock held while that layer is being unpacked
//! <root>/images/<config hex>.json  one record per image
//! <root>/leases/<hash>.json        container roots made from an image (keep its layers)
//! <root>/tmp/                      unpacks in progress; renamed into layers/ when complete
//! <root>/owners.json               the user namespace a store without host privilege maps
//! ```
//!
//! Every file that appears under `layers/`, `images/` or `blobs/` appears by rename, so a
//! crash or an error leaves either nothing or a complete entry. Two processes pulling the same
//! image serialise on the layer lock: the second finds the layer present and unpacks nothing.

mod flatten;
pub mod fsutil;
mod prune;
mod pull;
mod root;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use super::ImageError;
use super::digest::Digest;
use super::layer::Owners;
use super::reference::ImageRef;
use crate::linux::private_dir::{self, IfMissing};
use fsutil::{FileLock, write_atomic};

pub use prune::PruneReport;
pub use pull::PullOptions;
pub use root::{PreparedRoot, RootMode};

/// The default store directory.
pub const DEFAULT_ROOT: &str = "/var/lib/rind";

/// A layer as the store keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredLayer {
    pub diff_id: Digest,
    pub chain_id: Digest,
    /// The blob the layer was unpacked from, when the source named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<Digest>,
    /// Uncompressed tar size.
    pub size: u64,
}

/// An image in the store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Image {
    /// The config digest, which is the image id.
    pub id: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<Digest>,
    pub layers: Vec<StoredLayer>,
    /// Where it was pulled from (the reference as given).
    pub source: String,
    /// When it was pulled, in seconds since the epoch.
    pub pulled_at: u64,
    /// The names that point at it (filled in when read; not part of the record on disk).
    #[serde(default, skip_serializing)]
    pub names: Vec<String>,
}

impl Image {
    /// Total uncompressed size of the layers.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// An open store. Cheap to open; every operation takes the locks it needs.
pub struct Store {
    root: PathBuf,
    /// Who its files belong to ([`Owners`]). A store whose owners are mapped runs its
    /// operations as root of a user namespace with those maps; the caller puts it there.
    owners: Owners,
}

impl Store {
    /// Opens (creating if needed) the store at `root`, a private directory
    /// ([`crate::linux::private_dir`]: 0700, ours, not a symbolic link): its layers hold the
    /// images' setuid binaries and device nodes as the images made them, which no other user
    /// may reach.
    pub fn open(root: &Path) -> Result<Store, ImageError> {
        Store::open_as(root, Owners::of_process())
    }

    /// [`Store::open`] for files that belong to `owners`. A store keeps the maps it was first
    /// used with in `owners.json`: its layers hold files with those ids, so a store whose maps
    /// changed (the user's range in `/etc/subuid` moved) is refused, naming both.
    pub fn open_as(root: &Path, owners: Owners) -> Result<Store, ImageError> {
        private_dir::ensure(root, "image store", IfMissing::Create)?;
        for sub in [
            "blobs/sha256",
            "layers/sha256",
            "layers/locks",
            "images",
            "leases",
            "tmp",
        ] {
            let p = root.join(sub);
            fs::create_dir_all(&p)
                .map_err(|e| ImageError::sys(format!("create {}", p.display()), e))?;
        }
        let store = Store {
            root: root.to_path_buf(),
            owners,
        };
        store.check_owners()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn owners(&self) -> &Owners {
        &self.owners
    }

    /// Records mapped owners the first time, and refuses maps other than the recorded ones. A
    /// squashed layer (the user's files) reads the same under any map, so a store may gain a
    /// map; it may not lose or change one.
    fn check_owners(&self) -> Result<(), ImageError> {
        let p = self.root.join("owners.json");
        let recorded: Option<Owners> = match fs::read(&p) {
            Ok(data) => Some(
                serde_json::from_slice(&data)
                    .map_err(|e| ImageError::malformed(p.display().to_string(), e))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ImageError::sys(format!("read {}", p.display()), e)),
        };
        match (&recorded, &self.owners) {
            (Some(was @ Owners::Mapped { .. }), now) if was != now => {
                Err(ImageError::Unsupported(format!(
                    "its layers were unpacked mapping {}, but rind now has {}: the subordinate ranges in /etc/subuid and /etc/subgid changed. Restore them, or have root remove the store",
                    was.describe(),
                    now.describe()
                )))
            }
            (was, now @ Owners::Mapped { .. }) if was.as_ref() != Some(now) => {
                let data = serde_json::to_vec_pretty(now)
                    .map_err(|e| ImageError::malformed("owners.json", e))?;
                write_atomic(&p, &data)
            }
            _ => Ok(()),
        }
    }

    fn lock(&self, exclusive: bool) -> Result<FileLock, ImageError> {
        FileLock::acquire(&self.root.join("lock"), exclusive)
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    fn layer_dir(&self, chain: &Digest) -> PathBuf {
        self.root.join("layers/sha256").join(chain.hex())
    }

    /// The unpacked content of a layer (overlayfs form: whiteouts are 0/0 devices and opaque
    /// directories carry `trusted.overlay.opaque`).
    pub fn layer_diff(&self, chain: &Digest) -> PathBuf {
        self.layer_dir(chain).join("diff")
    }

    fn image_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Writes a blob unless present.
    fn put_blob(&self, d: &Digest, data: &[u8]) -> Result<(), ImageError> {
        let p = self.blob_path(d);
        if p.exists() {
            return Ok(());
        }
        write_atomic(&p, data)
    }

    /// Reads a metadata blob and checks its digest.
    pub fn blob(&self, d: &Digest) -> Result<Vec<u8>, ImageError> {
        let p = self.blob_path(d);
        let data = fs::read(&p).map_err(|e| ImageError::sys(format!("read {}", p.display()), e))?;
        let got = Digest::of(&data);
        if got != *d {
            return Err(ImageError::DigestMismatch {
                what: p.display().to_string(),
                expected: d.to_string(),
                actual: got.to_string(),
            });
        }
        Ok(data)
    }

    /// The image's config, read from the store and verified.
    pub fn config(&self, image: &Image) -> Result<ImageConfiguration, ImageError> {
        let data = self.blob(&image.id)?;
        serde_json::from_slice(&data)
            .map_err(|e| ImageError::malformed(format!("config {}", image.id), e))
    }

    fn read_refs(&self) -> Result<BTreeMap<String, Digest>, ImageError> {
        let p = self.root.join("refs.json");
        match fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| ImageError::malformed(p.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(ImageError::sys(format!("read {}", p.display()), e)),
        }
    }

    /// Changes the name table under its lock.
    fn update_refs<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, Digest>) -> T,
    ) -> Result<T, ImageError> {
        let _l = FileLock::acquire(&self.root.join("refs.lock"), true)?;
        let mut refs = self.read_refs()?;
        let out = f(&mut refs);
        let data =
            serde_json::to_vec_pretty(&refs).map_err(|e| ImageError::malformed("refs.json", e))?;
        write_atomic(&self.root.join("refs.json"), &data)?;
        Ok(out)
    }

    fn read_image(
        &self,
        id: &Digest,
        refs: &BTreeMap<String, Digest>,
    ) -> Result<Image, ImageError> {
        let p = self.image_path(id);
        let data = fs::read(&p).map_err(|e| ImageError::sys(format!("read {}", p.display()), e))?;
        let mut img: Image = serde_json::from_slice(&data)
            .map_err(|e| ImageError::malformed(p.display().to_string(), e))?;
        img.names = refs
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(img)
    }

    fn image_ids(&self) -> Result<Vec<Digest>, ImageError> {
        let dir = self.root.join("images");
        let rd = fs::read_dir(&dir)
            .map_err(|e| ImageError::sys(format!("read {}", dir.display()), e))?;
        let mut ids = Vec::new();
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if let Some(hex) = name.strip_suffix(".json")
                && let Ok(d) = Digest::parse(&format!("sha256:{hex}"))
            {
                ids.push(d);
            }
        }
        Ok(ids)
    }

    /// All images, named ones by name.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let refs = self.read_refs()?;
        let mut out = Vec::new();
        for id in self.image_ids()? {
            out.push(self.read_image(&id, &refs)?);
        }
        out.sort_by(|a, b| a.names.first().cmp(&b.names.first()).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Finds an image by name (`name:tag`, `name` for `name:latest`), by id (`sha256:...`),
    /// or by an unambiguous prefix of at least 4 hex digits of its id.
    pub fn get(&self, name: &str) -> Result<Image, ImageError> {
        let refs = self.read_refs()?;
        let want = match ImageRef::parse(name) {
            Ok(ImageRef::Stored(n)) => n,
            _ => name.to_string(),
        };
        if let Some(id) = refs.get(&want).or_else(|| refs.get(name)) {
            return self.read_image(id, &refs);
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<Digest> = self
                .image_ids()?
                .into_iter()
                .filter(|d| d.hex().starts_with(hex))
                .collect();
            if let [one] = matches.as_slice() {
                return self.read_image(one, &refs);
            }
            if matches.len() > 1 {
                return Err(ImageError::malformed(
                    format!("image id prefix {hex}"),
                    "ambiguous",
                ));
            }
        }
        Err(ImageError::NotFound(name.to_string()))
    }
}
