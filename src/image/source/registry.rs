//! A registry speaking the distribution API v2 (the OCI distribution spec): manifests and
//! blobs over HTTPS, or plain HTTP for hosts marked insecure, with anonymous bearer tokens.

use std::io::Read;
use std::time::Duration;

use super::{
    LayerRef, Resolved, Source, SourceOptions, config_layers, manifest_blobs, verify_bytes,
};
use crate::image::ImageError;
use crate::image::digest::Digest;
use crate::image::manifest::{
    DOCKER_LIST, DOCKER_MANIFEST, Descriptor, Document, MAX_JSON, OCI_INDEX, OCI_MANIFEST,
    choose_platform, parse_document,
};
use crate::image::reference::RegistryRef;

/// Env var holding a comma-separated list of hosts to reach over plain HTTP.
pub const ENV_INSECURE: &str = "RIND_INSECURE_REGISTRIES";

pub struct RegistrySource {
    reg: RegistryRef,
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas).
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_string(),
        params,
    })
}

/// Percent-encodes a query value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `errors[0].message` of a registry error body, if it has one.
fn registry_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    Some(format!("{code} {msg}").trim().to_string())
}

impl SourceOptions {
    /// The options with the hosts from `RIND_INSECURE_REGISTRIES` added.
    pub fn with_env(mut self) -> Self {
        if let Ok(v) = std::env::var(ENV_INSECURE) {
            self.insecure_registries.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
        self
    }
}

impl RegistrySource {
    pub fn new(reg: RegistryRef, opts: &SourceOptions) -> Result<Self, ImageError> {
        let insecure = opts
            .insecure_registries
            .iter()
            .any(|h| *h == reg.host || *h == reg.api_host);
        let scheme = if insecure { "http" } else { "https" };
        let base = format!("{scheme}://{}/v2/{}", reg.api_host, reg.repo);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(concat!("rind/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(RegistrySource {
            reg,
            base,
            agent,
            token: None,
        })
    }

    fn err(&self, step: String, reason: impl ToString) -> ImageError {
        ImageError::Registry {
            step,
            reason: reason.to_string(),
        }
    }

    /// GETs `url`, answering one bearer challenge with an anonymous token.
    fn get(
        &mut self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, ImageError> {
        for attempt in 0..2 {
            let mut req = self.agent.get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(t) = &self.token {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            let resp = req.call().map_err(|e| self.err(format!("GET {url}"), e))?;
            if resp.status() == 401 && attempt == 0 {
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge)
                    .ok_or_else(|| {
                        self.err(
                            format!("GET {url}"),
                            "401 unauthorized without a usable WWW-Authenticate challenge",
                        )
                    })?;
                self.token = Some(self.fetch_token(&challenge, url)?);
                continue;
            }
            if !resp.status().is_success() {
                let status = resp.status();
                let mut body = resp.into_body();
                let text = body.with_config().limit(64 * 1024).read_to_vec().ok();
                let msg = text
                    .as_deref()
                    .and_then(registry_message)
                    .unwrap_or_default();
                return Err(self.err(format!("GET {url}"), format!("{status} {msg}").trim()));
            }
            return Ok(resp);
        }
        Err(self.err(
            format!("GET {url}"),
            "401 unauthorized: anonymous token refused",
        ))
    }

    fn fetch_token(&self, c: &Challenge, url: &str) -> Result<String, ImageError> {
        if !c.scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.err(
                format!("GET {url}"),
                format!(
                    "requires {} authentication; rind pulls anonymously only",
                    c.scheme
                ),
            ));
        }
        let realm = c
            .param("realm")
            .ok_or_else(|| self.err(format!("GET {url}"), "bearer challenge without a realm"))?;
        let scope = c
            .param("scope")
            .map(str::to_string)
            .unwrap_or_else(|| format!("repository:{}:pull", self.reg.repo));
        let mut token_url = format!("{realm}?scope={}", query_escape(&scope));
        if let Some(service) = c.param("service") {
            token_url.push_str(&format!("&service={}", query_escape(service)));
        }
        let resp = self
            .agent
            .get(&token_url)
            .call()
            .map_err(|e| self.err(format!("GET {token_url}"), e))?;
        if !resp.status().is_success() {
            return Err(self.err(format!("GET {token_url}"), resp.status()));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = resp
            .into_body()
            .with_config()
            .limit(MAX_JSON)
            .read_to_vec()
            .map_err(|e| self.err(format!("GET {token_url}"), e))?;
        let t: Token =
            serde_json::from_slice(&body).map_err(|e| self.err(format!("GET {token_url}"), e))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.err(format!("GET {token_url}"), "no token in the answer"))
    }

    /// Fetches a manifest or index by tag or digest; verifies it when asked by digest.
    fn manifest(&mut self, reference: &str) -> Result<(Digest, Vec<u8>), ImageError> {
        let url = format!("{}/manifests/{reference}", self.base);
        let accept = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");
        let resp = self.get(&url, Some(&accept))?;
        let bytes = resp
            .into_body()
            .with_config()
            .limit(MAX_JSON)
            .read_to_vec()
            .map_err(|e| self.err(format!("GET {url}"), e))?;
        let digest = Digest::of(&bytes);
        if let Ok(want) = Digest::parse(reference)
            && want != digest
        {
            return Err(ImageError::DigestMismatch {
                what: url,
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        Ok((digest, bytes))
    }

    fn blob(&mut self, d: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        let url = format!("{}/blobs/{}", self.base, d.digest);
        let resp = self.get(&url, None)?;
        Ok(Box::new(resp.into_body().into_reader()))
    }
}

impl Source for RegistrySource {
    fn resolve(&mut self) -> Result<Resolved, ImageError> {
        let mut reference = self.reg.reference();
        for _ in 0..4 {
            let (digest, bytes) = self.manifest(&reference)?;
            let what = format!("docker://{}/{}@{digest}", self.reg.host, self.reg.repo);
            match parse_document(&bytes, &what)? {
                Document::Index(ix) => reference = choose_platform(&ix, &what)?.digest.to_string(),
                Document::Manifest(m) => {
                    let mut r = self.blob(&m.config)?;
                    let mut config_bytes = Vec::new();
                    (&mut r)
                        .take(MAX_JSON)
                        .read_to_end(&mut config_bytes)
                        .map_err(|e| self.err(format!("read config of {what}"), e))?;
                    verify_bytes(&config_bytes, &m.config, &format!("{what}: config"))?;
                    let (config, layers) = config_layers(&config_bytes, &what, manifest_blobs(&m))?;
                    return Ok(Resolved {
                        default_name: self.reg.store_name(),
                        manifest: Some((digest, bytes)),
                        config_digest: m.config.digest.clone(),
                        config_bytes,
                        config,
                        layers,
                    });
                }
            }
        }
        Err(self.err(
            format!("resolve {}", self.reg.store_name()),
            "indexes nested too deep",
        ))
    }

    fn open_layer(&mut self, layer: &LayerRef) -> Result<Box<dyn Read + Send>, ImageError> {
        let d = layer
            .blob
            .clone()
            .ok_or_else(|| self.err("layer".into(), "layer without a descriptor"))?;
        self.blob(&d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_bearer_challenge_with_commas_in_quotes() {
        let c = parse_challenge(r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example/token"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(c.param("service"), Some("reg"));
    }

    #[test]
    fn query_escape_encodes_reserved_characters() {
        assert_eq!(
            query_escape("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
