use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::cli::{GlobalOpts, RunArgs};
use crate::container;

/// Signals a foreground `run` passes on to the container's init.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

pub fn run(g: &GlobalOpts, a: RunArgs) -> Result<i32> {
    let opts = super::create::options(&a.create);
    let id = opts.id.clone();
    if a.detach {
        container::create(&g.root, &opts).with_context(|| format!("create container {id}"))?;
        start_or_remove(g, &id)?;
        return Ok(0);
    }

    // Block the forwarded signals (and SIGCHLD) before init exists, so none is lost or acted
    // on by default between now and the wait loop. Init resets its own mask.
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block().context("block signals")?;
    // With an extra fork (PID or time namespace) init is our grandchild: become the subreaper
    // so it is reparented to us and we can wait for it.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    let created =
        container::create(&g.root, &opts).with_context(|| format!("create container {id}"))?;
    start_or_remove(g, &id)?;
    let code = wait_forwarding(&set, created.pid)?;
    if !a.keep {
        container::delete(&g.root, &id, true)
            .with_context(|| format!("delete container {id} after it exited"))?;
    }
    Ok(code)
}

fn start_or_remove(g: &GlobalOpts, id: &str) -> Result<()> {
    if let Err(e) = container::start(&g.root, id) {
        let _ = container::delete(&g.root, id, true);
        return Err(e).with_context(|| format!("start container {id}"));
    }
    Ok(())
}

/// Forwards signals to init until it exits; returns its exit code (128+n for signal n).
fn wait_forwarding(set: &SigSet, init: Pid) -> Result<i32> {
    loop {
        let sig = set.wait().context("wait for signals")?;
        if sig != Signal::SIGCHLD {
            let _ = kill(init, sig);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == init => return Ok(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == init => return Ok(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                Ok(_) => continue,
                Err(e) => return Err(e).context("wait for container init"),
            }
        }
    }
}
