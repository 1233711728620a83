//! The container's filesystem view, built inside its new mount namespace (or, for a spec
//! without one, beneath a private bind of the rootfs in the runtime's: see [`prepare`]).
//!
//! 1. [`prepare`]: stop mount events from reaching the host (`/` becomes rslave or the spec's
//!    `rootfsPropagation`), mount the image's overlayfs on the rootfs where the runtime could
//!    not (a store without host privilege), bind the rootfs onto itself so it is a mount point,
//!    mount every spec mount at a target resolved inside the rootfs (a bind mount of a
//!    container with its own user namespace, and an id-mapped one, as the runtime made it, see
//!    [`idmap`](super::idmap)), create a missing working directory, and populate `/dev`.
//! 2. [`pivot`]: `pivot_root(".", ".")` and a lazy unmount of the old root, or `MS_MOVE` plus
//!    `chroot` with `--no-pivot` ([`pivot`](super::pivot)).
//! 3. After the process is inside the new root and has its terminal: [`finish_readonly`] (the
//!    tmpfs mounts and `/dev` the spec wants read-only, mounted writable until then),
//!    [`make_root_readonly`], then [`mask_and_protect`] (readonly and masked paths, see
//!    [`masks`](super::masks)).
//!
//! Where a mount lands is checked on the descriptor it is made on, not on a path: a spec
//! mount may follow a symlink of the image inside the rootfs (runc allows
//! `/conf -> /real/conf`), but it never lands on procfs or sysfs unless its destination is
//! under `/proc` (the few files lxcfs provides) or `/sys`; proc and sysfs themselves go on an
//! ordinary directory, reached without a symlink. The procfs mounted on `/proc` becomes the
//! handle every later procfs access goes through ([`procfs`](super::procfs)).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sys::statvfs::{FsFlags, fstatvfs};
use nix::unistd::{chdir, chroot, fchdir};
use oci_spec::runtime::{Mount, Spec};

use super::cgroup_mount;
use super::devices;
use super::fsmount::{self, MountAttr};
use super::idmap;
use super::mount_options::{self, MOUNT_ATTR_RDONLY, MountOptions, mount_attr_fields};
use super::mount_target::{adopt_proc, check_landing, check_proc_destination, ordinary_directory};
use super::paths::{Kind, RootDir, mount_at};
use super::procfs::{self, PROC_SUPER_MAGIC};
use super::tmpcopyup;
use crate::cgroups::CgroupPaths;
use crate::error::{StepContext, SysError};

pub use super::masks::mask_and_protect;
pub use super::pivot::pivot;

/// What building the rootfs needs besides the spec.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    /// Absolute host path of the rootfs.
    pub rootfs: &'a Path,
    /// The bundle directory; relative bind sources are resolved against it.
    pub bundle: &'a Path,
    /// The container has its own user namespace (mknod is not allowed there, and its root may
    /// not reach a bind mount's source).
    pub in_userns: bool,
    /// rind runs rootless: it cannot clone a tree of the host's mounts for init.
    pub rootless: bool,
    /// rind has no privilege in the host's user namespace (rootless, or root in rootless
    /// podman's user namespace): it cannot make device nodes.
    pub no_host_privilege: bool,
    /// The container has its own mount namespace. Without one, the mounts are made in the
    /// runtime's (as runc makes them), beneath the rootfs's own bind.
    pub own_mount_ns: bool,
    /// The container has its own cgroup namespace.
    pub cgroupns: bool,
    /// The container's cgroup, for cgroup mounts without a cgroup namespace.
    pub cgroup: &'a CgroupPaths,
    /// The host's cgroup mounts (which hierarchies to show in a cgroup mount).
    pub cgroup_mounts: &'a crate::cgroups::MountInfo,
    /// What only init's side of the channel can do for the mounts.
    pub runtime: &'a dyn RootfsRequests,
    /// An overlayfs to mount on the rootfs before its bind: an image root made by a store
    /// without host privilege, which only a mount namespace of the container's own user
    /// namespace can mount ([`overlay`](super::overlay)).
    pub overlay: Option<&'a super::overlay::Overlay>,
}

