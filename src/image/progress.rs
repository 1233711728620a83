//! Progress of pulls and unpacks: bars on a terminal (indicatif), plain lines otherwise, or
//! nothing. The library reports; the command layer chooses how it is shown.

use std::io::{IsTerminal, Read};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Receives progress events. All methods default to doing nothing.
pub trait Progress: Send + Sync {
    /// The image was found and has `layers` layers.
    fn resolved(&self, _name: &str, _layers: usize) {}
    /// Layer `index` starts streaming; `size` is its blob size when known.
    fn layer_start(&self, _index: usize, _short_id: &str, _size: Option<u64>) {}
    /// `bytes` raw bytes of layer `index` have been read so far.
    fn layer_bytes(&self, _index: usize, _bytes: u64) {}
    /// Layer `index` is in the store; `unpacked` is false when it was there already.
    fn layer_done(&self, _index: usize, _short_id: &str, _unpacked: bool) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// One line per layer on stderr, for logs and pipes.
pub struct Lines {
    start: Mutex<Vec<Instant>>,
}

impl Progress for Lines {
    fn resolved(&self, name: &str, layers: usize) {
        eprintln!("pulling {name}: {layers} layer(s)");
    }
    fn layer_start(&self, index: usize, _short_id: &str, _size: Option<u64>) {
        let mut s = self.start.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() <= index {
            s.resize(index + 1, Instant::now());
        }
        s[index] = Instant::now();
    }
    fn layer_done(&self, index: usize, short_id: &str, unpacked: bool) {
        if unpacked {
            let t = self
                .start
                .lock()
                .ok()
                .and_then(|s| s.get(index).map(|t| t.elapsed().as_secs_f64()))
                .unwrap_or(0.0);
            eprintln!("layer {short_id}: unpacked in {t:.2}s");
        } else {
            eprintln!("layer {short_id}: already in the store");
        }
    }
}

/// A bar per layer on a terminal.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
}

impl Progress for Bars {
    fn layer_start(&self, index: usize, short_id: &str, size: Option<u64>) {
        let bar = match size {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix} {spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let bar = self.multi.add(bar);
        bar.set_prefix(format!("layer {short_id}"));
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if bars.len() <= index {
            bars.resize(index + 1, None);
        }
        bars[index] = Some(bar);
    }
    fn layer_bytes(&self, index: usize, bytes: u64) {
        let bar = self
            .bars
            .lock()
            .ok()
            .and_then(|b| b.get(index).cloned().flatten());
        if let Some(b) = bar {
            b.set_position(bytes);
        }
    }
    fn layer_done(&self, index: usize, short_id: &str, unpacked: bool) {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        match bars.get(index).cloned().flatten() {
            Some(b) => b.finish_with_message("done"),
            None if !unpacked => {
                let _ = self
                    .multi
                    .println(format!("layer {short_id}: already in the store"));
            }
            None => {}
        }
    }
}

/// Bars when stderr is a terminal, lines otherwise.
pub fn for_stderr() -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(Vec::new()),
        })
    } else {
        Arc::new(Lines {
            start: Mutex::new(Vec::new()),
        })
    }
}

/// Wraps a layer's raw reader to report bytes every megabyte or so.
pub struct Reporting<R> {
    pub inner: R,
    pub progress: Arc<dyn Progress>,
    pub index: usize,
    pub read: u64,
    pub last: u64,
}

impl<R: Read> Read for Reporting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.last >= 1 << 20 || n == 0 {
            self.last = self.read;
            self.progress.layer_bytes(self.index, self.read);
        }
        Ok(n)
    }
}
