use anyhow::{Context, Result};

use crate::cli::{GlobalOpts, RunArgs};
use crate::container;
use crate::linux::terminal;
use crate::process::{supervise, trace};

pub fn run(g: &GlobalOpts, a: RunArgs) -> Result<i32> {
    let mut opts = super::create::options(&a.create);
    opts.proxy_terminal = !a.detach;
    let id = opts.id.clone();
    if a.detach {
        container::create(&g.root, &opts).with_context(|| format!("create container {id}"))?;
        start_or_remove(g, &id)?;
        return Ok(0);
    }

    let set = supervise::prepare()?;

    let created =
        container::create(&g.root, &opts).with_context(|| format!("create container {id}"))?;
    // With a proxied terminal, the master is already waiting on the console socket.
    let master = match &created.console {
        Some(sock) => Some(terminal::recv_fd(sock).context("receive the container's terminal")?),
        None => None,
    };
    start_or_remove(g, &id)?;
    trace::follow_init_to_exec();
    let code = match master {
        Some(m) => supervise::wait_with_tty(&set, created.pid, m)?,
        None => supervise::wait_forwarding(&set, created.pid)?,
    };
    trace::mark(|| format!("container exited with {code}"));
    if !a.keep {
        container::delete(&g.root, &id, true)
            .with_context(|| format!("delete container {id} after it exited"))?;
        trace::mark(|| "deleted the container".into());
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
