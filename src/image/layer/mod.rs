//! Layers: compression detection, the verified decode stream, safe unpacking into the store's
//! overlayfs form, and whiteouts.

pub mod compression;
pub mod limits;
pub mod owners;
pub mod rooted;
pub mod stream;
pub mod unpack;
pub mod whiteout;

pub use compression::Compression;
pub use limits::UnpackLimits;
pub use owners::{IdRange, Owners};
pub use stream::{DecodedStream, Expect, StreamStats};
pub use unpack::{UnpackStats, Unpacker};

use std::io::Read;
use std::path::Path;

use crate::image::ImageError;
use rooted::RootDir;

/// Streams one layer blob into `target` (an empty directory), verifying its digests in the
/// same pass, keeping what `owners` may keep. Returns only after the decoder thread has been joined. On error `target` holds
/// a partial layer: the caller must discard it.
pub fn unpack_blob(
    raw: Box<dyn Read + Send>,
    expect: Expect,
    target: &Path,
    lowers: &[RootDir],
    name: &str,
    limits: UnpackLimits,
    owners: &Owners,
) -> Result<(StreamStats, UnpackStats), ImageError> {
    let unpacker = Unpacker::new(target, lowers, name, limits, owners.clone())?;
    let mut stream = DecodedStream::spawn(raw, expect, limits, format!("layer {name}"));
    let counter = stream.compressed_counter();
    let result = unpacker.unpack(&mut stream, &move || {
        counter.load(std::sync::atomic::Ordering::Relaxed)
    });
    match result {
        Ok(stats) => Ok((stream.finish()?, stats)),
        // A decoder error (bad digest, corrupt gzip) explains a tar error better than the tar
        // error does, so it wins.
        Err(e) => Err(stream.abort().unwrap_or(e)),
    }
}