/// What building the rootfs needs from outside init's own process: the cgroup, and mounts
/// only the runtime can make. Init implements it over the sync channel, where entering the
/// cgroup comes before any request by construction.
pub trait RootfsRequests {
    /// Puts init into its cgroup (and cgroup namespace), if it is not yet there; a cgroup
    /// mount needs it.
    fn enter_cgroup(&self) -> Result<(), SysError>;
    /// The detached mount of spec mount `index`, from the runtime: an id-mapped one, or a bind
    /// mount of a container with its own user namespace (see [`idmap`](super::idmap));
    /// `own_userns`: the container has one.
    fn detached_mount(&self, index: usize, own_userns: bool) -> Result<OwnedFd, SysError>;
}

/// Builds the filesystem view up to, not including, pivot_root. Returns the opened root.
///
/// Without a mount namespace of the container's own (runtime-tools' `linux_ns_itype` removes
/// them all), the spec says the container inherits the runtime's, so the mounts are made
/// there, as runc makes them, and [`chroot_into`] enters the root. Unlike runc, rind leaves the
/// propagation of the runtime namespace's `/` alone (runc makes it rslave: a change to every
/// mount of the host). The rootfs is bound onto itself and that bind alone gets the
/// propagation (`rootfsPropagation`, else private), so that nothing mounted beneath it reaches
/// another namespace, and one lazy unmount of the rootfs takes all of it away. As with runc,
/// the mounts outlive the container.
pub fn prepare(ctx: &RootfsContext) -> Result<RootDir, SysError> {
    // Mounts are made on "." after entering their targets (`paths::mount_at`): put the
    // working directory back for what runs before pivot_root (createContainer hooks).
    let cwd = nix::fcntl::open(
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok();
    let root = build(ctx)?;
    if let Some(cwd) = cwd {
        fchdir(&cwd).step(|| "return to the working directory".to_string())?;
    }
    Ok(root)
}

/// The spec's `rootfsPropagation` as mount flags, if it has one.
fn requested_propagation(spec: &Spec) -> Result<Option<MsFlags>, SysError> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        Some(name) => mount_options::parse(&[name.to_string()])
            .propagation
            .first()
            .copied()
            .map(Some)
            .ok_or_else(|| SysError::new(format!("rootfsPropagation {name:?}"), Errno::EINVAL)),
        None => Ok(None),
    }
}

fn build(ctx: &RootfsContext) -> Result<RootDir, SysError> {
    let linux = ctx.spec.linux().as_ref();
    // An unbindable `/` could not give the rootfs its bind: that one waits for the new root
    // ([`set_root_propagation`]), and `/` becomes rslave as by default.
    let propagation = match requested_propagation(ctx.spec)? {
        Some(p) if !p.contains(MsFlags::MS_UNBINDABLE) => p,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    if ctx.own_mount_ns {
        mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
            .step(|| format!("set propagation of / to {propagation:?}"))?;
        // After a recursive slave or private, no mount of this namespace is shared any more.
        let none_shared = propagation.contains(MsFlags::MS_REC)
            && propagation.intersects(MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE);
        if !none_shared {
            super::pivot::make_parent_mount_private(ctx.rootfs)?;
        }
    }
    if let Some(overlay) = ctx.overlay {
        overlay.mount(ctx.rootfs)?;
        crate::sys::trace::mark(|| "init: mounted the image's overlayfs".into());
    }
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| format!("bind rootfs {} onto itself", ctx.rootfs.display()))?;
    if !ctx.own_mount_ns {
        // In the runtime's namespace (see `prepare`): only the rootfs's own bind changes.
        let own = requested_propagation(ctx.spec)?.unwrap_or(MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        mount(None::<&str>, ctx.rootfs, None::<&str>, own, None::<&str>).step(|| {
            format!(
                "set propagation of the rootfs bind {} to {own:?}",
                ctx.rootfs.display()
            )
        })?;
    }
    let root = RootDir::open(ctx.rootfs)?;
    crate::sys::trace::mark(|| format!("init: bound rootfs {}", ctx.rootfs.display()));

    let mut dev_from_host = false;
    for (index, m) in ctx.spec.mounts().iter().flatten().enumerate() {
        mount_one(&root, index, m, ctx)?;
        crate::sys::trace::mark(|| format!("init: mounted {}", m.destination().display()));
        let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
        if clean(m.destination()) == Path::new("/dev") && is_bind(m, &opts) {
            dev_from_host = true;
        }
    }
    // A missing working directory is created (mode 0755, resolved inside the root), as runc
    // does: images often name a WORKDIR they do not ship.
    if let Some(p) = ctx.spec.process() {
        root.create(p.cwd(), Kind::Directory)?;
    }
    // A /dev bound from the host is the host's: creating nodes there (which replaces what is
    // at the path) would change the host's /dev. runc skips `linux.devices` then too.
    if !dev_from_host {
        // mknod needs CAP_MKNOD in the host's user namespace: a container with a user
        // namespace of its own, or any container of a runtime that itself runs inside one
        // (rootless podman gives its runtime no other), gets the host's nodes bound.
        let bind_nodes = ctx.in_userns || ctx.no_host_privilege;
        let mut nodes = devices::NodeMaker::new(&root, bind_nodes);
        for dev in devices::default_devices() {
            nodes.create(&dev)?;
        }
        crate::sys::trace::mark(|| "init: default devices created".into());
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            nodes.create(&devices::from_spec(d)?)?;
        }
        // The links last, as runc makes them: a /dev/ptmx the spec lists (a privileged
        // container's every host device) still becomes the link to the container's devpts.
        nodes.create_symlinks()?;
    }
    Ok(root)
}

fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    opts.is_bind() || m.typ().as_deref() == Some("bind")
}

/// `path` made absolute and without `.`/`..`, lexically.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The host path of a bind mount's source (relative to the bundle when relative).
fn bind_source(m: &Mount, ctx: &RootfsContext) -> PathBuf {
    let source = m.source().clone().unwrap_or_default();
    if source.is_absolute() {
        source
    } else {
        ctx.bundle.join(source)
    }
}

fn kind_of(st: &nix::sys::stat::FileStat) -> Kind {
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Directory
    } else {
        Kind::File
    }
}

/// Whether a mount is mounted writable first and made read-only after the console
/// ([`finish_readonly`]): a read-only tmpfs, or a read-only `/dev`, as runc does: `/dev` gets
/// its nodes, `/dev/pts` and `/dev/console` after it is mounted.
fn read_only_later(m: &Mount, opts: &MountOptions) -> bool {
    let typ = m.typ().as_deref().unwrap_or_default();
    opts.flags.contains(MsFlags::MS_RDONLY)
        && !is_bind(m, opts)
        && !opts.tmpcopyup
        && (typ == "tmpfs" || clean(m.destination()) == Path::new("/dev"))
}

/// Mounts spec entry `index` at its destination inside the root.
fn mount_one(root: &RootDir, index: usize, m: &Mount, ctx: &RootfsContext) -> Result<(), SysError> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let bind = is_bind(m, &opts);
    let typ = m
        .typ()
        .clone()
        .unwrap_or_else(|| if bind { "bind".into() } else { "none".into() });
    let dest = clean(m.destination());
    // The runtime makes every id-mapped mount, and the bind mounts of a container with its
    // own user namespace, whose root may not be able to reach the source (runc opens those
    // sources before init enters the namespace too). A rootless runtime cannot: cloning a
    // tree of the host's mount namespace needs CAP_SYS_ADMIN there. Its init, mapped to the
    // same user, reaches what the runtime would, and binds the source itself.
    let runtime_binds = bind && ctx.in_userns && !ctx.rootless;
    let detached = if idmap::requested(m, &opts).is_some() || runtime_binds {
        Some(ctx.runtime.detached_mount(index, ctx.in_userns)?)
    } else {
        None
    };
    let source = bind_source(m, ctx);
    check_proc_destination(&dest, &typ, || {
        bind && match &detached {
            Some(tree) => procfs::fs_magic(tree) == Ok(PROC_SUPER_MAGIC),
            None => nix::sys::statfs::statfs(&source)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC),
        }
    })?;
    let kind = match (&detached, bind) {
        (Some(tree), _) => kind_of(
            &nix::sys::stat::fstat(tree)
                .step(|| format!("stat the mount for {}", dest.display()))?,
        ),
        (None, true) => kind_of(
            &nix::sys::stat::stat(&source)
                .step(|| format!("bind mount source {}", source.display()))?,
        ),
        (None, false) => Kind::Directory,
    };
    let target = if typ == "proc" || typ == "sysfs" {
        ordinary_directory(root, &dest, &typ)?
    } else {
        root.create(&dest, kind)?
    };
    check_landing(root, &target, &dest, &typ)?;
    if let Some(tree) = detached {
        idmap::attach(&tree, &target, &dest)?;
        return finish_bind(root, &dest, &opts);
    }
    if bind {
        // MS_BIND always: type "bind" without a bind option in the list is a bind mount too.
        mount_at(
            Some(&source),
            &target,
            None::<&str>,
            MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC),
            None::<&str>,
        )
        .step(|| format!("bind {} on {}", source.display(), dest.display()))?;
        finish_bind(root, &dest, &opts)?;
        return adopt_proc(root, &dest, false);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return cgroup_mount::mount_view(root, &dest, &target, &opts, ctx);
    }
    if opts.tmpcopyup {
        if typ != "tmpfs" {
            return Err(SysError::new(
                format!(
                    "mount {typ} on {}: tmpcopyup applies to tmpfs only",
                    dest.display()
                ),
                Errno::EINVAL,
            ));
        }
        let source = m.source().as_deref().unwrap_or(Path::new("tmpfs"));
        tmpcopyup::mount(&target, &source.to_string_lossy(), &dest, &opts)?;
        return finish_mount(root, &dest, &opts);
    }
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
    let data = opts.data_string();
    let mut flags = opts.flags & !MsFlags::MS_REMOUNT;
    if read_only_later(m, &opts) {
        flags &= !MsFlags::MS_RDONLY;
    }
    let result = mount_at(
        Some(&source),
        &target,
        Some(typ.as_str()),
        flags,
        (!data.is_empty()).then_some(data.as_str()),
    );
    match result {
        Ok(()) => {}
        // A sysfs instance belongs to a network namespace; without a private one (or inside a
        // user namespace that does not own it) the kernel refuses. Bind the host's, read-only
        // as the spec asked, like runc.
        Err(Errno::EPERM) if typ == "sysfs" => {
            mount_at(
                Some("/sys"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .step(|| format!("bind /sys on {} (sysfs fallback)", dest.display()))?;
            let reopened = root
                .open_path(&dest)
                .step(|| format!("open {}", dest.display()))?;
            remount_bind(&reopened, flags, &dest)?;
        }
        Err(e) => {
            return Err(SysError::new(
                format!("mount {typ} on {}", dest.display()),
                e,
            ));
        }
    }
    finish_mount(root, &dest, &opts)?;
    if typ == "proc" {
        adopt_proc(root, &dest, true)?;
    }
    Ok(())
}

/// The flags of a bind mount now at `dest` (the kernel ignores them on the bind itself), then
/// its propagation and recursive attributes.
fn finish_bind(root: &RootDir, dest: &Path, opts: &MountOptions) -> Result<(), SysError> {
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let reopened = root
            .open_path(dest)
            .step(|| format!("open {}", dest.display()))?;
        remount_bind(&reopened, extra, dest)?;
    }
    finish_mount(root, dest, opts)
}

