//! A registry speaking the distribution API v2 (the OCI distribution spec): manifests and
//! blobs over HTTPS, or plain HTTP for hosts marked insecure, with anonymous bearer tokens.
//!
//! Everything read from the network goes through one seam, [`transport::Transport`]: ureq in
//! a real pull, canned answers in the unit tests and the fuzz crate (`fuzz/`, feature
//! `fuzzing`), so that the parsing of whatever a registry sends can be driven without one.

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

use transport::Http;
#[cfg(feature = "fuzzing")]
pub use transport::{Reply, Transport};

/// The seam between the client and the network.
mod transport {
    use std::io::Read;

    /// One answer to a GET: as much of it as the client reads.
    pub struct Reply {
        pub status: u16,
        /// The `WWW-Authenticate` header, when present and readable as text.
        pub www_authenticate: Option<String>,
        pub body: Box<dyn Read + Send>,
    }

    /// How the client reaches a registry.
    pub trait Transport: Send {
        /// GETs `url` with `headers`. An error means no answer at all (connection, TLS).
        fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String>;
    }

    /// HTTP(S) through ureq.
    pub struct Http(pub ureq::Agent);

    impl Transport for Http {
        fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
            let mut req = self.0.get(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = req.call().map_err(|e| e.to_string())?;
            let www_authenticate = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            Ok(Reply {
                status: resp.status().as_u16(),
                www_authenticate,
                body: Box::new(resp.into_body().into_reader()),
            })
        }
    }
}

/// Reads a whole body, refusing one longer than `limit` bytes.
fn read_body(body: Box<dyn Read + Send>, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    body.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("the body is longer than {limit} bytes"));
    }
    Ok(out)
}

