//! The command line: runc's global flags and verbs, spelled as runc spells them, plus rind's
//! own. Every flag here either works or is refused with a clear error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::LogFormat;

mod one_verb;
mod run;
pub use run::{ImageRunArgs, RunCommand};

/// The parsed command line: the global flags and the verb.
pub type Cli = CliOf<Command>;

/// The command line with the verbs `V`: [`Cli`] for rind's verbs. Generic so that
/// [`Cli::parse_one_verb`] builds its top level from this same definition, with no verbs, and
/// adds only the one that runs. (The explicit `about` and `long_about` below take precedence
/// over this comment; the group id is the one derive gave `Cli` before it was generic.)
#[derive(Debug, Parser)]
#[command(
    name = "rind",
    // runc's three lines, which go-runc's Version() and `docker info` read: the first must hold
    // "version", the others start with "commit:" and "spec:" (spec::SPEC_VERSION; concat! takes
    // only literals, and a unit test keeps the two equal).
    version = concat!(
        "version ",
        env!("CARGO_PKG_VERSION"),
        "\ncommit: ",
        env!("RIND_COMMIT"),
        "\nspec: 1.2.0"
    ),
    about = "A small, fast OCI container runtime",
    long_about = "rind runs OCI bundles with runc's command-line contract (create, start, state, \
                  kill, delete, ...), so container engines can use it in place of runc.",
    propagate_version = true
)]
#[group(id = "Cli")]
pub struct CliOf<V: Subcommand> {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: V,
}

/// Flags accepted before or after the verb.
#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// Directory that holds container state [default: /run/rind; rootless:
    /// $XDG_RUNTIME_DIR/rind]
    #[arg(
        long = "root",
        id = "root",
        global = true,
        env = "RIND_ROOT",
        value_name = "ROOT"
    )]
    pub root_flag: Option<PathBuf>,
    /// The state directory in effect: `--root`, or the default for the mode (set by
    /// `commands::dispatch` from `rootless::resolve`).
    #[arg(skip)]
    pub root: PathBuf,
    /// Also write errors (and debug lines with --debug) to this file
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of the --log file
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print debug messages
    #[arg(long, global = true)]
    pub debug: bool,
    /// Make each container's cgroup a systemd scope unit (cgroupsPath is "slice:prefix:name")
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: "auto" (the default) is rootless when not run as root [possible
    /// values: true, false, auto]. Before the verb only, as runc takes it (`spec --rootless`
    /// is spec's own flag)
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,
    /// Directory of the image store (rind image, run --image) [default: /var/lib/rind;
    /// rootless: $XDG_DATA_HOME/rind or ~/.local/share/rind]
    #[arg(
        long = "store",
        id = "store",
        global = true,
        env = "RIND_STORE",
        value_name = "STORE"
    )]
    pub store_flag: Option<PathBuf>,
    /// The image store in effect (see `root`).
    #[arg(skip)]
    pub store: PathBuf,
    /// Whether this run is rootless (`--rootless`, or auto-detected; see `rootless::resolve`).
    #[arg(skip)]
    pub rootless_mode: bool,
    /// Print a timeline of the runtime's steps on stderr (create, start, run)
    #[arg(long, global = true)]
    pub trace: bool,
    /// Format of the --trace timeline
    #[arg(long, global = true, value_enum, default_value_t = TraceFormat::Text)]
    pub trace_format: TraceFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are built only when it is the one run (or its help is shown),