/// Remounts a bind mount with `flags`. Inside a user namespace the kernel refuses to clear
/// flags that the original mount had locked (nosuid, nodev, noexec, atime), so on EPERM the
/// mount's current flags are kept as well.
fn remount_bind(target: &OwnedFd, flags: MsFlags, dest: &Path) -> Result<(), SysError> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let none = None::<&str>;
    match mount_at(none, target, none, base | flags, none) {
        Err(Errno::EPERM) => mount_at(
            none,
            target,
            none,
            base | flags | locked_flags(target),
            none,
        ),
        other => other,
    }
    .step(|| format!("remount {} with {flags:?}", dest.display()))
}

/// The flags of the mount `fd` is on that a remount must keep.
fn locked_flags(fd: &OwnedFd) -> MsFlags {
    let Ok(st) = fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (st_flag, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st_flag) {
            out |= ms;
        }
    }
    out
}

/// Propagation changes and recursive attributes, applied to the new mount (reopened: the fd
/// taken before mounting still names the directory underneath).
pub(super) fn finish_mount(
    root: &RootDir,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), SysError> {
    if opts.propagation.is_empty() && opts.recursive == Default::default() {
        return Ok(());
    }
    let target = root
        .open_path(dest)
        .step(|| format!("open {}", dest.display()))?;
    for p in &opts.propagation {
        mount_at(None::<&str>, &target, None::<&str>, *p, None::<&str>)
            .step(|| format!("set propagation {p:?} on {}", dest.display()))?;
    }
    if opts.recursive != Default::default() {
        let (set, clear) = mount_attr_fields(opts.recursive);
        let attr = MountAttr {
            set,
            clear,
            userns: None,
        };
        fsmount::mount_setattr(&target, true, attr)
            .step(|| format!("set recursive mount attributes on {}", dest.display()))?;
    }
    Ok(())
}

