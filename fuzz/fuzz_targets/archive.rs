//! Image archives: the input is an oci-archive or a docker-archive (a tar, or a gzip or zstd
//! of one), written to the sandbox's tmpfs and opened as `image pull oci-archive:FILE` and
//! `docker-archive:FILE` open it: the member index (`TarFiles`, with its symlink and hardlink
//! members), `oci-layout`, `index.json` or `manifest.json`, the manifest and config, each
//! digest check, then every layer streamed. The header checksums of an uncompressed archive
//! are recomputed first (`rind_fuzz::fix_tar_checksums`).
//!
//! The properties beyond "no panic": a resolved image's config is the bytes its digest names
//! and it has one diff id per layer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rind::image::Digest;
use rind::image::source::Source;
use rind::image::source::docker_archive::DockerArchive;
use rind::image::source::files::TarFiles;
use rind::image::source::layout::LayoutSource;

fuzz_target!(|data: &[u8]| {
    let dir = rind_fuzz::sandbox::enter().join("archive");
    let _ = std::fs::create_dir(&dir);
    let (file, scratch) = (dir.join("image.tar"), dir.join("scratch.tar"));
    let mut data = data.to_vec();
    rind_fuzz::fix_tar_checksums(&mut data);
    std::fs::write(&file, &data).expect("write the archive");
    let _ = std::fs::remove_file(&scratch);
    let Ok(files) = TarFiles::open(&file, &scratch) else {
        return;
    };
    let mut src: Box<dyn Source> = if files.has("oci-layout") {
        match LayoutSource::new(Box::new(files), None, "fuzz".into()) {
            Ok(s) => Box::new(s),
            Err(_) => return,
        }
    } else {
        Box::new(DockerArchive::new(files, "fuzz".into()))
    };
    let Ok(r) = src.resolve() else {
        return;
    };
    assert_eq!(Digest::of(&r.config_bytes), r.config_digest, "config bytes");
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
});
