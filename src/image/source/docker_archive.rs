//! A docker-archive: the tar `docker save` and skopeo write. `manifest.json` lists the config
//! file and the layer files; layers are named by file, not by digest, so they are verified
//! against the config's diff ids (and against the file name when it is a blob digest, as in
//! Docker 25+ archives that embed an OCI layout).

use std::io::Read;

use super::files::{SourceFiles, TarFiles};
use super::{LayerRef, Resolved, Source, config_layers};
use crate::image::ImageError;
use crate::image::digest::Digest;
use crate::image::manifest::{Descriptor, MAX_JSON};

pub struct DockerArchive {
    files: TarFiles,
    base: String,
}

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The digest a member name like `blobs/sha256/<hex>` or `<hex>.json` carries, if any.
fn digest_in_name(name: &str) -> Option<Digest> {
    let file = name.rsplit('/').next()?;
    let hex = file
        .strip_suffix(".json")
        .or_else(|| file.strip_suffix(".tar"))
        .unwrap_or(file);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

impl DockerArchive {
    pub fn new(files: TarFiles, base: String) -> Self {
        DockerArchive { files, base }
    }
}

impl Source for DockerArchive {
    fn resolve(&mut self) -> Result<Resolved, ImageError> {
        let what = self.files.describe();
        let bytes = self
            .files
            .read_small("manifest.json", MAX_JSON)
            .map_err(|_| {
                ImageError::malformed(what.clone(), "not a docker-archive (no manifest.json)")
            })?;
        let entries: Vec<Entry> = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::malformed(format!("{what}: manifest.json"), e))?;
        let entry = match entries.as_slice() {
            [one] => one,
            [] => return Err(ImageError::malformed(what, "manifest.json lists no image")),
            _ => {
                return Err(ImageError::Unsupported(format!(
                    "{what}: holds {} images; rind reads archives of one image",
                    entries.len()
                )));
            }
        };
        let config_bytes = self.files.read_small(&entry.config, MAX_JSON)?;
        let config_digest = Digest::of(&config_bytes);
        if let Some(named) = digest_in_name(&entry.config)
            && named != config_digest
        {
            return Err(ImageError::DigestMismatch {
                what: format!("{what}: {}", entry.config),
                expected: named.to_string(),
                actual: config_digest.to_string(),
            });
        }
        let blobs = entry
            .layers
            .iter()
            .map(|l| {
                let blob = digest_in_name(l)
                    .filter(|_| l.starts_with("blobs/"))
                    .map(|digest| Descriptor {
                        media_type: String::new(),
                        digest,
                        size: 0,
                        annotations: None,
                        platform: None,
                        urls: None,
                    });
                (blob, Some(l.clone()))
            })
            .collect();
        let (config, layers) = config_layers(&config_bytes, &what, blobs)?;
        let default_name = entry
            .repo_tags
            .as_ref()
            .and_then(|t| t.first())
            .cloned()
            .unwrap_or_else(|| format!("localhost/{}:latest", self.base));
        Ok(Resolved {
            default_name,
            manifest: None,
            config_digest,
            config_bytes,
            config,
            layers,
        })
    }

    fn open_layer(&mut self, layer: &LayerRef) -> Result<Box<dyn Read + Send>, ImageError> {
        let member = layer.member.as_ref().ok_or_else(|| {
            ImageError::malformed(self.files.describe(), "layer without a file name")
        })?;
        Ok(self.files.open(member)?.0)
    }
}