/// `404 Not Found`: the code and, when HTTP names it, its reason.
fn status_text(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status) {
        Ok(code) => code.to_string(),
        Err(_) => status.to_string(),
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

pub struct RegistrySource {
    reg: RegistryRef,
    base: String,
    transport: Box<dyn transport::Transport>,
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
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(concat!("rind/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self::with_transport(reg, insecure, Box::new(Http(agent))))
    }

    /// A client that reaches the registry through `transport`, over `http` when `insecure`.
    fn with_transport(
        reg: RegistryRef,
        insecure: bool,
        transport: Box<dyn transport::Transport>,
    ) -> Self {
        let scheme = if insecure { "http" } else { "https" };
        let base = format!("{scheme}://{}/v2/{}", reg.api_host, reg.repo);
        RegistrySource {
            reg,
            base,
            transport,
            token: None,
        }
    }

    /// [`RegistrySource::with_transport`], for the fuzz crate.
    #[cfg(feature = "fuzzing")]
    pub fn with_fake_transport(
        reg: RegistryRef,
        insecure: bool,
        transport: Box<dyn Transport>,
    ) -> Self {
        Self::with_transport(reg, insecure, transport)
    }

    fn err(&self, step: String, reason: impl ToString) -> ImageError {
        ImageError::Registry {
            step,
            reason: reason.to_string(),
        }
    }

    /// GETs `url`, answering one bearer challenge with an anonymous token.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<transport::Reply, ImageError> {
        for attempt in 0..2 {
            let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
            let mut headers = Vec::new();
            if let Some(a) = accept {
                headers.push(("Accept", a));
            }
            if let Some(a) = &auth {
                headers.push(("Authorization", a.as_str()));
            }
            let resp = self
                .transport
                .get(url, &headers)
                .map_err(|e| self.err(format!("GET {url}"), e))?;
            if resp.status == 401 && attempt == 0 {
                let challenge = resp
                    .www_authenticate
                    .as_deref()
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
            if !is_success(resp.status) {
                let text = read_body(resp.body, 64 * 1024).ok();
                let msg = text
                    .as_deref()
                    .and_then(registry_message)
                    .unwrap_or_default();
                let status = status_text(resp.status);
                return Err(self.err(format!("GET {url}"), format!("{status} {msg}").trim()));
            }
            return Ok(resp);
        }
        Err(self.err(
            format!("GET {url}"),
            "401 unauthorized: anonymous token refused",
        ))
    }

    fn fetch_token(&mut self, c: &Challenge, url: &str) -> Result<String, ImageError> {
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
            .transport
            .get(&token_url, &[])
            .map_err(|e| self.err(format!("GET {token_url}"), e))?;
        if !is_success(resp.status) {
            return Err(self.err(format!("GET {token_url}"), status_text(resp.status)));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body =
            read_body(resp.body, MAX_JSON).map_err(|e| self.err(format!("GET {token_url}"), e))?;
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
        let bytes =
            read_body(resp.body, MAX_JSON).map_err(|e| self.err(format!("GET {url}"), e))?;
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
        Ok(self.get(&url, None)?.body)
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

    /// Each request's URL, and whether it carried the token.
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>;

    /// Answers in order, recording each request in `seen`.
    struct Canned {
        answers: std::collections::VecDeque<(u16, Option<&'static str>, Vec<u8>)>,
        seen: Seen,
    }

    impl transport::Transport for Canned {
        fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<transport::Reply, String> {
            let auth = headers.iter().any(|(k, _)| *k == "Authorization");
            self.seen.lock().unwrap().push((url.to_string(), auth));
            let (status, challenge, body) = self.answers.pop_front().ok_or("no answer")?;
            Ok(transport::Reply {
                status,
                www_authenticate: challenge.map(String::from),
                body: Box::new(std::io::Cursor::new(body)),
            })
        }
    }

    fn canned(answers: Vec<(u16, Option<&'static str>, Vec<u8>)>) -> (RegistrySource, Seen) {
        let crate::image::ImageRef::Registry(reg) =
            crate::image::ImageRef::parse("docker://registry.example/a/b:1").unwrap()
        else {
            panic!("not a registry reference")
        };
        let seen = std::sync::Arc::default();
        let t = Canned {
            answers: answers.into(),
            seen: std::sync::Arc::clone(&seen),
        };
        (
            RegistrySource::with_transport(reg, false, Box::new(t)),
            seen,
        )
    }

    #[test]
    fn a_bearer_challenge_gets_a_token_that_only_the_registry_sees() {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"{}","size":{}}},"layers":[]}}"#,
            Digest::of(config),
            config.len()
        );
        let (mut src, seen) = canned(vec![
            (
                401,
                Some(r#"Bearer realm="https://auth.example/token",service="reg""#),
                Vec::new(),
            ),
            (200, None, br#"{"token":"t0k"}"#.to_vec()),
            (200, None, manifest.into_bytes()),
            (200, None, config.to_vec()),
        ]);
        let r = src.resolve().unwrap();
        assert_eq!(r.config_digest, Digest::of(config));
        let seen = seen.lock().unwrap();
        let urls: Vec<&str> = seen.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://registry.example/v2/a/b/manifests/1",
                "https://auth.example/token?scope=repository%3Aa%2Fb%3Apull&service=reg",
                "https://registry.example/v2/a/b/manifests/1",
                &format!(
                    "https://registry.example/v2/a/b/blobs/{}",
                    Digest::of(config)
                ),
            ]
        );
        let auth: Vec<bool> = seen.iter().map(|(_, a)| *a).collect();
        assert_eq!(auth, [false, false, true, true]);
    }

    #[test]
    fn a_registry_error_names_the_status_and_the_registrys_message() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        let (mut src, _) = canned(vec![(404, None, body.to_vec())]);
        let e = src.resolve().err().unwrap().to_string();
        assert!(
            e.contains("404 Not Found MANIFEST_UNKNOWN manifest unknown"),
            "{e}"
        );
    }

    #[test]
    fn query_escape_encodes_reserved_characters() {
        assert_eq!(
            query_escape("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
