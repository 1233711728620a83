//! Making an image container: reserve a name and a bundle, prepare the root and the spec
//! ([`reserve`]); create, set up the network and start ([`start`]); record how it ended and
//! honour `--rm` ([`finish`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::bundle::{self, RunRequest, Target};
use super::record::{BundleLock, Record};
use super::{ShellError, containers_dir};
use crate::container::{self, CreateOptions, Created};
use crate::image::{Image, PreparedRoot, Store};
use crate::linux::paths::{Kind, RootDir};
use crate::linux::terminal::ConsoleSocket;
use crate::sys::trace;

/// A bundle made in the store for a new container. It stays locked until the container has
/// started (or the reservation is dropped), so nothing removes it half-made.
pub struct Reserved {
    pub record: Record,
    lock: Option<BundleLock>,
    armed: bool,
}

impl Reserved {
    /// Lets go of the lock and keeps the bundle (the caller now owns the container).
    pub fn unlock(mut self) -> Record {
        self.armed = false;
        self.lock.take();
        self.record.clone()
    }

    /// The lock's descriptor, for a monitor that forks while holding it.
    pub fn lock_fd(&self) -> Option<i32> {
        self.lock.as_ref().map(BundleLock::fd)
    }
}

impl Drop for Reserved {
    /// An unused reservation removes its root and bundle.
    fn drop(&mut self) {
        if self.armed {
            let _ = release_bundle(&self.record.bundle);
        }
    }
}

/// Unmounts and removes a bundle directory made by [`reserve`]: the image root (if still
/// there), then the directory, which never crosses into another filesystem. Run as the store's
/// owners: a container's upper directory holds files of its users.
pub(super) fn release_bundle(dir: &Path) -> Result<(), ShellError> {
    let owners = crate::rootless::store::owners();
    crate::rootless::store::run(&owners, "remove the container's root", || {
        if dir.join("image-root.json").exists() {
            PreparedRoot::load(dir)?.release()?;
        }
        crate::image::store::fsutil::remove_tree(dir)?;
        Ok::<(), ShellError>(())
    })
}

/// Chooses the container's name (the request's, or a generated `adjective_noun` no container
/// in `root` and no bundle in the store uses), makes its bundle under
/// `<store>/containers/<name>/` with an overlayfs root of `image`, and writes `config.json`
/// and `run.json`. On error nothing is left behind.
pub fn reserve(
    store: &Store,
    root: &Path,
    req: &RunRequest,
    image: &Image,
) -> Result<Reserved, ShellError> {
    let root = std::path::absolute(root)
        .map_err(|e| ShellError::Invalid(format!("--root {}: {e}", root.display())))?;
    let parent = containers_dir(store.root());
    fs::create_dir_all(&parent)
        .map_err(|e| crate::error::SysError::new(format!("create {}", parent.display()), e))?;
    let name = match &req.name {
        Some(n) => {
            container::id::validate(n)?;
            n.clone()
        }
        None => super::names::generate(|n| root.join(n).exists() || parent.join(n).exists()),
    };
    if root.join(&name).exists() {
        return Err(ShellError::NameInUse {
            name,
            by: format!("a container in {}", root.display()),
        });
    }
    let dir = parent.join(&name);
    if let Err(e) = fs::create_dir(&dir) {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(ShellError::NameInUse {
                name,
                by: format!("the bundle {}; `rind rm` removes a leftover", dir.display()),
            });
        }
        return Err(crate::error::SysError::new(format!("create {}", dir.display()), e).into());
    }
    let dir = fs::canonicalize(&dir)
        .map_err(|e| crate::error::SysError::new(format!("resolve {}", dir.display()), e))?;
    let lock = BundleLock::acquire(&dir)?;
    let mut reserved = Reserved {
        record: Record {
            id: name.clone(),
            root,
            bundle: dir.clone(),
            image: req.image.clone(),
            image_name: image.names.first().cloned().unwrap_or_default(),
            image_id: image.id.to_string(),
            command: Vec::new(),
            rm: req.rm,
            detached: req.detach,
            network: req.network,
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        },
        lock,
        armed: true,
    };
    // In the store's user namespace when it has one (rootless/store.rs): the root is made
    // there, its overlayfs mounted long enough to read the image's users and make the working
    // directory, then left for the container's init to mount.
    let rootless = crate::rootless::active().then(bundle::RootlessIds::of_caller);
    let command = crate::rootless::store::run(store.owners(), "make the container's root", || {
        let mut prepared = store.prepare_rootfs(image, &dir)?;
        trace::mark(|| format!("prepared {:?} root", prepared.mode));
        let config = store.config(image)?;
        let spec = bundle::build_spec(
            &config,
            req,
            &Target {
                name: &name,
                rootfs: &prepared.rootfs,
                image_name: &reserved.record.image_name,
                image_id: &reserved.record.image_id,
                rootless: rootless.as_ref(),
            },
        )?;
        // A working directory the image lacks is made (root-owned, 0755), as docker does,
        // through a lookup that keeps symlinks planted in the image inside the root.
        if let Some(p) = spec.process() {
            RootDir::open(&prepared.rootfs)?.create(p.cwd(), Kind::Directory)?;
        }
        bundle::write_config(&dir, &spec)?;
        if store.owners().userxattr() {
            prepared.leave_to_init()?;
        }
        Ok::<_, ShellError>(
            spec.process()
                .as_ref()
                .and_then(|p| p.args().clone())
                .unwrap_or_default(),
        )
    })?;
    trace::mark(|| "prepared the root and the spec".into());
    reserved.record.command = command;
    reserved.record.save()?;
    trace::mark(|| "wrote the bundle".into());
    Ok(reserved)
}

/// runc's create flags that `run --image` passes on.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// The caller proxies the terminal (a foreground `-t` without `--console-socket`): the pty
    /// master then comes back in [`Created::console`].
    pub proxy_terminal: bool,
}

/// Creates the container from its reserved bundle, brings `lo` up in a private network
/// namespace (between create and start, so the process never sees it down), and starts it.
/// The caller must have called `supervise::prepare` first if it is going to wait. On error the
/// container, its root and its bundle are gone.
pub fn start(
    root: &Path,
    reserved: Reserved,
    opts: &StartOptions,
) -> Result<(Record, Created), ShellError> {
    let r = &reserved.record;
    let create = CreateOptions {
        id: r.id.clone(),
        bundle: r.bundle.clone(),
        pid_file: opts.pid_file.clone(),
        console_socket: opts.console_socket.clone().map(ConsoleSocket::Path),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        proxy_terminal: opts.proxy_terminal,
        systemd_cgroup: None,
        root_overlay: PreparedRoot::load(&r.bundle)
            .ok()
            .and_then(|p| p.init_overlay().cloned()),
    };
    let created = container::create(root, &create)?;
    // `create` brings `lo` up in a new network namespace (the runtime or init).
    let started = container::start(root, &r.id).map_err(ShellError::from);
    if let Err(e) = started {
        let _ = container::delete(root, &r.id, true);
        return Err(e);
    }
    Ok((reserved.unlock(), created))
}

/// Records a finished container's exit code and, with `--rm`, removes it. Does nothing when the
/// container was removed meanwhile (`rind rm -f` from another shell).
pub fn finish(root: &Path, record: &Record, code: i32) -> Result<(), ShellError> {
    {
        let Some(_lock) = BundleLock::acquire(&record.bundle)? else {
            return Ok(());
        };
        record.save_exit(code)?;
    }
    if record.rm {
        super::remove::remove_record(root, record, true)?;
    }
    Ok(())
}
