//! Pulls from a real registry (Debian's docker-registry on 127.0.0.1, filled with skopeo):
//! OCI and Docker v2s2 manifests, gzip and zstd layers, an index resolved to this host's
//! platform, a pull by digest, plain HTTP only when the host is marked insecure, and
//! anonymous bearer-token auth through a small token-checking proxy.

mod image_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image_support::*;
use rind::image::source::SourceOptions;
use rind::image::{ImageRef, PullOptions, RootMode, Store};

/// A registry process with its own config and storage, stopped by PID on drop.
struct Registry {
    child: Child,
    addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_registry(dir: &std::path::Path) -> Registry {
    let port = free_port();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let reg = Registry {
        child,
        addr: format!("127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http_status(&reg.addr, "/v2/") == Some(200) {
            return reg;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("docker-registry did not come up on {}", reg.addr);
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split(' ').nth(1)?.parse().ok()
}

fn skopeo_copy(from: &str, to: &str, extra: &[&str]) {
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .args(extra)
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy {from} {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn insecure(addr: &str) -> PullOptions {
    PullOptions {
        source: SourceOptions {
            insecure_registries: vec![addr.to_string()],
        },
        ..PullOptions::default()
    }
}

/// Pulls into a store of its own, so that every layer is decoded from this source.
fn pull_and_compare(
    s: &Scratch,
    reference: &str,
    opts: &PullOptions,
    umoci_ref: &str,
    label: &str,
) -> rind::image::Image {
    let store = Store::open(&s.path().join(format!("store-{label}"))).unwrap();
    let image = store
        .pull(&ImageRef::parse(reference).unwrap(), opts)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let root = store
        .prepare_rootfs_with(&image, &s.path().join(format!("c-{label}")), RootMode::Copy)
        .unwrap();
    let ours = snapshot(&root.rootfs);
    root.release().unwrap();
    let theirs = snapshot(&umoci_unpack(
        umoci_ref,
        &s.path().join(format!("b-{label}")),
    ));
    let d = diff(&ours, &theirs);
    assert!(
        d.is_empty(),
        "{label}: differs from umoci:\n{}",
        d.join("\n")
    );
    image
}

/// The image fixtures, once root and the tools these tests compare with are there.
fn ready() -> std::path::PathBuf {
    require_root();
    for tool in ["docker-registry", "skopeo", "umoci"] {
        require_tool(tool);
    }
    images()
}

#[test]
fn pulls_oci_and_docker_manifests_with_gzip_and_zstd_layers() {
    let img = ready();
    let s = Scratch::new();
    let reg = start_registry(s.path());
    let a = &reg.addr;
    let oci = format!("{}/oci", img.display());
    // First, and in a repository of its own: skopeo substitutes a gzip blob it has already
    // pushed for the same diff id when it can.
    skopeo_copy(
        &format!("oci:{}/oci-zstd:whiteouts", img.display()),
        &format!("docker://{a}/test/zstd:zstd"),
        &["--dest-compress-format", "zstd"],
    );
    skopeo_copy(
        &format!("oci:{oci}:busybox"),
        &format!("docker://{a}/test/busybox:oci"),
        &[],
    );
    skopeo_copy(
        &format!("oci:{oci}:whiteouts"),
        &format!("docker://{a}/test/whiteouts:v2s2"),
        &["--format", "v2s2"],
    );

    let opts = insecure(a);
    let i1 = pull_and_compare(
        &s,
        &format!("docker://{a}/test/busybox:oci"),
        &opts,
        &format!("{oci}:busybox"),
        "oci-gzip",
    );
    let i2 = pull_and_compare(
        &s,
        &format!("docker://{a}/test/whiteouts:v2s2"),
        &opts,
        &format!("{oci}:whiteouts"),
        "v2s2-gzip",
    );
    // Different blobs, same diff ids: a store holding both keeps one copy of each layer.
    let i3 = pull_and_compare(
        &s,
        &format!("docker://{a}/test/zstd:zstd"),
        &opts,
        &format!("{oci}:whiteouts"),
        "oci-zstd",
    );
    assert_eq!(
        i2.layers.iter().map(|l| &l.chain_id).collect::<Vec<_>>(),
        i3.layers.iter().map(|l| &l.chain_id).collect::<Vec<_>>()
    );
    assert_ne!(
        i2.layers[1].blob, i3.layers[1].blob,
        "zstd and gzip blobs should differ"
    );
    let store = Store::open(&s.path().join("store-oci-zstd")).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&store.blob(i3.manifest_digest.as_ref().unwrap()).unwrap()).unwrap();
    assert!(
        m["layers"][1]["mediaType"]
            .as_str()
            .unwrap()
            .ends_with("zstd"),
        "registry copy is not zstd: {m}"
    );
    assert_eq!(i1.names, vec![format!("{a}/test/busybox:oci")]);

    // By digest.
    let by_digest = format!(
        "docker://{a}/test/busybox@{}",
        i1.manifest_digest.clone().unwrap()
    );
    let again = store
        .pull(&ImageRef::parse(&by_digest).unwrap(), &opts)
        .unwrap();
    assert_eq!(again.id, i1.id);
}

#[test]
fn index_resolves_to_this_hosts_platform() {
    let img = ready();
    let s = Scratch::new();
    let reg = start_registry(s.path());
    let a = &reg.addr;
    let oci = format!("{}/oci", img.display());
    skopeo_copy(
        &format!("oci:{oci}:busybox"),
        &format!("docker://{a}/test/multi:bb"),
        &[],
    );
    skopeo_copy(
        &format!("oci:{oci}:whiteouts"),
        &format!("docker://{a}/test/multi:wo"),
        &[],
    );
    let store = Store::open(&s.path().join("store")).unwrap();
    let opts = insecure(a);
    let bb = store
        .pull(
            &ImageRef::parse(&format!("docker://{a}/test/multi:bb")).unwrap(),
            &opts,
        )
        .unwrap();
    let wo = store
        .pull(
            &ImageRef::parse(&format!("docker://{a}/test/multi:wo")).unwrap(),
            &opts,
        )
        .unwrap();
    let desc = |i: &rind::image::Image, arch: &str| {
        let m = store.blob(i.manifest_digest.as_ref().unwrap()).unwrap();
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"{arch}"}}}}"#,
            i.manifest_digest.as_ref().unwrap(),
            m.len()
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{},{}]}}"#,
        desc(&bb, "s390x"),
        desc(&wo, rind::image::manifest::host_arch())
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .put(&format!("http://{a}/v2/test/multi/manifests/both"))
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .send(index.as_bytes())
        .unwrap();
    assert_eq!(resp.status(), 201, "registry refused the index");
    let picked = store
        .pull(
            &ImageRef::parse(&format!("docker://{a}/test/multi:both")).unwrap(),
            &opts,
        )
        .unwrap();
    assert_eq!(
        picked.id,
        wo.id,
        "the index did not resolve to linux/{}",
        rind::image::manifest::host_arch()
    );
}

