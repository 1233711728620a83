use anyhow::{Context, Result};

use crate::cli::{GlobalOpts, RunArgs};
use crate::container::{self, Container, HooksFrom};
use crate::linux::terminal;
use crate::process::supervise;
use crate::sys::trace;

pub fn run(g: &GlobalOpts, a: RunArgs) -> Result<i32> {
    let mut opts = super::create::options(g, &a.create);
    opts.proxy_terminal = !a.detach;
    let id = opts.id.clone();
    if a.detach {
        let (created, locked) = container::create_locked(&g.root, &opts)
            .with_context(|| format!("create container {id}"))?;
        start_or_remove(g, locked, HooksFrom::Given(created.hooks.as_ref()))?;
        return Ok(0);
    }

    let set = supervise::prepare()?;

    let (created, locked) = container::create_locked(&g.root, &opts)
        .with_context(|| format!("create container {id}"))?;
    // With a proxied terminal, the master is already waiting on the console socket.
    let master = match &created.console {
        Some(sock) => Some(terminal::recv_fd(sock).context("receive the container's terminal")?),
        None => None,
    };
    // The hooks are the spec's, parsed by `create`: `start` and `delete` need not read them
    // back from the saved config.json.
    let hooks = HooksFrom::Given(created.hooks.as_ref());
    start_or_remove(g, locked, hooks)?;
    crate::process::follow_init_to_exec();
    let code = match master {
        Some(m) => supervise::wait_with_tty(&set, created.pid, m)?,
        None => supervise::wait_forwarding(&set, created.pid)?,
    };
    trace::mark(|| format!("container exited with {code}"));
    if !a.keep {
        container::delete_with(&g.root, &id, true, hooks)
            .with_context(|| format!("delete container {id} after it exited"))?;
        trace::mark(|| "deleted the container".into());
    }
    Ok(code)
}

/// Starts the container `create_locked` returned, and unlocks it (for the commands run on it
/// while it runs); if the start fails, removes it.
fn start_or_remove(g: &GlobalOpts, locked: Container, hooks: HooksFrom) -> Result<()> {
    let id = locked.id().to_string();
    if let Err(e) = container::start_created(locked, hooks) {
        let _ = container::delete_with(&g.root, &id, true, hooks);
        return Err(e).with_context(|| format!("start container {id}"));
    }
    Ok(())
}
