//! Signalling every process of a cgroup by listing them, the way both versions share when the
//! kernel has no `cgroup.kill` (every v1 hierarchy; v2 before Linux 5.14, and any signal but
//! SIGKILL).

use nix::sys::signal::{Signal, kill};

use super::{Cgroup, FreezerState, Result};

/// Freezes the cgroup (when it has a freezer) so that nothing forks between the listing and
/// the signals, sends `signal` to every process, and thaws it again if it was thawed, or
/// always after a SIGKILL: a killed container is not paused. Frozen tasks still receive fatal
/// signals; the others get theirs when thawed.
pub(super) fn signal_listed(cgroup: &(impl Cgroup + ?Sized), signal: Signal) -> Result<()> {
    let was = cgroup.freezer().ok();
    let froze = was.is_some() && cgroup.set_freezer(FreezerState::Frozen).is_ok();
    let pids = cgroup.pids();
    if let Ok(pids) = &pids {
        for pid in pids {
            let _ = kill(*pid, signal);
        }
    }
    if froze && (signal == Signal::SIGKILL || was == Some(FreezerState::Thawed)) {
        cgroup.set_freezer(FreezerState::Thawed)?;
    }
    pids.map(|_| ())
}
