//! An OCI image layout (image-spec image-layout.md), in a directory or in a tar archive.

use std::io::Read;

use super::files::SourceFiles;
use super::{LayerRef, Resolved, Source, config_layers, manifest_blobs, read_verified};
use crate::image::ImageError;
use crate::image::manifest::{
    Descriptor, Document, Index, MAX_JSON, REF_NAME, choose_platform, parse_document,
};

pub struct LayoutSource {
    files: Box<dyn SourceFiles>,
    tag: Option<String>,
    base: String,
}

fn blob_name(d: &Descriptor) -> String {
    format!("blobs/sha256/{}", d.digest.hex())
}

impl LayoutSource {
    /// Checks that `files` hold an OCI layout (the `oci-layout` marker file).
    pub fn new(
        files: Box<dyn SourceFiles>,
        tag: Option<String>,
        base: String,
    ) -> Result<Self, ImageError> {
        let marker = files.read_small("oci-layout", 4096).map_err(|_| {
            ImageError::malformed(
                files.describe(),
                "not an OCI image layout (no oci-layout file)",
            )
        })?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Marker {
            image_layout_version: String,
        }
        let m: Marker = serde_json::from_slice(&marker)
            .map_err(|e| ImageError::malformed(format!("{}: oci-layout", files.describe()), e))?;
        if !m.image_layout_version.starts_with("1.") {
            return Err(ImageError::Unsupported(format!(
                "{}: OCI layout version {} is not supported",
                files.describe(),
                m.image_layout_version
            )));
        }
        Ok(LayoutSource { files, tag, base })
    }

    /// The index.json entry the tag names, or the only one when no tag is given.
    fn pick<'a>(&self, index: &'a Index) -> Result<&'a Descriptor, ImageError> {
        let what = format!("{}: index.json", self.files.describe());
        let tags: Vec<&str> = index
            .manifests
            .iter()
            .filter_map(|d| d.annotation(REF_NAME))
            .collect();
        match &self.tag {
            Some(t) => index
                .manifests
                .iter()
                .find(|d| d.annotation(REF_NAME) == Some(t.as_str()))
                .ok_or_else(|| {
                    ImageError::malformed(
                        what,
                        format!("no image tagged {t:?} (tags: {})", tags.join(", ")),
                    )
                }),
            None if index.manifests.len() == 1 => Ok(&index.manifests[0]),
            None => Err(ImageError::malformed(
                what,
                format!(
                    "{} images in the layout; name one with :TAG (tags: {})",
                    index.manifests.len(),
                    tags.join(", ")
                ),
            )),
        }
    }
}

impl Source for LayoutSource {
    fn resolve(&mut self) -> Result<Resolved, ImageError> {
        let what = self.files.describe();
        let index_bytes = self.files.read_small("index.json", MAX_JSON)?;
        let index: Index = serde_json::from_slice(&index_bytes)
            .map_err(|e| ImageError::malformed(format!("{what}: index.json"), e))?;
        let top = self.pick(&index)?.clone();
        let tag = self
            .tag
            .clone()
            .or_else(|| top.annotation(REF_NAME).map(str::to_string));
        let mut desc = top;
        // Nested indexes (multi-platform images) resolve to this host's platform.
        for _ in 0..4 {
            let bytes = read_verified(self.files.as_ref(), &blob_name(&desc), &desc)?;
            match parse_document(&bytes, &format!("{what}: manifest {}", desc.digest))? {
                Document::Index(ix) => {
                    desc = choose_platform(&ix, &format!("{what}: index {}", desc.digest))?.clone();
                }
                Document::Manifest(m) => {
                    let config_bytes =
                        read_verified(self.files.as_ref(), &blob_name(&m.config), &m.config)?;
                    let (config, layers) = config_layers(&config_bytes, &what, manifest_blobs(&m))?;
                    let tag = tag
                        .filter(|t| crate::image::reference::valid_tag(t))
                        .unwrap_or_else(|| "latest".into());
                    return Ok(Resolved {
                        default_name: format!("localhost/{}:{tag}", self.base),
                        manifest: Some((desc.digest.clone(), bytes)),
                        config_digest: m.config.digest.clone(),
                        config_bytes,
                        config,
                        layers,
                    });
                }
            }
        }
        Err(ImageError::malformed(what, "indexes nested too deep"))
    }

    fn open_layer(&mut self, layer: &LayerRef) -> Result<Box<dyn Read + Send>, ImageError> {
        let desc = layer.blob.as_ref().ok_or_else(|| {
            ImageError::malformed(self.files.describe(), "layer without a descriptor")
        })?;
        Ok(self.files.open(&blob_name(desc))?.0)
    }
}