#[test]
fn plain_http_only_for_hosts_marked_insecure() {
    ready();
    let s = Scratch::new();
    let reg = start_registry(s.path());
    let store = Store::open(&s.path().join("store")).unwrap();
    let r = ImageRef::parse(&format!("docker://{}/test/none:x", reg.addr)).unwrap();
    let e = store
        .pull(&r, &PullOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("https://{}", reg.addr)),
        "did not try https: {e}"
    );
    // Marked insecure, the same host is reached over HTTP and answers that the name is unknown.
    let e = store
        .pull(&r, &insecure(&reg.addr))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("http://{}", reg.addr)) && e.contains("404"),
        "{e}"
    );
    assert!(!e.contains('\n'), "error is not one line: {e}");
}

/// Forwards to the registry only requests that carry `Bearer good`; answers others with a
/// bearer challenge, and serves the token at /token. One request per connection.
fn token_proxy(upstream: String, hits: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let me = addr.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().take(200) {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let Some(first) = head.first().cloned() else {
                continue;
            };
            let path = first.split(' ').nth(1).unwrap_or("").to_string();
            if path.starts_with("/token") {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let ok = path.contains("scope=repository%3Atest%2Fbusybox%3Apull")
                    && path.contains("service=fake");
                let body = if ok {
                    r#"{"token":"good"}"#
                } else {
                    r#"{"token":"bad"}"#
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                continue;
            }
            if !head.iter().any(|h| {
                h.to_ascii_lowercase()
                    .starts_with("authorization: bearer good")
            }) {
                let _ = write!(
                    c,
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"fake\",scope=\"repository:test/busybox:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                continue;
            }
            let Ok(mut up) = TcpStream::connect(&upstream) else {
                continue;
            };
            let mut req = first.clone();
            for h in &head[1..] {
                let lower = h.to_ascii_lowercase();
                if !lower.starts_with("connection:") && !lower.starts_with("host:") {
                    req.push_str(h);
                }
            }
            req.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
            if up.write_all(req.as_bytes()).is_err() {
                continue;
            }
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = up.read(&mut buf) {
                if n == 0 || c.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

#[test]
fn anonymous_bearer_token_is_fetched_and_used() {
    let img = ready();
    let s = Scratch::new();
    let reg = start_registry(s.path());
    skopeo_copy(
        &format!("oci:{}/oci:busybox", img.display()),
        &format!("docker://{}/test/busybox:t", reg.addr),
        &[],
    );
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let proxy = token_proxy(reg.addr.clone(), hits.clone());
    let store = Store::open(&s.path().join("store")).unwrap();
    let image = store
        .pull(
            &ImageRef::parse(&format!("docker://{proxy}/test/busybox:t")).unwrap(),
            &insecure(&proxy),
        )
        .unwrap();
    assert_eq!(image.layers.len(), 1);
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "token fetched once and reused"
    );
}
