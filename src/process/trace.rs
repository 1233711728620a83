//! `--trace`: a timeline of what the runtime and the container's init did, and when.
//!
//! Timestamps come from one monotonic clock (CLOCK_MONOTONIC is system-wide, so an origin
//! taken in the runtime stays valid in the forked init). The runtime records its own steps
//! here; init sends its steps over the sync channel and the runtime files them in the same
//! timeline. When tracing is off, [`mark`] is one relaxed atomic load.
//!
//! Init is a forked copy of the runtime, so it has its own copy of this module's state: after
//! [`forward_to_runtime`], a [`mark`] in init (from any module: rootfs, capabilities ...) is
//! sent over the sync channel as a `Trace` message instead of being kept in init's copy, which
//! would be lost at `execve`.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Instant;

use nix::sys::socket::{MsgFlags, send};
use serde::Serialize;

use super::channel::{InitEnd, RuntimeEnd, ToRuntime};

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

static ENABLED: AtomicBool = AtomicBool::new(false);
static TIMELINE: Mutex<(Option<Clock>, Vec<Event>)> = Mutex::new((None, Vec::new()));
/// In init: the sync channel's descriptor that [`mark`] sends to; -1 in the runtime.
static INIT_CHANNEL: AtomicI32 = AtomicI32::new(-1);
/// In the runtime, when tracing: its end of init's channel, kept after `create` is done.
static KEPT_CHANNEL: Mutex<Option<RuntimeEnd>> = Mutex::new(None);

/// Called in init, right after the clone: from now on [`mark`] in this process sends each
/// step to the runtime over `chan` (a best-effort send; a lost step never fails init). The
/// channel is close-on-exec, so nothing is sent once the container's program runs.
pub fn forward_to_runtime(chan: &InitEnd) {
    if ENABLED.load(Ordering::Relaxed) {
        INIT_CHANNEL.store(chan.as_fd().as_raw_fd(), Ordering::Relaxed);
    }
}

/// Stops [`forward_to_runtime`]: the channel is about to be closed.
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

/// Records a step: in the runtime's timeline, or, in init after [`forward_to_runtime`], sent
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

fn send_to_runtime(fd: i32, step: String) {
    let Some(clock) = TIMELINE.lock().ok().and_then(|t| t.0) else {
        return;
    };
    let msg = ToRuntime::Trace {
        nanos: clock.nanos(),
        step,
    };
    if let Ok(bytes) = serde_json::to_vec(&msg) {
        let _ = send(fd, &bytes, MsgFlags::MSG_NOSIGNAL);
    }
}

/// When tracing, keeps the runtime's end of init's channel after setup, for
/// [`follow_init_to_exec`]; otherwise drops it.
pub fn keep_init_channel(chan: RuntimeEnd) {
    if ENABLED.load(Ordering::Relaxed)
        && let Ok(mut kept) = KEPT_CHANNEL.lock()
    {
        *kept = Some(chan);
    }
}

/// Files the steps init reports after `start` released it, until its channel closes: the
/// channel is close-on-exec, so the close is the moment of the successful execve (or of
/// init's exit, if the exec failed). Does nothing when tracing is off or no channel was kept.
pub fn follow_init_to_exec() {
    let Some(chan) = KEPT_CHANNEL.lock().ok().and_then(|mut k| k.take()) else {
        return;
    };
    loop {
        match chan.recv() {
            Ok(Some(ToRuntime::Trace { nanos, step })) => record_init(nanos, step),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    mark(|| "init's channel closed (the execve)".into());
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