// not all of them on every start.
#[command(defer = true)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`
    Create(CreateArgs),
    /// Start the process of a created container
    Start { id: String },
    /// Create and start a container, and wait for it unless --detach; with --image, from an image
    Run(Box<RunCommand>),
    /// Print the state of a container as JSON
    State { id: String },
    /// Send a signal (name or number; default SIGTERM) to the container's init
    Kill {
        /// Send the signal to every process in the container
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped (or, with --force, any) container
    Delete {
        /// Kill the container first if it is running; succeed if it does not exist
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers (with the image and command of each)
    #[command(visible_alias = "ls")]
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Print only the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json for a busybox rootfs
    Spec {
        /// Directory to write config.json in
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Set process.terminal to false (runc's default is true)
        #[arg(long)]
        no_terminal: bool,
        /// Write a config for a rootless container: a user namespace mapping the caller's
        /// uid and gid to root, no network namespace, no cgroup limits (as runc's)
        #[arg(long)]
        rootless: bool,
    },
    /// Print the OCI features document: what this runtime supports
    Features,
    /// Freeze every process of a running container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// List the processes of a container (`ps -ef` lines, or host pids as JSON); without an id,
    /// list containers as `list` does
    Ps {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        id: Option<String>,
        /// Arguments for ps(1) instead of -ef
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print resource usage (and OOM events) of a container as JSON lines
    Events {
        /// Print one stats event and exit
        #[arg(long)]
        stats: bool,
        /// Time between stats events
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        interval: std::time::Duration,
        id: String,
    },
    /// Change the resource limits of a running container
    Update(Box<UpdateArgs>),
    /// Run another process in a running container
    Exec(Box<ExecArgs>),
    /// Stop containers: the image's stop signal (default SIGTERM), then SIGKILL after a grace
    /// period; a container run with --rm is removed
    Stop {
        /// Seconds to wait after the stop signal before SIGKILL
        #[arg(
            short = 't',
            long = "time",
            visible_alias = "timeout",
            default_value_t = 10
        )]
        time: u64,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Remove containers; for image containers also their root and bundle
    Rm {
        /// Kill running containers first
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Print what a detached image container wrote to stdout and stderr
    Logs {
        /// Keep printing new output until the container stops
        #[arg(short, long)]
        follow: bool,
        name: String,
    },
    /// Print a container's state, image and configuration as JSON
    Inspect { name: String },
    /// Manage images: pull, import, ls, inspect, rm, prune
    Image {
        #[command(subcommand)]
        cmd: crate::commands::image::ImageCommand,
    },
}

// runc's `exec` flags. (A plain comment: a doc comment here would replace the `exec`
// subcommand's own description, since subcommands are built deferred.)
#[derive(Debug, Args, Clone)]
pub struct ExecArgs {
    /// JSON file with the whole process (instead of a command and flags)
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Working directory of the process
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE; repeatable)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// UID[:GID] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Supplementary group ids (repeatable)
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability (repeatable)
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Confine the process with this AppArmor profile
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the terminal's master fd
    #[arg(long, value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process runs, instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the host pid of the process to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Pass this many extra fds (3, 4, ...) to the process
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Allow exec in a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run the process in an existing cgroup below the container's: [CONTROLLER,...:]PATH
    /// (repeatable, one per controller list)
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

// runc's `update` flags. (A plain comment, as for `ExecArgs`.)
#[derive(Debug, Args, Clone)]
pub struct UpdateArgs {
    /// JSON file with a linux.resources document ("-" for stdin)
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit (e.g. 256m; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit (-1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU realtime period in microseconds
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (e.g. 0-1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 or 0 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Intel RDT L3 cache schema (not supported: refused)
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: refused)
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

// Flags shared by `create` and `run`. (A plain comment, as for `ExecArgs`.)
#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub start: StartFlags,
    pub id: String,
}

// How the container's init is started: flags of `create` and of both forms of `run` (runc's
// and `--image`), one definition for the three. (A plain comment, as for `ExecArgs`.)
#[derive(Debug, Args, Clone, Default)]
pub struct StartFlags {
    /// File to write the host pid of the container's init to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the terminal's master fd (process.terminal)
    #[arg(long, value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) to the container process
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
}

/// runc's `run`, as `commands::run` takes it.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container runs, instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits (delete it later)
    #[arg(long)]
    pub keep: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn version_names_the_spec_version_as_runc_does() {
        let cmd = Cli::command();
        let version = cmd.get_version().unwrap();
        let lines: Vec<&str> = version.lines().collect();
        assert!(lines[0].starts_with("version "), "{version}");
        assert!(lines[1].starts_with("commit: "), "{version}");
        assert_eq!(lines[2], format!("spec: {}", crate::spec::SPEC_VERSION));
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Subcommands are built deferred, and then a doc comment on a subcommand's argument
    /// struct replaces the subcommand's own description in `--help`.
    #[test]
    fn each_subcommand_keeps_its_own_description() {
        let mut cli = Cli::command();
        cli.build();
        for (name, about) in [
            ("create", "Create a container from a bundle"),
            ("run", "Create and start a container"),
            ("update", "Change the resource limits"),
            ("exec", "Run another process in a running container"),
        ] {
            let sub = cli.find_subcommand(name).unwrap();
            let text = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(text.starts_with(about), "{name}: {text:?}");
        }
    }

    #[test]
    fn runc_style_invocation_parses() {
        let cli = Cli::try_parse_from([
            "rind",
            "--root",
            "/tmp/r",
            "--log",
            "/tmp/l",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "c1",
        ])
        .unwrap();
        assert_eq!(cli.global.root_flag, Some(PathBuf::from("/tmp/r")));
        assert_eq!(cli.global.log_format, LogFormat::Json);
        match cli.command {
            Command::Create(a) => {
                assert_eq!(a.id, "c1");
                assert_eq!(a.bundle, PathBuf::from("/b"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn kill_takes_an_optional_signal() {
        let cli = Cli::try_parse_from(["rind", "kill", "--all", "c1", "KILL"]).unwrap();
        match cli.command {
            Command::Kill { all, id, signal } => {
                assert!(all);
                assert_eq!(id, "c1");
                assert_eq!(signal, "KILL");
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn ps_without_an_id_parses_as_a_listing() {
        let cli = Cli::try_parse_from(["rind", "ps"]).unwrap();
        assert!(matches!(cli.command, Command::Ps { id: None, .. }));
        let cli = Cli::try_parse_from(["rind", "ps", "c1", "-o", "pid"]).unwrap();
        match cli.command {
            Command::Ps { id, ps_args, .. } => {
                assert_eq!(id.as_deref(), Some("c1"));
                assert_eq!(ps_args, ["-o", "pid"]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
