//! One small adapter per verb, from parsed flags to a library call. Each returns the process
//! exit code; errors go up to `main`, which prints and logs them once.

mod create;
mod delete;
mod events;
mod exec;
mod features;
pub mod image;
mod inspect;
mod kill;
mod list;
mod logs;
mod pause;
mod ps;
mod rm;
mod run;
mod run_image;
mod spec;
mod start;
mod state;
mod stop;
mod update;

use anyhow::Result;

use crate::cli::{Cli, Command, TraceFormat};
use crate::process::sealed_exe;
use crate::sys::trace;

/// Runs the parsed command line.
pub fn dispatch(mut cli: Cli) -> Result<i32> {
    let mode = crate::rootless::resolve(
        cli.global.rootless.as_deref(),
        cli.global.root_flag.take(),
        cli.global.store_flag.take(),
    )?;
    cli.global.rootless_mode = mode.rootless;
    cli.global.root = mode.root;
    cli.global.store = mode.store;
    // CVE-2019-5736: `exec`, and `run --image` (which sets up its bundle before `create`),
    // make sure their processes cannot reach the rind binary by re-executing rind sealed
    // first; this starts over in main. A bundle's `create` and `run` decide in
    // container::create, once the spec says whether init's exec stub is enough.
    let image_run = matches!(&cli.command, Command::Run(a) if a.image.image.is_some());
    if image_run || matches!(cli.command, Command::Exec(_)) {
        sealed_exe::ensure()?;
    }
    if cli.global.trace {
        trace::enable();
    }
    let g = &cli.global;
    let code = match cli.command {
        Command::Create(a) => create::run(g, a),
        Command::Start { id } => start::run(g, &id),
        Command::Run(a) if a.image.image.is_some() => {
            if g.rootless_mode {
                crate::rootless::dirs::ensure_private_store(&g.store)?;
            }
            run_image::run(g, *a)
        }
        Command::Run(a) => run::run(g, a.bundle_run()),
        Command::State { id } => state::run(g, &id),
        Command::Kill { all, id, signal } => kill::run(g, &id, &signal, all),
        Command::Delete { force, id } => delete::run(g, &id, force),
        Command::List { format, quiet } => list::run(g, format, quiet),
        Command::Spec {
            bundle,
            no_terminal,
            rootless,
        } => spec::run(&bundle, no_terminal, rootless),
        Command::Features => features::run(),
        Command::Pause { id } => pause::pause(g, &id),
        Command::Resume { id } => pause::resume(g, &id),
        Command::Ps {
            format,
            id: None,
            ps_args,
        } if ps_args.is_empty() => list::run(g, format, false),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps::run(g, id.as_deref().unwrap_or_default(), format, &ps_args),
        Command::Events {
            stats,
            interval,
            id,
        } => events::run(g, &id, stats, interval),
        Command::Update(a) => update::run(g, *a),
        Command::Exec(a) => exec::run(g, *a),
        Command::Stop { time, names } => stop::run(g, &names, time),
        Command::Rm { force, names } => rm::run(g, &names, force),
        Command::Logs { follow, name } => logs::run(g, &name, follow),
        Command::Inspect { name } => inspect::run(g, &name),
        Command::Image { cmd } => {
            if g.rootless_mode {
                crate::rootless::dirs::ensure_private_store(&g.store)?;
                if matches!(
                    cmd,
                    image::ImageCommand::Pull(_) | image::ImageCommand::Import(_)
                ) && crate::rootless::store::owners() == crate::image::layer::Owners::Squashed
                {
                    crate::logging::warn(
                        "rootless: without subordinate ids (/etc/subuid and /etc/subgid, and newuidmap/newgidmap from the uidmap package), layer files are unpacked owned by you (their owners in the image are not kept); containers see them owned by root",
                    );
                }
            }
            image::run(cmd, &g.store, g.debug).map(|()| 0)
        }
    };
    if g.trace {
        print_trace(g.trace_format);
    }
    code
}

/// Prints and logs a failed command's error as `main` does, for a verb that exits with a code
/// of its own on failure (`exec`: 255).
fn report_error(e: &anyhow::Error) {
    let msg = format!("{e:#}");
    crate::logging::error(&msg);
    eprintln!("rind: {msg}");
}

fn print_trace(format: TraceFormat) {
    let events = trace::events();
    match format {
        TraceFormat::Text => eprint!("{}", trace::render_text(&events)),
        TraceFormat::Json => {
            eprintln!("{}", serde_json::to_string(&events).unwrap_or_default())
        }
    }
}
