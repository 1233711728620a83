//! Removing names and images, and collecting what no image and no container root uses.

use std::collections::HashSet;
use std::fs;

use super::Store;
use super::fsutil::remove_tree;
use crate::image::ImageError;
use crate::image::digest::Digest;

/// What `prune` removed.
#[derive(Debug, Default, serde::Serialize)]
pub struct PruneReport {
    pub images: Vec<Digest>,
    pub layers: Vec<Digest>,
    pub blobs: usize,
    pub temp_dirs: usize,
}

impl Store {
    /// Images that a container root still uses.
    fn leased(&self) -> Result<HashSet<Digest>, ImageError> {
        #[derive(serde::Deserialize)]
        struct Lease {
            image: Digest,
        }
        let dir = self.root.join("leases");
        let mut out = HashSet::new();
        let rd = fs::read_dir(&dir)
            .map_err(|e| ImageError::sys(format!("read {}", dir.display()), e))?;
        for ent in rd.flatten() {
            if let Ok(data) = fs::read(ent.path())
                && let Ok(l) = serde_json::from_slice::<Lease>(&data)
            {
                out.insert(l.image);
            }
        }
        Ok(out)
    }

    /// Removes a name, or, given an image id, every name of that image. The image record
    /// goes with its last name unless a container root uses it; layers are freed by `prune`.
    /// Returns the id of the image the name pointed at.
    pub fn remove(&self, name: &str) -> Result<Digest, ImageError> {
        let _excl = self.lock(true)?;
        let image = self.get(name)?;
        let id = image.id.clone();
        let by_id = !image.names.iter().any(|n| {
            matches!(crate::image::ImageRef::parse(name), Ok(crate::image::ImageRef::Stored(s)) if s == *n)
        });
        let left = self.update_refs(|refs| {
            if by_id {
                refs.retain(|_, v| *v != id);
            } else if let Ok(crate::image::ImageRef::Stored(n)) =
                crate::image::ImageRef::parse(name)
            {
                refs.remove(&n);
            }
            refs.values().filter(|v| **v == id).count()
        })?;
        if left == 0 && !self.leased()?.contains(&id) {
            let p = self.image_path(&id);
            fs::remove_file(&p)
                .map_err(|e| ImageError::sys(format!("remove {}", p.display()), e))?;
        }
        Ok(id)
    }

    /// Removes images without names and without container roots, then every layer and blob
    /// no remaining image needs, and leftovers of interrupted pulls. Holds the store's
    /// exclusive lock, so no pull or root preparation runs meanwhile.
    pub fn prune(&self) -> Result<PruneReport, ImageError> {
        let _excl = self.lock(true)?;
        let mut report = PruneReport::default();
        let leased = self.leased()?;
        let mut keep_layers = HashSet::new();
        let mut keep_blobs = HashSet::new();
        for img in self.list()? {
            if img.names.is_empty() && !leased.contains(&img.id) {
                let p = self.image_path(&img.id);
                fs::remove_file(&p)
                    .map_err(|e| ImageError::sys(format!("remove {}", p.display()), e))?;
                report.images.push(img.id);
                continue;
            }
            keep_layers.extend(img.layers.iter().map(|l| l.chain_id.hex().to_string()));
            keep_blobs.insert(img.id.hex().to_string());
            if let Some(m) = &img.manifest_digest {
                keep_blobs.insert(m.hex().to_string());
            }
        }
        let layers = self.root.join("layers/sha256");
        for ent in fs::read_dir(&layers)
            .map_err(|e| ImageError::sys(format!("read {}", layers.display()), e))?
            .flatten()
        {
            let name = ent.file_name().to_string_lossy().into_owned();
            if !keep_layers.contains(&name) {
                remove_tree(&ent.path())?;
                let _ =
                    fs::remove_file(self.root.join("layers/locks").join(format!("{name}.lock")));
                if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                    report.layers.push(d);
                }
            }
        }
        let blobs = self.root.join("blobs/sha256");
        for ent in fs::read_dir(&blobs)
            .map_err(|e| ImageError::sys(format!("read {}", blobs.display()), e))?
            .flatten()
        {
            if !keep_blobs.contains(&*ent.file_name().to_string_lossy()) {
                fs::remove_file(ent.path())
                    .map_err(|e| ImageError::sys(format!("remove {}", ent.path().display()), e))?;
                report.blobs += 1;
            }
        }
        // With the exclusive lock held no pull is running, so everything in tmp/ is left
        // over from one that was killed.
        for ent in fs::read_dir(self.tmp())
            .map_err(|e| ImageError::sys("read tmp".to_string(), e))?
            .flatten()
        {
            remove_tree(&ent.path())?;
            report.temp_dirs += 1;
        }
        Ok(report)
    }
}
