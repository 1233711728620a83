use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{Capability, Process};

use crate::cli::{ExecArgs, GlobalOpts};
use crate::container::{self, Container, ExecOptions};
use crate::linux::terminal::{self, ConsoleSocket};
use crate::logging;
use crate::process::supervise;

/// runc's `exec`. Its own failures exit 255, not 1, as runc's do ("exec failed: ..."), so that
/// a caller can tell them from the process's exit code (1 is common there); the process's own
/// code passes through. The error is printed and logged as `main` does with others.
pub fn run(g: &GlobalOpts, a: ExecArgs) -> Result<i32> {
    match exec(g, a) {
        Ok(code) => Ok(code),
        Err(e) => {
            super::report_error(&e);
            Ok(255)
        }
    }
}

fn exec(g: &GlobalOpts, a: ExecArgs) -> Result<i32> {
    let process = match &a.process {
        Some(path) => {
            if !a.command.is_empty() {
                bail!("exec: give either --process or a command, not both");
            }
            read_process(path)?
        }
        None => process_from_flags(g, &a)?,
    };
    let opts = ExecOptions {
        process,
        console_socket: a.console_socket.clone().map(ConsoleSocket::Path),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        proxy_terminal: !a.detach,
        sub_cgroups: a.cgroup.clone(),
    };
    let id = a.id.as_str();
    let started_debug =
        |pid| logging::debug(|| format!("exec in container {id}: started pid {pid}"));
    if a.detach {
        let started = container::exec(&g.root, id, opts)
            .with_context(|| format!("exec in container {id}"))?;
        started_debug(started.pid);
        return Ok(0);
    }
    let set = supervise::prepare()?;
    let started =
        container::exec(&g.root, id, opts).with_context(|| format!("exec in container {id}"))?;
    started_debug(started.pid);
    let code = match &started.console {
        Some(sock) => {
            let master = terminal::recv_fd(sock).context("receive the process's terminal")?;
            supervise::wait_with_tty(&set, started.pid, master)?
        }
        None => supervise::wait_forwarding(&set, started.pid)?,
    };
    logging::debug(|| {
        format!(
            "exec in container {id}: pid {} exited with {code}",
            started.pid
        )
    });
    Ok(code)
}

fn read_process(path: &PathBuf) -> Result<Process> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let parse_error =
        |e: serde_json::Error| anyhow::anyhow!("parse process {}: {e}", path.display());
    let mut doc: serde_json::Value = serde_json::from_str(&text).map_err(parse_error)?;
    // runc's Go decoding leaves a missing `user` at its zero value: uid 0, gid 0.
    if let Some(obj) = doc.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    let p: Process = serde_json::from_value(doc).map_err(parse_error)?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process {}: args must name a program", path.display());
    }
    Ok(p)
}

/// runc's rule: start from the container's own process, then apply the flags.
fn process_from_flags(g: &GlobalOpts, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec: no command given");
    }
    let c = Container::load(&g.root, &a.id)?;
    let text = std::fs::read(c.config_path())
        .with_context(|| format!("read {}", c.config_path().display()))?;
    drop(c);
    let spec = crate::spec::parse(&text).map_err(|e| anyhow::anyhow!("saved config.json: {e}"))?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let Some((key, _)) = kv.split_once('=') else {
            bail!("exec: --env {kv:?} is not KEY=VALUE");
        };
        env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (uid, Some(gid)),
            None => (u.as_str(), None),
        };
        user.set_uid(
            uid.parse()
                .with_context(|| format!("exec: --user {u:?}: want UID[:GID]"))?,
        );
        if let Some(gid) = gid {
            user.set_gid(
                gid.parse()
                    .with_context(|| format!("exec: --user {u:?}: want UID[:GID]"))?,
            );
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let cap: Capability =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| anyhow::anyhow!("exec: unknown capability {name:?}"))?;
            let add = |s: Option<std::collections::HashSet<Capability>>| {
                let mut s = s.unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            let b = add(caps.bounding().clone());
            let e = add(caps.effective().clone());
            let pm = add(caps.permitted().clone());
            caps.set_bounding(b);
            caps.set_effective(e);
            caps.set_permitted(pm);
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    Ok(p)
}
