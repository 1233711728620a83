//! `rind run --image REF ...`: pull or import the image when needed, make the container's
//! bundle in the store, and run it in the foreground or detached.

use anyhow::{Context, Result, bail};

use crate::cli::{GlobalOpts, RunCommand};
use crate::image::layer::UnpackLimits;
use crate::image::source::SourceOptions;
use crate::image::{Image, ImageError, ImageRef, PullOptions, Store, progress};
use crate::shell::{self, RunRequest, StartOptions};

pub fn run(g: &GlobalOpts, a: RunCommand) -> Result<i32> {
    let req = request(&a)?;
    if req.detach && req.tty && a.start.console_socket.is_none() {
        bail!(
            "-t with -d needs --console-socket: rind has no attach command to reach the terminal later"
        );
    }
    if req.detach && req.interactive {
        bail!(
            "-i with -d: rind has no attach command, so nothing could write to the container's stdin"
        );
    }
    shell::sweep_and_warn(&g.root);
    let store = crate::rootless::store::open(&g.store)
        .with_context(|| format!("open image store {}", g.store.display()))?;
    let image = resolve(&store, &req.image)?;
    let reserved = shell::reserve(&store, &g.root, &req, &image)
        .with_context(|| format!("run {}", req.image))?;
    let id = reserved.record.id.clone();
    let opts = StartOptions {
        pid_file: a.start.pid_file.clone(),
        console_socket: a.start.console_socket.clone(),
        no_pivot: a.start.no_pivot,
        no_new_keyring: a.start.no_new_keyring,
        preserve_fds: a.start.preserve_fds,
        proxy_terminal: req.tty && !req.detach && a.start.console_socket.is_none(),
    };
    if req.detach {
        shell::run_detached(&g.root, reserved, &opts)
            .with_context(|| format!("run container {id}"))?;
        println!("{id}");
        return Ok(0);
    }
    if !req.interactive {
        shell::detach_stdin()?;
    }
    shell::run_foreground(&g.root, reserved, &opts).with_context(|| format!("run container {id}"))
}

/// The parsed request; flag values are checked here, before anything is pulled or made.
fn request(a: &RunCommand) -> Result<RunRequest> {
    let i = &a.image;
    let image = i.image.clone().unwrap_or_default();
    let volumes = i
        .volume
        .iter()
        .map(|v| v.parse())
        .collect::<Result<Vec<_>, _>>()?;
    let network = match &i.net {
        Some(n) => n.parse()?,
        None => shell::Network::None,
    };
    let memory = match &i.memory {
        Some(m) => Some(super::update::parse_size(m).with_context(|| format!("--memory {m}"))?),
        None => None,
    };
    if let Some(e) = i
        .env
        .iter()
        .find(|e| !e.contains('=') || e.starts_with('='))
    {
        bail!("-e {e:?}: want KEY=VALUE");
    }
    Ok(RunRequest {
        image,
        name: i.name.clone().or_else(|| a.id.clone()),
        detach: a.detach,
        rm: i.rm,
        env: i.env.clone(),
        workdir: i.workdir.clone(),
        user: i.user.clone(),
        hostname: i.hostname.clone(),
        read_only: i.read_only,
        memory,
        cpus: i.cpus,
        pids_limit: i.pids_limit,
        volumes,
        network,
        tty: i.tty,
        interactive: i.interactive,
        command: (!i.command.is_empty()).then(|| i.command.clone()),
    })
}

/// The image `reference` names: a stored image as is; a source (oci:, oci-archive:,
/// docker-archive:, docker://) pulled into the store, which unpacks only the layers it lacks;
/// a name the store does not have is pulled from its registry, as docker does.
fn resolve(store: &Store, reference: &str) -> Result<Image> {
    let r = ImageRef::parse(reference)?;
    let r = match r {
        ImageRef::Stored(name) => match store.get(&name) {
            Ok(image) => return Ok(image),
            Err(ImageError::NotFound(_)) => ImageRef::parse(&format!("docker://{reference}"))
                .with_context(|| {
                    format!("image {reference:?} is not in the store and names no registry image")
                })?,
            Err(e) => return Err(e).with_context(|| format!("look up image {reference}")),
        },
        source => source,
    };
    let opts = PullOptions {
        source: SourceOptions::default().with_env(),
        limits: UnpackLimits::from_env().map_err(anyhow::Error::msg)?,
        name: None,
        progress: progress::for_stderr(),
    };
    // In the store's user namespace when it has one; the image comes back by id.
    let id = crate::rootless::store::run(store.owners(), "pull", || {
        store
            .pull(&r, &opts)
            .map(|image| image.id.to_string())
            .map_err(anyhow::Error::from)
    })
    .with_context(|| format!("pull {reference}"))?;
    // Dropping the progress ends its bars before the container's output starts.
    drop(opts);
    store
        .get(&id)
        .with_context(|| format!("look up image {reference}"))
}