/// Makes read-only the mounts that were mounted writable so that the runtime could create
/// files in them ([`read_only_later`]): run after the console is in place, before the root
/// itself becomes read-only, as runc's finalizeRootfs does. A read-only `/dev` would otherwise
/// fail `create` ("create /dev/pts: read-only file system").
pub fn finish_readonly(spec: &Spec) -> Result<(), SysError> {
    let mut root = None;
    for m in spec.mounts().iter().flatten() {
        let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
        if !read_only_later(m, &opts) {
            continue;
        }
        let root = match &mut root {
            Some(r) => r,
            None => root.insert(RootDir::open(Path::new("/"))?),
        };
        let dest = clean(m.destination());
        let step = || format!("remount {} read-only", dest.display());
        let fd = root.open_path(&dest).step(step)?;
        let ro = MountAttr {
            set: MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        fsmount::mount_setattr(&fd, false, ro).step(step)?;
    }
    Ok(())
}

/// After [`pivot`]: a `rootfsPropagation` of shared or unbindable is given to the new root
/// mount itself ("sets the rootfs's mount propagation", config-linux.md). Before, it applies
/// to `/` of the new namespace, whose rootfs bind then comes out private (its parent mount must
/// be private for pivot_root), so a shared rootfs was not shared and an unbindable one could
/// not even be bound (runc 1.1.5 has both faults; runtime-tools' linux_rootfs_propagation
/// checks them). Only the root mount changes: the spec's mounts keep their own propagation.
/// Slave and private need nothing more: the root has no master and no peer.
pub fn set_root_propagation(spec: &Spec) -> Result<(), SysError> {
    let Some(requested) = requested_propagation(spec)? else {
        return Ok(());
    };
    for flag in [MsFlags::MS_SHARED, MsFlags::MS_UNBINDABLE] {
        if requested.contains(flag) {
            mount(None::<&str>, "/", None::<&str>, flag, None::<&str>)
                .step(|| format!("set propagation of the root to {flag:?}"))?;
        }
    }
    Ok(())
}

/// Enters the root without a mount namespace of the container's own: `chroot`, since
/// pivot_root (and `--no-pivot`'s move onto `/`) would change the runtime's own root.
pub fn chroot_into(root: &RootDir) -> Result<(), SysError> {
    fchdir(root.fd()).step(|| format!("chdir {}", root.path().display()))?;
    chroot(".").step(|| format!("chroot {}", root.path().display()))?;
    chdir("/").step(|| "chdir /".to_string())
}

/// Remounts `/` read-only (`root.readonly`).
pub fn make_root_readonly() -> Result<(), SysError> {
    let fd = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .step(|| "open /".to_string())?;
    remount_bind(&fd, MsFlags::MS_RDONLY, Path::new("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_resolves_dots_lexically() {
        assert_eq!(
            clean(Path::new("proc/../sys/./fs")),
            PathBuf::from("/sys/fs")
        );
        assert_eq!(clean(Path::new("/../..")), PathBuf::from("/"));
    }
}
