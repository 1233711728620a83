use anyhow::{Context, Result};

use crate::cli::{CreateArgs, GlobalOpts};
use crate::container::{self, CreateOptions};
use crate::linux::terminal::ConsoleSocket;

/// The library's create options from the command line.
pub(super) fn options(g: &GlobalOpts, a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.start.pid_file.clone(),
        console_socket: a.start.console_socket.clone().map(ConsoleSocket::Path),
        no_pivot: a.start.no_pivot,
        no_new_keyring: a.start.no_new_keyring,
        preserve_fds: a.start.preserve_fds,
        proxy_terminal: false,
        systemd_cgroup: g
            .systemd_cgroup
            .then(crate::cgroups::systemd::Manager::for_caller),
        root_overlay: None,
    }
}

pub fn run(g: &GlobalOpts, a: CreateArgs) -> Result<i32> {
    container::create(&g.root, &options(g, &a))
        .with_context(|| format!("create container {}", a.id))?;
    Ok(0)
}
