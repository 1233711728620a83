//! Image metadata: an OCI layout held in memory (index.json, manifests, indexes, the config),
//! resolved as `image pull oci:DIR` resolves it; every document also parsed on its own as a
//! manifest or index (`parse_document`, `choose_platform`) and as an image config; and each
//! config that parses converted to a runtime spec (`config_to_spec`, with `User` resolved in
//! a small rootfs) and its stop signal read.
//!
//! The input is several documents (`rind_fuzz::parts`): the first is index.json, the others
//! are blobs, named by their digest, which the documents before them name as `@D<n>`/`@S<n>`.
//!
//! The properties beyond "no panic": a resolved image's manifest and config are the bytes
//! their digests name, it has one diff id per layer, a stop signal read is a signal number
//! (1 to SIGRTMAX), and a spec converted from any config is one `spec::validate` accepts (else the conversion must have failed with an error naming
//! the image's field, not left `create` to fail on a config.json the user never wrote).
#![no_main]

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rind::image::manifest::{Document, choose_platform, parse_document};
use rind::image::source::Source;
use rind::image::source::files::SourceFiles;
use rind::image::source::layout::LayoutSource;
use rind::image::{Digest, ImageConfig, ImageError, SpecOverrides, config_to_spec, stop_signal};

struct MemFiles(HashMap<String, Vec<u8>>);

impl SourceFiles for MemFiles {
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        let bytes = self
            .0
            .get(name)
            .ok_or_else(|| ImageError::malformed("fuzz layout", format!("no file {name}")))?;
        Ok((Box::new(Cursor::new(bytes.clone())), bytes.len() as u64))
    }

    fn describe(&self) -> String {
        "fuzz layout".into()
    }
}

fn rootfs() -> &'static PathBuf {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let r = rind_fuzz::sandbox::enter().join("rootfs");
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(
            r.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\nodd:x:4294967295:7:::\n",
        )
        .unwrap();
        std::fs::write(r.join("etc/group"), "root:x:0:\nweb:x:33:\nlog:x:4:web,odd\n").unwrap();
        r
    })
}

fn convert(config: &ImageConfig) {
    if let Ok(n) = stop_signal(config) {
        assert!(
            (1..=libc::SIGRTMAX()).contains(&n),
            "stop signal {n} from {:?}",
            config
                .config()
                .as_ref()
                .and_then(|c| c.stop_signal().clone())
        );
    }
    let o = SpecOverrides {
        rootfs: rootfs().clone(),
        ..Default::default()
    };
    if let Ok(spec) = config_to_spec(config, &o)
        && let Err(e) = rind::spec::validate(&spec)
    {
        panic!("config_to_spec made a spec validate refuses: {e}");
    }
}

fn document(bytes: &[u8]) {
    if let Ok(Document::Index(ix)) = parse_document(bytes, "fuzz") {
        let _ = choose_platform(&ix, "fuzz");
    }
    if let Ok(config) = serde_json::from_slice::<ImageConfig>(bytes) {
        convert(&config);
    }
}

fuzz_target!(|data: &[u8]| {
    let parts = rind_fuzz::parts::split(data);
    if parts.len() > 10 {
        return;
    }
    let docs = rind_fuzz::parts::resolve(&parts);
    let mut files = HashMap::new();
    files.insert(
        "oci-layout".to_string(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    files.insert("index.json".to_string(), docs[0].0.clone());
    for (bytes, digest) in &docs[1..] {
        files.insert(format!("blobs/sha256/{}", digest.hex()), bytes.clone());
    }
    for (bytes, _) in &docs {
        document(bytes);
    }
    let mut src = LayoutSource::new(Box::new(MemFiles(files)), None, "fuzz".into())
        .expect("the marker is valid");
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
            let _ = std::io::copy(&mut l, &mut std::io::sink());
        }
    }
    convert(&r.config);
});
