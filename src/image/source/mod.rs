//! Image sources: an OCI layout directory, an OCI archive, a docker-archive, a registry. Each
//! resolves a reference to a verified manifest and config, and streams layer blobs on demand
//! (the caller verifies those while unpacking).

pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod registry;

use std::io::Read;
use std::path::Path;

use oci_spec::image::ImageConfiguration;

use super::ImageError;
use super::digest::Digest;
use super::manifest::{Descriptor, MAX_JSON, Manifest};
use super::reference::ImageRef;
use files::{DirFiles, SourceFiles, TarFiles};

/// One layer of a resolved image.
#[derive(Clone, Debug)]
pub struct LayerRef {
    /// The manifest's descriptor; `None` in a docker-archive, which names layers by file.
    pub blob: Option<Descriptor>,
    /// The uncompressed digest from the config's `rootfs.diff_ids`.
    pub diff_id: Digest,
    /// Where the blob is inside the source (a file name in an archive), when not by digest.
    pub member: Option<String>,
}

/// A reference resolved to one image whose manifest and config have been verified.
pub struct Resolved {
    /// The name to store the image under when the user gives none.
    pub default_name: String,
    /// The manifest's digest and bytes; a docker-archive has none.
    pub manifest: Option<(Digest, Vec<u8>)>,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfiguration,
    pub layers: Vec<LayerRef>,
}

/// An image source that has been opened.
pub trait Source {
    /// Finds the image and verifies its manifest and config.
    fn resolve(&mut self) -> Result<Resolved, ImageError>;
    /// Streams a layer's raw blob; not verified here.
    fn open_layer(&mut self, layer: &LayerRef) -> Result<Box<dyn Read + Send>, ImageError>;
}

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// Hosts (`host` or `host:port`) that are spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
}

/// Opens the source a reference names. `scratch` is a file path the source may create for a
/// decompressed archive; the caller removes it. A stored reference is not a source.
pub fn open(
    r: &ImageRef,
    opts: &SourceOptions,
    scratch: &Path,
) -> Result<Box<dyn Source>, ImageError> {
    match r {
        ImageRef::OciLayout { dir, tag } => {
            let files = DirFiles { root: dir.clone() };
            let base = base_name(dir);
            Ok(Box::new(layout::LayoutSource::new(
                Box::new(files),
                tag.clone(),
                base,
            )?))
        }
        ImageRef::OciArchive { file, tag } => {
            let files = TarFiles::open(file, scratch)?;
            let base = base_name(file);
            Ok(Box::new(layout::LayoutSource::new(
                Box::new(files),
                tag.clone(),
                base,
            )?))
        }
        ImageRef::DockerArchive { file } => {
            let files = TarFiles::open(file, scratch)?;
            Ok(Box::new(docker_archive::DockerArchive::new(
                files,
                base_name(file),
            )))
        }
        ImageRef::Registry(reg) => Ok(Box::new(registry::RegistrySource::new(reg.clone(), opts)?)),
        ImageRef::Stored(name) => Err(ImageError::NotFound(name.clone())),
    }
}

/// The file or directory name without a `.tar` style extension, lower-cased into a valid
/// repository name.
fn base_name(p: &Path) -> String {
    let s = p
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let s = s
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".tar")
        .to_lowercase();
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if s.is_empty() { "image".into() } else { s }
}

/// Reads a metadata blob and checks it against its descriptor.
pub(crate) fn read_verified(
    files: &dyn SourceFiles,
    name: &str,
    desc: &Descriptor,
) -> Result<Vec<u8>, ImageError> {
    let bytes = files.read_small(name, MAX_JSON)?;
    verify_bytes(&bytes, desc, &format!("{}: {name}", files.describe()))?;
    Ok(bytes)
}

pub(crate) fn verify_bytes(bytes: &[u8], desc: &Descriptor, what: &str) -> Result<(), ImageError> {
    let got = Digest::of(bytes);
    if got != desc.digest {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: desc.digest.to_string(),
            actual: got.to_string(),
        });
    }
    if bytes.len() as u64 != desc.size {
        return Err(ImageError::malformed(
            what.to_string(),
            format!("descriptor says {} bytes, got {}", desc.size, bytes.len()),
        ));
    }
    Ok(())
}

/// Parses a config and pairs its diff ids with the manifest's layers.
pub(crate) fn config_layers(
    config_bytes: &[u8],
    what: &str,
    blobs: Vec<(Option<Descriptor>, Option<String>)>,
) -> Result<(ImageConfiguration, Vec<LayerRef>), ImageError> {
    let config: ImageConfiguration = serde_json::from_slice(config_bytes)
        .map_err(|e| ImageError::malformed(format!("{what}: image config"), e))?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != blobs.len() {
        return Err(ImageError::malformed(
            format!("{what}: image config"),
            format!("{} diff ids for {} layers", diff_ids.len(), blobs.len()),
        ));
    }
    let mut layers = Vec::with_capacity(blobs.len());
    for (d, (blob, member)) in diff_ids.iter().zip(blobs) {
        layers.push(LayerRef {
            blob,
            diff_id: Digest::parse(d)?,
            member,
        });
    }
    Ok((config, layers))
}

/// The layers of a manifest, as (descriptor, no member) pairs.
pub(crate) fn manifest_blobs(m: &Manifest) -> Vec<(Option<Descriptor>, Option<String>)> {
    m.layers.iter().map(|d| (Some(d.clone()), None)).collect()
}
