//! `rind image pull|import|ls|inspect|rm|prune`: thin adapters from flags to the image store.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use crate::image::layer::UnpackLimits;
use crate::image::source::SourceOptions;
use crate::image::{ImageRef, PreparedRoot, PullOptions, RootMode, Store, progress};
use crate::rootless::store::run as as_owners;

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are built only when it is the one run (or its help is shown),
// not all of them on every start.
#[command(defer = true)]
pub enum ImageCommand {
    /// Pull an image into the store from docker://HOST/REPO[:TAG|@DIGEST], oci:DIR[:TAG],
    /// oci-archive:FILE[:TAG] or docker-archive:FILE
    Pull(PullArgs),
    /// Import an image from a local source (oci:, oci-archive:, docker-archive:)
    Import(PullArgs),
    /// List the images in the store
    Ls {
        /// Print only image ids
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print an image's record and config as JSON
    Inspect { image: String },
    /// Remove names (an image goes with its last name; `prune` frees its layers)
    Rm {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Remove unnamed images, unused layers and blobs, and leftovers of interrupted pulls
    Prune,
    /// Make DIR/rootfs from a stored image (overlayfs, or a copy where it cannot mount; always
    /// a copy as an ordinary user)
    Mount {
        image: String,
        dir: PathBuf,
        /// Copy the layers instead of mounting overlayfs
        #[arg(long)]
        copy: bool,
    },
    /// Unmount and remove a root made by `rind image mount`
    Unmount { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The source reference
    pub reference: String,
    /// Store the image under this name instead of the source's
    #[arg(long)]
    pub name: Option<String>,
    /// Reach this registry host over plain HTTP (repeatable; also RIND_INSECURE_REGISTRIES)
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Most a layer may expand relative to its compressed size (also RIND_MAX_LAYER_RATIO)
    #[arg(long, value_name = "N")]
    pub max_layer_ratio: Option<u64>,
    /// Most uncompressed bytes in one layer (also RIND_MAX_LAYER_BYTES)
    #[arg(long, value_name = "BYTES")]
    pub max_layer_bytes: Option<u64>,
    /// Most tar entries in one layer (also RIND_MAX_LAYER_ENTRIES)
    #[arg(long, value_name = "N")]
    pub max_layer_entries: Option<u64>,
    /// No progress output
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs one `rind image` verb against the store at `store`. The verbs that write or remove
/// layer files run in the store's user namespace when it has one (`rootless::store`).
pub fn run(cmd: ImageCommand, store: &Path, debug: bool) -> Result<()> {
    let open = || {
        crate::rootless::store::open(store)
            .with_context(|| format!("open image store {}", store.display()))
    };
    let owners = &crate::rootless::store::owners();
    match cmd {
        ImageCommand::Pull(a) => {
            let s = open()?;
            as_owners(owners, "pull", || pull(&s, a, false, debug))
        }
        ImageCommand::Import(a) => {
            let s = open()?;
            as_owners(owners, "import", || pull(&s, a, true, debug))
        }
        ImageCommand::Ls { quiet, format } => ls(&open()?, quiet, format),
        ImageCommand::Inspect { image } => inspect(&open()?, &image),
        ImageCommand::Rm { images } => {
            let s = open()?;
            for name in images {
                let id = s
                    .remove(&name)
                    .with_context(|| format!("remove image {name}"))?;
                println!("{name}: removed (image {})", id.short());
            }
            Ok(())
        }
        ImageCommand::Mount { image, dir, copy } => {
            let s = open()?;
            let img = s.get(&image).with_context(|| format!("mount {image}"))?;
            // An ordinary user's mount would end with the store's user namespace: it gets a
            // copy, with the image's owners.
            let copy = copy || !nix::unistd::geteuid().is_root();
            let mode = if copy { RootMode::Copy } else { RootMode::Auto };
            as_owners(owners, "mount", || {
                let root = s
                    .prepare_rootfs_with(&img, &dir, mode)
                    .with_context(|| format!("mount {image} on {}", dir.display()))?;
                if debug && let Some(why) = &root.fallback_reason {
                    eprintln!("debug: copied the layers instead of mounting overlayfs: {why}");
                }
                println!("{} {:?}", root.rootfs.display(), root.mode);
                Ok(())
            })
        }
        ImageCommand::Unmount { dir } => as_owners(owners, "unmount", || {
            let root =
                PreparedRoot::load(&dir).with_context(|| format!("unmount {}", dir.display()))?;
            root.release()
                .with_context(|| format!("unmount {}", dir.display()))
        }),
        ImageCommand::Prune => {
            let s = open()?;
            as_owners(owners, "prune", || {
                let r = s.prune().context("prune image store")?;
                println!(
                    "removed {} image(s), {} layer(s), {} blob(s), {} interrupted pull(s)",
                    r.images.len(),
                    r.layers.len(),
                    r.blobs,
                    r.temp_dirs
                );
                Ok(())
            })
        }
    }
}

fn pull(store: &Store, a: PullArgs, local_only: bool, debug: bool) -> Result<()> {
    let r = ImageRef::parse(&a.reference)?;
    if local_only && matches!(r, ImageRef::Registry(_)) {
        bail!(
            "import {}: registries are pulled with `rind image pull`",
            a.reference
        );
    }
    let mut limits = UnpackLimits::from_env().map_err(anyhow::Error::msg)?;
    if let Some(n) = a.max_layer_ratio {
        limits.max_ratio = n;
    }
    if let Some(n) = a.max_layer_bytes {
        limits.max_layer_bytes = n;
    }
    if let Some(n) = a.max_layer_entries {
        limits.max_entries = n;
    }
    let opts = PullOptions {
        source: SourceOptions {
            insecure_registries: a.insecure_registries,
        }
        .with_env(),
        limits,
        name: a.name,
        progress: if a.quiet {
            std::sync::Arc::new(progress::Silent)
        } else {
            progress::for_stderr()
        },
    };
    if debug {
        eprintln!(
            "debug: store {}, limits {:?}, insecure registries {:?}",
            store.root().display(),
            opts.limits,
            opts.source.insecure_registries
        );
    }
    let image = store
        .pull(&r, &opts)
        .with_context(|| format!("pull {}", a.reference))?;
    // Dropping the options drops the progress bars, which ends their lines first.
    drop(opts);
    println!("{} {}", image.id, image.names.join(" "));
    Ok(())
}

/// 1.5 MB style sizes.
fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

fn ls(store: &Store, quiet: bool, format: Format) -> Result<()> {
    let images = store.list().context("list images")?;
    if quiet {
        for i in &images {
            println!("{}", i.id);
        }
        return Ok(());
    }
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&images.iter().map(|i| {
            serde_json::json!({"id": i.id, "names": i.names, "layers": i.layers.len(), "size": i.size(), "source": i.source, "pulled_at": i.pulled_at})
        }).collect::<Vec<_>>())?);
        return Ok(());
    }
    println!("{:<40} {:<14} {:>7} {:>10}", "NAME", "ID", "LAYERS", "SIZE");
    for i in &images {
        let names = if i.names.is_empty() {
            vec!["<none>".to_string()]
        } else {
            i.names.clone()
        };
        for n in names {
            println!(
                "{:<40} {:<14} {:>7} {:>10}",
                n,
                i.id.short(),
                i.layers.len(),
                human(i.size())
            );
        }
    }
    Ok(())
}

fn inspect(store: &Store, name: &str) -> Result<()> {
    let image = store.get(name).with_context(|| format!("inspect {name}"))?;
    let config = store
        .config(&image)
        .with_context(|| format!("inspect {name}"))?;
    let v = serde_json::json!({
        "id": image.id,
        "names": image.names,
        "manifestDigest": image.manifest_digest,
        "source": image.source,
        "pulledAt": image.pulled_at,
        "size": image.size(),
        "layers": image.layers,
        "config": config,
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
