//! Manifests, indexes and descriptors, in both the OCI and the Docker v2 schema 2 forms (they
//! share a shape), and the choice of a platform from an index.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ImageError;
use super::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The annotation an OCI layout uses to tag a manifest.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Manifests and configs are read into memory; anything bigger than this is not one.
pub const MAX_JSON: u64 = 8 << 20;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// A manifest-or-index document.
pub enum Document {
    Manifest(Manifest),
    Index(Index),
}

/// Parses a manifest or an index, telling them apart by `mediaType` (or, when it is absent
/// as older OCI producers allow, by which fields are present). Schema 1 is refused.
pub fn parse_document(bytes: &[u8], what: &str) -> Result<Document, ImageError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let bad = |e: serde_json::Error| ImageError::malformed(what.to_string(), e);
    let p: Probe = serde_json::from_slice(bytes).map_err(bad)?;
    let mt = p.media_type.as_deref().unwrap_or("");
    if mt == DOCKER_SCHEMA1 || p.schema_version == Some(1) {
        return Err(ImageError::Unsupported(format!(
            "{what}: Docker schema 1 manifests are not supported"
        )));
    }
    if mt == OCI_INDEX || mt == DOCKER_LIST || (mt.is_empty() && p.manifests.is_some()) {
        Ok(Document::Index(serde_json::from_slice(bytes).map_err(bad)?))
    } else if mt.is_empty() || mt == OCI_MANIFEST || mt == DOCKER_MANIFEST {
        Ok(Document::Manifest(
            serde_json::from_slice(bytes).map_err(bad)?,
        ))
    } else {
        Err(ImageError::Unsupported(format!(
            "{what}: unsupported media type {mt}"
        )))
    }
}

/// The Go architecture name of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "arm" => "arm",
        other => other,
    }
}

/// Picks the manifest for linux on this machine's architecture from an index. Entries
/// without a platform (attestations, or a single-image layout) are used only when nothing
/// names a platform at all.
pub fn choose_platform<'a>(index: &'a Index, what: &str) -> Result<&'a Descriptor, ImageError> {
    let arch = host_arch();
    let manifests: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.annotation("vnd.docker.reference.type") != Some("attestation-manifest"))
        .collect();
    if let Some(d) = manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == arch)
    }) {
        return Ok(d);
    }
    if manifests.iter().all(|d| d.platform.is_none())
        && let [only] = manifests.as_slice()
    {
        return Ok(only);
    }
    let have: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| format!("{}/{}", p.os, p.architecture))
        .collect();
    Err(ImageError::malformed(
        what.to_string(),
        format!(
            "no manifest for linux/{arch} (index has: {})",
            if have.is_empty() {
                "none".to_string()
            } else {
                have.join(", ")
            }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(os: &str, arch: &str, hex: char) -> String {
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{}","size":1,"platform":{{"os":"{os}","architecture":"{arch}"}}}}"#,
            hex.to_string().repeat(64)
        )
    }

    #[test]
    fn choose_platform_picks_linux_on_host_arch() {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{},{}]}}"#,
            desc("linux", "s390x", 'a'),
            desc("linux", host_arch(), 'b')
        );
        let Document::Index(ix) = parse_document(json.as_bytes(), "index").unwrap() else {
            panic!("not an index")
        };
        assert_eq!(
            choose_platform(&ix, "x").unwrap().digest.hex(),
            "b".repeat(64)
        );
    }

    #[test]
    fn choose_platform_names_what_the_index_has_when_nothing_fits() {
        let json = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            desc("windows", "amd64", 'a')
        );
        let Document::Index(ix) = parse_document(json.as_bytes(), "index").unwrap() else {
            panic!("not an index")
        };
        let e = choose_platform(&ix, "x").unwrap_err().to_string();
        assert!(e.contains("windows/amd64"), "{e}");
    }

    #[test]
    fn schema1_is_refused() {
        let e = parse_document(br#"{"schemaVersion":1,"name":"x"}"#, "m")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("schema 1"), "{e}");
    }
}
