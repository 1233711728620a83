//! `rind run`: one definition for runc's form (a bundle and an id) and the image form
//! (`--image REF` with docker-style flags).

use std::path::PathBuf;

use clap::Args;

use super::{CreateArgs, RunArgs, StartFlags};

// `run` as parsed: runc's (a bundle and an id), or with `--image` a container from an image.
// One definition, so every runc flag keeps working: `--image` makes the id optional (it is
// then the container's name) and conflicts with `--bundle` and `--keep`; the image flags
// require `--image`. (A plain comment: a doc comment would replace the `run` subcommand's
// description, since subcommands are built deferred.)
#[derive(Debug, Args, Clone)]
pub struct RunCommand {
    /// Path to the bundle directory
    #[arg(short, long, conflicts_with = "image")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub start: StartFlags,
    /// Return once the container runs, instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits (delete it later); image containers are
    /// always kept unless --rm
    #[arg(long, conflicts_with = "image")]
    pub keep: bool,
    /// The container id; with --image, its name (optional)
    #[arg(required_unless_present = "image")]
    pub id: Option<String>,
    #[command(flatten)]
    pub image: ImageRunArgs,
}

// The flags of `run --image`. (A plain comment, as for `RunCommand`.)
#[derive(Debug, Args, Clone, Default)]
pub struct ImageRunArgs {
    /// Run a container from this image: a stored name or id, oci:DIR[:TAG],
    /// oci-archive:FILE[:TAG], docker-archive:FILE or docker://HOST/REPO[:TAG] (pulled or
    /// imported first when needed)
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Name of the container (default: a generated adjective_noun)
    #[arg(long, requires = "image", conflicts_with = "id")]
    pub name: Option<String>,
    /// Remove the container (state, root, bundle) once it stops
    #[arg(long, requires = "image")]
    pub rm: bool,
    /// Set an environment variable (repeatable)
    #[arg(short, long = "env", requires = "image", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory in the container
    #[arg(short, long, requires = "image", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: name, uid, name:group or uid:gid (looked up in the image)
    #[arg(short, long, requires = "image")]
    pub user: Option<String>,
    /// Hostname of the container (default: its name)
    #[arg(long, requires = "image")]
    pub hostname: Option<String>,
    /// Mount the container's root read-only
    #[arg(long, requires = "image")]
    pub read_only: bool,
    /// Memory limit (e.g. 256m, 1g)
    #[arg(short, long, requires = "image", value_name = "SIZE")]
    pub memory: Option<String>,
    /// CPUs the container may use (e.g. 1.5)
    #[arg(long, requires = "image", value_name = "N")]
    pub cpus: Option<f64>,
    /// Most processes the container may have
    #[arg(long, requires = "image", value_name = "N")]
    pub pids_limit: Option<i64>,
    /// Bind mount a host path (repeatable)
    #[arg(
        short,
        long = "volume",
        requires = "image",
        value_name = "HOST:CTR[:ro]"
    )]
    pub volume: Vec<String>,
    /// Network: none (a private namespace with lo up; the default) or host
    #[arg(long, requires = "image", value_name = "none|host")]
    pub net: Option<String>,
    /// Give the container a terminal (process.terminal)
    #[arg(short, long, requires = "image")]
    pub tty: bool,
    /// Keep stdin attached (without it the container's stdin is /dev/null)
    #[arg(short, long, requires = "image")]
    pub interactive: bool,
    /// The command to run instead of the image's Cmd (after --)
    #[arg(last = true, requires = "image", value_name = "CMD")]
    pub command: Vec<String>,
}

impl RunCommand {
    /// runc's `run` arguments (for a `run` without `--image`, where the id is present).
    pub fn bundle_run(&self) -> RunArgs {
        RunArgs {
            create: CreateArgs {
                bundle: self.bundle.clone().unwrap_or_else(|| PathBuf::from(".")),
                start: self.start.clone(),
                id: self.id.clone().unwrap_or_default(),
            },
            detach: self.detach,
            keep: self.keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn run_of(args: &[&str]) -> Result<RunCommand, clap::Error> {
        let mut argv = vec!["rind", "run"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Run(r) => Ok(*r),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn runc_run_keeps_its_flags_and_needs_an_id() {
        let r = run_of(&["-b", "/b", "--pid-file", "/p", "-d", "--keep", "c1"]).unwrap();
        assert!(r.image.image.is_none());
        let a = r.bundle_run();
        assert_eq!(
            (a.create.id.as_str(), a.create.bundle.to_str()),
            ("c1", Some("/b"))
        );
        assert!(a.detach && a.keep);
        assert_eq!(
            run_of(&["c1"]).unwrap().bundle_run().create.bundle,
            PathBuf::from(".")
        );
        assert!(run_of(&[]).is_err());
        // Image flags need --image.
        assert!(run_of(&["--rm", "c1"]).is_err());
        assert!(run_of(&["c1", "--", "sh"]).is_err());
    }

    #[test]
    fn run_image_takes_docker_style_flags_and_a_command_after_dashdash() {
        let r = run_of(&[
            "--image",
            "busybox",
            "--name",
            "web",
            "-d",
            "--rm",
            "-e",
            "A=1",
            "-e",
            "B=2",
            "-w",
            "/srv",
            "-u",
            "1000",
            "-m",
            "64m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "10",
            "-v",
            "/a:/b:ro",
            "--net",
            "host",
            "--read-only",
            "--hostname",
            "h",
            "--",
            "sh",
            "-c",
            "x",
        ])
        .unwrap();
        let i = &r.image;
        assert_eq!(i.image.as_deref(), Some("busybox"));
        assert_eq!(i.name.as_deref(), Some("web"));
        assert!(r.detach && i.rm && i.read_only);
        assert_eq!(i.env, ["A=1", "B=2"]);
        assert_eq!(i.command, ["sh", "-c", "x"]);
        assert_eq!(i.cpus, Some(1.5));
        assert!(r.id.is_none());
        // The positional is the name; it and --name do not mix, nor --image and --bundle.
        assert_eq!(
            run_of(&["--image", "x", "web"]).unwrap().id.as_deref(),
            Some("web")
        );
        assert!(run_of(&["--image", "x", "--name", "a", "b"]).is_err());
        assert!(run_of(&["--image", "x", "-b", "/b"]).is_err());
        assert!(run_of(&["--image", "x", "--keep"]).is_err());
    }
}
