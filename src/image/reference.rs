//! Image references: where an image comes from, or which stored image is meant.
//!
//! A registry reference (`docker://...`) follows Docker's grammar (distribution's `reference`
//! package, and its `splitDockerDomain` normalization). It is parsed here rather than with
//! `oci_spec::distribution::Reference`, which is a dependency already, because that one does
//! not answer as Docker does: on the table in the tests below it takes `UPPER/x` as
//! `docker.io/UPPER/x` (Docker: host `UPPER`, repository `x`; an upper-case repository is
//! refused) and refuses a bracketed IPv6 host (`[::1]:5000/x`, which Docker takes). It agrees
//! with Docker on the other cases, among them the `docker.io/library/` normalization, a tag
//! with a digest, ports, and separators (`a___b`, `a..b` refused). rind stores images by
//! sha256 only, so a sha384 or sha512 digest is refused here, where both take it.

use std::fmt;
use std::path::PathBuf;

use super::ImageError;
use super::digest::Digest;

/// The registry that names without a host refer to, as docker does.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The name Docker Hub had before, which Docker reads as `docker.io`.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The longest `host/repository` Docker's grammar allows.
const NAME_MAX: usize = 255;

/// An image source or a stored image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    OciLayout { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker-archive:FILE`: what `docker save` or skopeo writes.
    DockerArchive { file: PathBuf },
    /// `docker://HOST/REPO[:TAG|@DIGEST]`: a registry speaking the distribution API v2.
    Registry(RegistryRef),
    /// Anything else: `name[:tag]`, `name@sha256:...`, or an image id (or a prefix of one)
    /// already in the store.
    Stored(String),
}

/// A repository in a registry and a tag or digest in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRef {
    /// The name the user wrote for the host (`docker.io`, `localhost:5000`).
    pub host: String,
    /// The host to connect to (`registry-1.docker.io` for `docker.io`).
    pub api_host: String,
    pub repo: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// The tag or digest to ask the registry for (a digest wins; `latest` by default).
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The name the image is stored under: `host/repo:tag` or `host/repo@digest`.
    pub fn store_name(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{}/{}:{t}", self.host, self.repo),
            (None, Some(d)) => format!("{}/{}@{d}", self.host, self.repo),
            (None, None) => format!("{}/{}:latest", self.host, self.repo),
        }
    }
}

fn bad(reference: &str, reason: &str) -> ImageError {
    ImageError::BadReference {
        reference: reference.to_string(),
        reason: reason.to_string(),
    }
}

/// A tag as the distribution spec allows it.
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A repository path as Docker's grammar has it: components of `[a-z0-9]+` joined by one `.`,
/// one `_`, `__` or a run of `-`, separated by `/`.
fn valid_repo(r: &str) -> bool {
    !r.is_empty() && r.split('/').all(valid_path_component)
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(&b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        match &b[i..] {
            [b'_', b'_', ..] => i += 2,
            [b'.' | b'_', ..] => i += 1,
            [b'-', ..] => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// A registry host as Docker's grammar has it: DNS labels of `[A-Za-z0-9-]` (not starting or
/// ending with `-`) joined by `.`, or an IPv6 address in brackets; then an optional `:port`.
fn valid_host(h: &str) -> bool {
    let port_ok =
        |p: Option<&str>| p.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if let Some(rest) = h.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        return !v6.is_empty()
            && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            && port_ok(port);
    }
    let (name, port) = match h.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    port_ok(port)
        && !name.is_empty()
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// Splits `PATH[:TAG]` at the last colon when what follows is a valid tag.
fn split_path_tag(rest: &str) -> (PathBuf, Option<String>) {
    if let Some((p, t)) = rest.rsplit_once(':')
        && valid_tag(t)
        && !p.is_empty()
    {
        return (PathBuf::from(p), Some(t.to_string()));
    }
    (PathBuf::from(rest), None)
}

impl ImageRef {
    /// Parses a reference. The transport prefix decides the kind; without one the string
    /// names an image in the store.
    pub fn parse(s: &str) -> Result<ImageRef, ImageError> {
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, tag) = split_path_tag(rest);
            if dir.as_os_str().is_empty() {
                return Err(bad(s, "missing directory after oci:"));
            }
            return Ok(ImageRef::OciLayout { dir, tag });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, tag) = split_path_tag(rest);
            if file.as_os_str().is_empty() {
                return Err(bad(s, "missing file after oci-archive:"));
            }
            return Ok(ImageRef::OciArchive { file, tag });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            if rest.is_empty() {
                return Err(bad(s, "missing file after docker-archive:"));
            }
            return Ok(ImageRef::DockerArchive {
                file: PathBuf::from(rest),
            });
        }
        if let Some(rest) = s.strip_prefix("docker://") {
            return parse_registry(s, rest.trim_start_matches('/')).map(ImageRef::Registry);
        }
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(bad(s, "empty or contains spaces"));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(bad(
                s,
                &format!("unknown transport {scheme}:// (want docker://)"),
            ));
        }
        Ok(ImageRef::Stored(normalize_stored(s)))
    }
}

