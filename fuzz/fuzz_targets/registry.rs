//! What a registry sends, as `image pull docker://...` reads it: the answers to the manifest,
//! token and blob requests come from the input, in order, through the client's transport seam
//! (`RegistrySource::with_fake_transport`): 401s and their `WWW-Authenticate` challenges, the
//! token JSON, error bodies, manifests and indexes (nested), the config blob and its digest
//! check, then every layer's blob.
//!
//! The input is several documents (`rind_fuzz::parts`, so that digests can stay right), one
//! per answer: a first line `STATUS[ WWW-AUTHENTICATE VALUE]`, then the body; `@D<n>` and
//! `@S<n>` in a body stand for the digest and size of answer `n`'s body.
//!
//! The properties beyond "no panic": the bearer token is only ever sent to the registry
//! itself (never to the token realm or elsewhere), no header value carries a line break, and
//! a resolved image's manifest and config are the bytes their digests name.
#![no_main]

use std::collections::VecDeque;
use std::io::{Cursor, Read};

use libfuzzer_sys::fuzz_target;
use rind::image::source::Source;
use rind::image::source::registry::{RegistrySource, Reply, Transport};
use rind::image::{Digest, ImageRef};

const BASE: &str = "https://registry.example/v2/fuzz/x/";

struct Canned(VecDeque<(u16, Option<String>, Vec<u8>)>);

impl Transport for Canned {
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
        for (k, v) in headers {
            assert!(
                !v.contains(['\r', '\n']) && !k.contains(['\r', '\n']),
                "a header with a line break: {k}: {v:?}"
            );
            if k.eq_ignore_ascii_case("authorization") {
                assert!(url.starts_with(BASE), "the token was sent to {url}");
            }
        }
        let (status, www_authenticate, body) = self
            .0
            .pop_front()
            .ok_or_else(|| "connection refused".to_string())?;
        Ok(Reply {
            status,
            www_authenticate,
            body: Box::new(Cursor::new(body)),
        })
    }
}

/// The status and challenge of an answer, and its body (in which placeholders still stand).
fn answer(doc: &[u8]) -> (u16, Option<String>, &[u8]) {
    let (line, body) = match doc.iter().position(|&b| b == b'\n') {
        Some(i) => (&doc[..i], &doc[i + 1..]),
        None => (doc, &b""[..]),
    };
    let line = String::from_utf8_lossy(line);
    let (status, challenge) = line.split_once(' ').unwrap_or((&line, ""));
    let status = status.parse().unwrap_or(200);
    let challenge = (!challenge.is_empty()).then(|| challenge.to_string());
    (status, challenge, body)
}

fuzz_target!(|data: &[u8]| {
    let parts = rind_fuzz::parts::split(data);
    if parts.len() > 10 {
        return;
    }
    let heads: Vec<_> = parts.iter().map(|p| answer(p)).collect();
    let bodies: Vec<&[u8]> = heads.iter().map(|(_, _, b)| *b).collect();
    let answers = heads
        .iter()
        .zip(rind_fuzz::parts::resolve(&bodies))
        .map(|((status, challenge, _), (body, _))| (*status, challenge.clone(), body))
        .collect();
    let ImageRef::Registry(reg) =
        ImageRef::parse("docker://registry.example/fuzz/x:latest").unwrap()
    else {
        unreachable!()
    };
    let mut src = RegistrySource::with_fake_transport(reg, false, Box::new(Canned(answers)));
    let Ok(r) = src.resolve() else {
        return;
    };
    assert_eq!(Digest::of(&r.config_bytes), r.config_digest, "config bytes");
    if let Some((d, bytes)) = &r.manifest {
        assert_eq!(&Digest::of(bytes), d, "manifest bytes");
    }
    assert_eq!(
        r.config.rootfs().diff_ids().len(),
        r.layers.len(),
        "diff ids"
    );
    for layer in &r.layers {
        if let Ok(mut l) = src.open_layer(layer) {
            let mut sink = Vec::new();
            let _ = l.by_ref().take(1 << 20).read_to_end(&mut sink);
        }
    }
});
