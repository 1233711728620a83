//! The decode pipeline for one layer blob: a second thread reads the raw blob, hashes it,
//! decompresses it, hashes the tar stream and hands it over in chunks; the calling thread
//! parses the tar and writes files.
//!
//! Why a thread: GNU `tar -xzf` runs gzip as a separate process, so inflate and file creation
//! overlap on two cores. Measured on the Debian bench image (scripts/bench-unpack.sh, 91 MB
//! gzip layer into tmpfs, 2-core VM): the same readers chained on one thread took 1.30 s
//! (median of 5), this pipeline 0.91 s for the whole `rind image pull`. The cost is one thread
//! and up to DEPTH x CHUNK (4 MiB) of buffered data per layer.
//! The thread lives only while a layer streams and is joined before `unpack` returns, so the
//! runtime is single-threaded again before any container process is cloned.

use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest as _, Sha256};

use super::compression::{Compression, Detected, detect_buffered};
use super::limits::UnpackLimits;
use crate::image::ImageError;
use crate::image::digest::{Digest, HashingReader};

/// What the blob must hash to. Either may be unknown (a docker-archive names layers only by
/// their diff id); at least one should be given, or the content is taken on trust.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The digest of the raw blob (the manifest's layer descriptor).
    pub blob: Option<Digest>,
    /// The exact raw size, when the descriptor gives one.
    pub blob_size: Option<u64>,
    /// The digest of the uncompressed tar stream (the config's `rootfs.diff_ids`).
    pub diff_id: Option<Digest>,
}

/// What was measured while the blob streamed.
#[derive(Clone, Debug)]
pub struct StreamStats {
    pub compression: Compression,
    pub blob_digest: Digest,
    pub blob_size: u64,
    pub diff_id: Digest,
    pub diff_size: u64,
}

const CHUNK: usize = 256 * 1024;
const DEPTH: usize = 16;

/// Counts raw bytes where the limit check can see them.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
    max: Option<u64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.count.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if let Some(max) = self.max
            && total > max
        {
            return Err(io::Error::other(format!(
                "blob is longer than its descriptor's size {max}"
            )));
        }
        Ok(n)
    }
}

/// The tar side of the pipeline: a `Read` of the uncompressed stream.
pub struct DecodedStream {
    rx: Option<Receiver<Vec<u8>>>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    handle: Option<JoinHandle<Result<StreamStats, ImageError>>>,
    compressed: Arc<AtomicU64>,
    cancelled: Arc<AtomicBool>,
}

impl DecodedStream {
    /// Starts decoding `raw`. `what` names the blob in errors.
    pub fn spawn(
        raw: Box<dyn Read + Send>,
        expect: Expect,
        limits: UnpackLimits,
        what: String,
    ) -> DecodedStream {
        let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (back, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let compressed = Arc::new(AtomicU64::new(0));
        let cancelled = Arc::new(AtomicBool::new(false));
        let c2 = compressed.clone();
        let cancel2 = cancelled.clone();
        let handle = std::thread::spawn(move || {
            decode(raw, expect, limits, &what, &tx, &spare, c2, &cancel2)
        });
        DecodedStream {
            rx: Some(rx),
            back,
            cur: Vec::new(),
            pos: 0,
            handle: Some(handle),
            compressed,
            cancelled,
        }
    }

    /// The count of raw (compressed) bytes read so far; the unpacker checks written bytes
    /// against it.
    pub fn compressed_counter(&self) -> Arc<AtomicU64> {
        self.compressed.clone()
    }

    /// Drains what is left of the stream, joins the decoder and returns its verdict: the
    /// digests are checked here, so content must not be trusted before this returns Ok.
    pub fn finish(mut self) -> Result<StreamStats, ImageError> {
        if let Some(rx) = self.rx.take() {
            while rx.recv().is_ok() {}
        }
        self.join()
    }

    /// Stops the decoder early (the tar side failed) and returns its result, which is an
    /// error of its own only when it failed before being told to stop.
    pub fn abort(mut self) -> Option<ImageError> {
        self.cancelled.store(true, Ordering::Relaxed);
        self.rx.take();
        match self.join() {
            Err(ImageError::Unsupported(s)) if s == CANCELLED => None,
            Err(e) => Some(e),
            Ok(_) => None,
        }
    }

    fn join(&mut self) -> Result<StreamStats, ImageError> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(ImageError::Unsupported(
                "layer decoder thread panicked".into(),
            )),
        }
    }
}

