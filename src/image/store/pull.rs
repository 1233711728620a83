//! Pulling: resolve a source, unpack the layers the store lacks, record the image and name it.

use std::fs;
use std::sync::Arc;

use super::fsutil::{FileLock, TempDir, now_secs, write_atomic};
use super::{Image, Store, StoredLayer};
use crate::image::ImageError;
use crate::image::digest::{Digest, chain_ids};
use crate::image::layer::rooted::RootDir;
use crate::image::layer::{Expect, UnpackLimits, UnpackStats, unpack_blob};
use crate::image::progress::{Progress, Reporting, Silent};
use crate::image::reference::ImageRef;
use crate::image::source::{self, SourceOptions};

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    pub source: SourceOptions,
    pub limits: UnpackLimits,
    /// The name to store the image under, instead of the one the source suggests.
    pub name: Option<String>,
    pub progress: Arc<dyn Progress>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            source: SourceOptions::default(),
            limits: UnpackLimits::default(),
            name: None,
            progress: Arc::new(Silent),
        }
    }
}

/// What a layer's `layer.json` records.
#[derive(serde::Serialize, serde::Deserialize)]
struct LayerRecord {
    layer: StoredLayer,
    stats: UnpackStats,
    compression: crate::image::layer::Compression,
}

impl Store {
    /// Imports the image `r` names into the store and returns it. Idempotent: layers already
    /// present are not read again, and a stored reference just returns the stored image.
    /// Every layer is verified against its blob digest (when the source names one) and its
    /// diff id while it streams; on any error nothing partial is left in the store.
    pub fn pull(&self, r: &ImageRef, opts: &PullOptions) -> Result<Image, ImageError> {
        if let ImageRef::Stored(name) = r {
            return self.get(name).map_err(|e| match e {
                ImageError::NotFound(n) => ImageError::Unsupported(format!(
                    "image {n:?} is not in the store; to fetch it, name a source: docker://HOST/REPO:TAG, oci:DIR, oci-archive:FILE or docker-archive:FILE"
                )),
                e => e,
            });
        }
        let _shared = self.lock(false)?;
        let work = TempDir::new(&self.tmp(), "pull")?;
        let mut src = source::open(r, &opts.source, &work.path().join("archive.tar"))?;
        let resolved = src.resolve()?;
        let name = match &opts.name {
            Some(n) => match ImageRef::parse(n)? {
                ImageRef::Stored(n) => n,
                _ => {
                    return Err(ImageError::BadReference {
                        reference: n.clone(),
                        reason: "a name, not a source".into(),
                    });
                }
            },
            None => resolved.default_name.clone(),
        };
        opts.progress.resolved(&name, resolved.layers.len());
        let diff_ids: Vec<Digest> = resolved.layers.iter().map(|l| l.diff_id.clone()).collect();
        let chains = chain_ids(&diff_ids);
        let mut stored = Vec::with_capacity(chains.len());
        for (i, layer) in resolved.layers.iter().enumerate() {
            let chain = &chains[i];
            let dir = self.layer_dir(chain);
            let short = layer.diff_id.short().to_string();
            // A layer present from another image may have come from a differently
            // compressed blob; the image records its own.
            let own_blob = |mut l: StoredLayer| {
                l.blob = layer.blob.as_ref().map(|d| d.digest.clone());
                l
            };
            if let Some(rec) = self.layer_record(chain)? {
                opts.progress.layer_done(i, &short, false);
                stored.push(own_blob(rec.layer));
                continue;
            }
            let _layer_lock = FileLock::acquire(
                &self
                    .root
                    .join("layers/locks")
                    .join(format!("{}.lock", chain.hex())),
                true,
            )?;
            // Another process may have finished it while we waited.
            if let Some(rec) = self.layer_record(chain)? {
                opts.progress.layer_done(i, &short, false);
                stored.push(own_blob(rec.layer));
                continue;
            }
            let size = layer.blob.as_ref().map(|d| d.size).filter(|s| *s > 0);
            opts.progress.layer_start(i, &short, size);
            let raw = src.open_layer(layer)?;
            let raw = Box::new(Reporting {
                inner: raw,
                progress: opts.progress.clone(),
                index: i,
                read: 0,
                last: 0,
            });
            let expect = Expect {
                blob: layer.blob.as_ref().map(|d| d.digest.clone()),
                blob_size: size,
                diff_id: Some(layer.diff_id.clone()),
            };
            let lowers = chains[..i]
                .iter()
                .rev()
                .map(|c| {
                    RootDir::open(&self.layer_diff(c))
                        .map_err(|e| ImageError::sys(format!("open layer {}", c.short()), e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let tmp = TempDir::new(&self.tmp(), "layer")?;
            let diff = tmp.path().join("diff");
            fs::create_dir(&diff)
                .map_err(|e| ImageError::sys(format!("create {}", diff.display()), e))?;
            let (stream, stats) = unpack_blob(
                raw,
                expect,
                &diff,
                &lowers,
                layer.diff_id.short(),
                opts.limits,
                &self.owners,
            )?;
            let rec = LayerRecord {
                layer: StoredLayer {
                    diff_id: stream.diff_id.clone(),
                    chain_id: chain.clone(),
                    blob: layer.blob.as_ref().map(|d| d.digest.clone()),
                    size: stream.diff_size,
                },
                stats,
                compression: stream.compression,
            };
            let json = serde_json::to_vec_pretty(&rec)
                .map_err(|e| ImageError::malformed("layer record", e))?;
            write_atomic(&tmp.path().join("layer.json"), &json)?;
            fs::rename(tmp.path(), &dir)
                .map_err(|e| ImageError::sys(format!("rename layer into {}", dir.display()), e))?;
            tmp.keep();
            opts.progress.layer_done(i, &short, true);
            stored.push(rec.layer);
        }
        if let Some((d, bytes)) = &resolved.manifest {
            self.put_blob(d, bytes)?;
        }
        self.put_blob(&resolved.config_digest, &resolved.config_bytes)?;
        let image = Image {
            id: resolved.config_digest.clone(),
            manifest_digest: resolved.manifest.as_ref().map(|(d, _)| d.clone()),
            layers: stored,
            source: r.to_string(),
            pulled_at: now_secs(),
            names: Vec::new(),
        };
        let json = serde_json::to_vec_pretty(&image)
            .map_err(|e| ImageError::malformed("image record", e))?;
        write_atomic(&self.image_path(&image.id), &json)?;
        let id = image.id.clone();
        self.update_refs(|refs| {
            refs.insert(name.clone(), id);
        })?;
        drop(work);
        self.get(&name)
    }

    /// The record of a complete layer, or `None` if the layer is not in the store.
    fn layer_record(&self, chain: &Digest) -> Result<Option<LayerRecord>, ImageError> {
        let p = self.layer_dir(chain).join("layer.json");
        match fs::read(&p) {
            Ok(data) => {
                Ok(Some(serde_json::from_slice(&data).map_err(|e| {
                    ImageError::malformed(p.display().to_string(), e)
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::sys(format!("read {}", p.display()), e)),
        }
    }
}
