//! `--trace`: a timeline of what the runtime and the container's init did, and when.
//!
//! Timestamps come from one monotonic clock (CLOCK_MONOTONIC is system-wide, so an origin
//! taken in the runtime stays valid in the forked init). The runtime records its own steps
//! here; init sends its steps over the sync channel and the runtime files them in the same
//! timeline. When tracing is off, [`mark`] is one relaxed atomic load.
//!
//! Init is a forked copy of the runtime, so it has its own copy of this module's state: after
//! [`forward_to`], a [`mark`] in init (from any module: rootfs, capabilities ...) is sent over
//! the sync channel instead of being kept in init's copy, which would be lost at `execve`.
//! This is the one way a step is traced, in the runtime and in init alike.

use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Instant;

use nix::sys::socket::{MsgFlags, send};
use serde::Serialize;

/// The origin of the timeline.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// Nanoseconds since the origin.
    pub fn nanos(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// Which process took a step.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Runtime,
    Init,
}

/// One step of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub nanos: u64,
    pub side: Side,
    pub step: String,
}

/// How a step in init becomes a datagram for the runtime: `(nanos, step)` to the bytes of the
/// channel's `Trace` message (the channel's types live above this module).
pub type Encoder = fn(u64, String) -> Option<Vec<u8>>;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TIMELINE: Mutex<(Option<Clock>, Vec<Event>)> = Mutex::new((None, Vec::new()));
/// In init: the sync channel's descriptor that [`mark`] sends to; -1 in the runtime.
static INIT_CHANNEL: AtomicI32 = AtomicI32::new(-1);
static ENCODER: Mutex<Option<Encoder>> = Mutex::new(None);

/// Called in init, right after the clone: from now on [`mark`] in this process sends each
/// step, encoded by `encode`, to the socket `fd` (a best-effort send; a lost step never fails
/// init). The channel is close-on-exec, so nothing is sent once the container's program runs.
pub fn forward_to(fd: RawFd, encode: Encoder) {
    if ENABLED.load(Ordering::Relaxed)
        && let Ok(mut e) = ENCODER.lock()
    {
        *e = Some(encode);
        INIT_CHANNEL.store(fd, Ordering::Relaxed);
    }
}

/// Stops [`forward_to`]: the channel is about to be closed.
pub fn stop_forwarding() {
    INIT_CHANNEL.store(-1, Ordering::Relaxed);
}

/// Turns tracing on, with the origin now. Returns the clock to hand to init.
pub fn enable() -> Clock {
    let clock = Clock {
        origin: Instant::now(),
    };
    if let Ok(mut t) = TIMELINE.lock() {
        t.0 = Some(clock);
    }
    ENABLED.store(true, Ordering::Relaxed);
    clock
}

/// The clock, when tracing is on.
pub fn clock() -> Option<Clock> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    TIMELINE.lock().ok().and_then(|t| t.0)
}

/// Records a step: in the runtime's timeline, or, in init after [`forward_to`], sent
/// to the runtime. When tracing is off this is one relaxed atomic load and `step` is never
/// called.
pub fn mark(step: impl FnOnce() -> String) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let fd = INIT_CHANNEL.load(Ordering::Relaxed);
    if fd >= 0 {
        send_to_runtime(fd, step());
        return;
    }
    if let Ok(mut t) = TIMELINE.lock()
        && let Some(clock) = t.0
    {
        let nanos = clock.nanos();
        t.1.push(Event {
            nanos,
            side: Side::Runtime,
            step: step(),
        });
    }
}

fn send_to_runtime(fd: RawFd, step: String) {
    let Some(clock) = TIMELINE.lock().ok().and_then(|t| t.0) else {
        return;
    };
    let Some(encode) = ENCODER.lock().ok().and_then(|e| *e) else {
        return;
    };
    if let Some(bytes) = encode(clock.nanos(), step) {
        let _ = send(fd, &bytes, MsgFlags::MSG_NOSIGNAL);
    }
}

/// Files a step that init reported.
pub fn record_init(nanos: u64, step: String) {
    if let Ok(mut t) = TIMELINE.lock() {
        t.1.push(Event {
            nanos,
            side: Side::Init,
            step,
        });
    }
}

/// How many steps the timeline holds: a forked child's own steps are those after it
/// ([`steps_after`]).
pub fn count() -> usize {
    TIMELINE.lock().map(|t| t.1.len()).unwrap_or(0)
}

/// The steps recorded after the first `n`, as `(nanos, step)`: what a forked child of the
/// runtime adds to the timeline it inherited, to send back to the runtime.
pub fn steps_after(n: usize) -> Vec<(u64, String)> {
    TIMELINE
        .lock()
        .map(|t| {
            t.1.iter()
                .skip(n)
                .map(|e| (e.nanos, e.step.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Files steps a forked child of the runtime took (its clock is the runtime's, inherited).
pub fn record_runtime(steps: Vec<(u64, String)>) {
    if let Ok(mut t) = TIMELINE.lock() {
        for (nanos, step) in steps {
            t.1.push(Event {
                nanos,
                side: Side::Runtime,
                step,
            });
        }
    }
}

/// The timeline so far, in time order.
pub fn events() -> Vec<Event> {
    let mut v = TIMELINE.lock().map(|t| t.1.clone()).unwrap_or_default();
    v.sort_by_key(|e| e.nanos);
    v
}

/// The timeline as text: time since start, time since the previous step, side, step.
pub fn render_text(events: &[Event]) -> String {
    let mut out = String::from("      at(ms)  +delta(ms)  side     step\n");
    let mut prev = 0u64;
    for e in events {
        let side = match e.side {
            Side::Runtime => "runtime",
            Side::Init => "init",
        };
        out.push_str(&format!(
            "{:>12.3} {:>11.3}  {side:<8} {}\n",
            e.nanos as f64 / 1e6,
            (e.nanos - prev) as f64 / 1e6,
            e.step
        ));
        prev = e.nanos;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_timeline_shows_deltas_between_steps() {
        let ev = vec![
            Event {
                nanos: 1_000_000,
                side: Side::Runtime,
                step: "a".into(),
            },
            Event {
                nanos: 3_500_000,
                side: Side::Init,
                step: "b".into(),
            },
        ];
        let text = render_text(&ev);
        assert!(
            text.contains("       3.500       2.500  init     b"),
            "{text}"
        );
    }
}