/// `busybox` means `busybox:latest`; names with a digest or an id are left alone.
fn normalize_stored(s: &str) -> String {
    let last = s.rsplit('/').next().unwrap_or(s);
    if s.contains('@') || last.contains(':') || s.starts_with("sha256:") {
        s.to_string()
    } else {
        format!("{s}:latest")
    }
}

fn parse_registry(whole: &str, rest: &str) -> Result<RegistryRef, ImageError> {
    let (name, digest) = match rest.split_once('@') {
        Some((n, d)) => (n, Some(Digest::parse(d)?)),
        None => (rest, None),
    };
    let (name, tag) = match name.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => {
            if !valid_tag(t) {
                return Err(bad(whole, &format!("invalid tag {t:?}")));
            }
            (n, Some(t.to_string()))
        }
        _ => (name, None),
    };
    // Docker's split (distribution's `splitDockerDomain`): the first component is the host if
    // it has a `.` or a `:`, is `localhost`, or has an upper-case letter; `index.docker.io`
    // is `docker.io`, and an official image there is under `library/`.
    let (host, repo) = match name.split_once('/') {
        Some((first, after))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            if !valid_host(first) {
                return Err(bad(whole, &format!("invalid registry host {first:?}")));
            }
            (first, after)
        }
        _ => (DOCKER_HUB, name),
    };
    let host = if host == DOCKER_HUB_LEGACY {
        DOCKER_HUB
    } else {
        host
    };
    let repo = if host == DOCKER_HUB && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_string()
    };
    if !valid_repo(&repo) {
        return Err(bad(whole, &format!("invalid repository {repo:?}")));
    }
    if host.len() + 1 + repo.len() > NAME_MAX {
        return Err(bad(
            whole,
            &format!("name longer than {NAME_MAX} characters"),
        ));
    }
    let host = host.to_string();
    let api_host = if host == DOCKER_HUB {
        DOCKER_HUB_API.to_string()
    } else {
        host.clone()
    };
    Ok(RegistryRef {
        host,
        api_host,
        repo,
        tag,
        digest,
    })
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = |t: &Option<String>| t.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
        match self {
            ImageRef::OciLayout { dir, tag: t } => write!(f, "oci:{}{}", dir.display(), tag(t)),
            ImageRef::OciArchive { file, tag: t } => {
                write!(f, "oci-archive:{}{}", file.display(), tag(t))
            }
            ImageRef::DockerArchive { file } => write!(f, "docker-archive:{}", file.display()),
            ImageRef::Registry(r) => write!(f, "docker://{}", r.store_name()),
            ImageRef::Stored(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_transport() {
        assert_eq!(
            ImageRef::parse("oci:/tmp/x:v1").unwrap(),
            ImageRef::OciLayout {
                dir: "/tmp/x".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageRef::parse("oci:/tmp/x").unwrap(),
            ImageRef::OciLayout {
                dir: "/tmp/x".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageRef::parse("oci-archive:a.tar:latest").unwrap(),
            ImageRef::OciArchive {
                file: "a.tar".into(),
                tag: Some("latest".into())
            }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:/x/b.tar").unwrap(),
            ImageRef::DockerArchive {
                file: "/x/b.tar".into()
            }
        );
        assert_eq!(
            ImageRef::parse("busybox").unwrap(),
            ImageRef::Stored("busybox:latest".into())
        );
        assert_eq!(
            ImageRef::parse("localhost:5000/a/b:1").unwrap(),
            ImageRef::Stored("localhost:5000/a/b:1".into())
        );
    }

    #[test]
    fn parses_registry_host_repo_tag_and_digest() {
        let ImageRef::Registry(r) = ImageRef::parse("docker://127.0.0.1:5000/test/bb:v2").unwrap()
        else {
            panic!("not a registry ref")
        };
        assert_eq!(
            (r.host.as_str(), r.repo.as_str(), r.reference()),
            ("127.0.0.1:5000", "test/bb", "v2".to_string())
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let ImageRef::Registry(r) = ImageRef::parse(&format!("docker://localhost/x@{d}")).unwrap()
        else {
            panic!("not a registry ref")
        };
        assert_eq!(r.reference(), d);
        let ImageRef::Registry(r) = ImageRef::parse("docker://busybox").unwrap() else {
            panic!("not a registry ref")
        };
        assert_eq!(r.repo, "library/busybox");
        assert_eq!(r.api_host, "registry-1.docker.io");
        assert_eq!(r.store_name(), "docker.io/library/busybox:latest");
    }

    /// Docker's answers (distribution's `ParseNormalizedNamed`): host, repository, tag.
    #[test]
    fn registry_references_parse_as_docker_parses_them() {
        let d = format!("sha256:{}", "a".repeat(64));
        let ok = [
            ("busybox", "docker.io", "library/busybox", None),
            ("library/busybox", "docker.io", "library/busybox", None),
            ("docker.io/busybox", "docker.io", "library/busybox", None),
            (
                "index.docker.io/busybox",
                "docker.io",
                "library/busybox",
                None,
            ),
            ("docker.io/a/b", "docker.io", "a/b", None),
            ("localhost:5000/a/b:1", "localhost:5000", "a/b", Some("1")),
            ("localhost/x", "localhost", "x", None),
            ("UPPER/x", "UPPER", "x", None),
            ("Example.com/x", "Example.com", "x", None),
            (
                "127.0.0.1:5000/test/bb:v2",
                "127.0.0.1:5000",
                "test/bb",
                Some("v2"),
            ),
            ("[::1]:5000/x", "[::1]:5000", "x", None),
            ("a/b:Uppercase", "docker.io", "a/b", Some("Uppercase")),
            ("a__b", "docker.io", "library/a__b", None),
            ("a-----b", "docker.io", "library/a-----b", None),
            ("test:5000/repo", "test:5000", "repo", None),
            ("test.com:tag", "docker.io", "library/test.com", Some("tag")),
            (
                "localhost:5000",
                "docker.io",
                "library/localhost",
                Some("5000"),
            ),
        ];
        for (text, host, repo, tag) in ok {
            let Ok(ImageRef::Registry(r)) = ImageRef::parse(&format!("docker://{text}")) else {
                panic!("{text} refused")
            };
            assert_eq!(
                (r.host.as_str(), r.repo.as_str(), r.tag.as_deref()),
                (host, repo, tag),
                "{text}"
            );
        }
        let Ok(ImageRef::Registry(r)) = ImageRef::parse(&format!("docker://x:tag@{d}")) else {
            panic!("tag and digest refused")
        };
        assert_eq!((r.tag.as_deref(), r.reference()), (Some("tag"), d));
        let long = format!("x/{}", "a".repeat(260));
        let refused = [
            "UPPER",
            "Up/Per/x",
            "x@sha256:abc",
            "x:-bad",
            "a___b",
            "a..b",
            "a-",
            "foo/",
            ":tag",
            "x:",
            "-host.com/x",
            "host:port/x",
            "[::1/x",
            &long,
        ];
        for text in refused {
            assert!(
                ImageRef::parse(&format!("docker://{text}")).is_err(),
                "{text} taken"
            );
        }
    }

    #[test]
    fn refuses_bad_references() {
        assert!(ImageRef::parse("docker://localhost/UPPER").is_err());
        assert!(ImageRef::parse("docker://localhost/x@sha256:abc").is_err());
        assert!(ImageRef::parse("http://x/y").is_err());
        assert!(ImageRef::parse("oci:").is_err());
        assert!(ImageRef::parse("").is_err());
    }
}