impl Drop for DecodedStream {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Read for DecodedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            let Some(rx) = &self.rx else { return Ok(0) };
            match rx.recv() {
                Ok(next) => {
                    let old = std::mem::replace(&mut self.cur, next);
                    let _ = self.back.try_send(old);
                    self.pos = 0;
                }
                // The decoder stopped: at the end, or on an error that finish() reports.
                Err(_) => {
                    self.rx = None;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

const CANCELLED: &str = "cancelled";

#[allow(clippy::too_many_arguments)]
fn decode(
    raw: Box<dyn Read + Send>,
    expect: Expect,
    limits: UnpackLimits,
    what: &str,
    tx: &SyncSender<Vec<u8>>,
    spare: &Receiver<Vec<u8>>,
    compressed: Arc<AtomicU64>,
    cancelled: &AtomicBool,
) -> Result<StreamStats, ImageError> {
    let read_err = |e: io::Error| ImageError::malformed(format!("read {what}"), e);
    let counted = Counted {
        inner: raw,
        count: compressed.clone(),
        max: expect.blob_size,
    };
    let mut buffered = BufReader::with_capacity(CHUNK, HashingReader::new(counted));
    let compression = match detect_buffered(&mut buffered).map_err(read_err)? {
        Detected::Known(c) => c,
        Detected::Unsupported(name) => {
            return Err(ImageError::Unsupported(format!(
                "{what}: {name}-compressed layers are not supported (want tar, gzip or zstd)"
            )));
        }
    };
    let mut decoder: Box<dyn Read> = match compression {
        Compression::None => Box::new(&mut buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(&mut buffered)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(&mut buffered).map_err(read_err)?)
        }
    };
    let mut diff = Sha256::new();
    let mut diff_size = 0u64;
    loop {
        let mut chunk = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        chunk.resize(CHUNK, 0);
        let mut filled = 0;
        while filled < CHUNK {
            match decoder.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(ImageError::malformed(
                        format!("read {what}"),
                        "truncated stream (unexpected end of compressed data)",
                    ));
                }
                Err(e) => return Err(read_err(e)),
            }
        }
        chunk.truncate(filled);
        diff.update(&chunk);
        diff_size += filled as u64;
        let budget = limits.budget(compressed.load(Ordering::Relaxed));
        if diff_size > budget {
            return Err(ImageError::Limit {
                layer: what.to_string(),
                reason: format!(
                    "expands past {budget} bytes (ratio limit {}:1, size limit {})",
                    limits.max_ratio, limits.max_layer_bytes
                ),
                knob: "--max-layer-ratio/--max-layer-bytes or RIND_MAX_LAYER_RATIO/RIND_MAX_LAYER_BYTES",
            });
        }
        if filled == 0 {
            break;
        }
        if cancelled.load(Ordering::Relaxed) || tx.send(chunk).is_err() {
            return Err(ImageError::Unsupported(CANCELLED.into()));
        }
    }
    drop(decoder);
    let (blob_digest, blob_size) = buffered.into_inner().finish().map_err(read_err)?;
    let diff_id = Digest::from_sha256(diff);
    if let Some(size) = expect.blob_size
        && size != blob_size
    {
        return Err(ImageError::malformed(
            format!("read {what}"),
            format!("truncated: descriptor says {size} bytes, got {blob_size}"),
        ));
    }
    if let Some(want) = &expect.blob
        && *want != blob_digest
    {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: want.to_string(),
            actual: blob_digest.to_string(),
        });
    }
    if let Some(want) = &expect.diff_id
        && *want != diff_id
    {
        return Err(ImageError::DigestMismatch {
            what: format!("{what} (uncompressed, diff id)"),
            expected: want.to_string(),
            actual: diff_id.to_string(),
        });
    }
    Ok(StreamStats {
        compression,
        blob_digest,
        blob_size,
        diff_id,
        diff_size,
    })
}
