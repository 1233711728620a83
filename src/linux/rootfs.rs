//! The container's filesystem view, built inside its new mount namespace (or, for a spec
//! without one, beneath a private bind of the rootfs in the runtime's: see [`prepare`]).
//!
//! 1. [`prepare`]: stop mount events from reaching the host (`/` becomes rslave or the spec's
//!    `rootfsPropagation`), bind the rootfs onto itself so it is a mount point, mount every
//!    spec mount at a target resolved inside the rootfs (an id-mapped bind mount as the
//!    runtime made it, see [`idmap`](super::idmap)), create a missing working directory, and
//!    populate `/dev`.
//! 2. [`pivot`]: `pivot_root(".", ".")` and a lazy unmount of the old root, or `MS_MOVE` plus
//!    `chroot` with `--no-pivot`.
//! 3. [`mask_and_protect`] and [`make_root_readonly`], after the process is inside the new
//!    root: readonly paths, masked paths, and the read-only remount of `/`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::statvfs::{FsFlags, fstatvfs};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use oci_spec::runtime::{Mount, Spec};

use super::cgroup_mount;
use super::devices;
use super::fsmount::{self, MountAttr};
use super::idmap;
use super::mount_options::{self, MountOptions, mount_attr_fields};
use super::paths::{Kind, RootDir, bind_onto_itself, fd_path, mount_at};
use super::tmpcopyup;
use crate::cgroups::CgroupPaths;
use crate::error::{StepContext, SysError};

/// What building the rootfs needs besides the spec.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    /// Absolute host path of the rootfs.
    pub rootfs: &'a Path,
    /// The bundle directory; relative bind sources are resolved against it.
    pub bundle: &'a Path,
    /// The container has its own user namespace (mknod is not allowed there).
    pub in_userns: bool,
    /// The container has its own mount namespace. Without one, the mounts are made in the
    /// runtime's (as runc makes them), beneath the rootfs's own bind.
    pub own_mount_ns: bool,
    /// The container has its own cgroup namespace.
    pub cgroupns: bool,
    /// The container's cgroup, for cgroup mounts without a cgroup namespace.
    pub cgroup: &'a CgroupPaths,
    /// The host's cgroup mounts (which hierarchies to show in a cgroup mount).
    pub cgroup_mounts: &'a crate::cgroups::MountInfo,
    /// Asks the runtime for the detached id-mapped mount of spec mount `index` (see
    /// [`idmap`](super::idmap)).
    pub idmapped_mount: &'a dyn Fn(usize) -> Result<OwnedFd, SysError>,
    /// Puts init into its cgroup (and cgroup namespace), if it is not yet there; a cgroup
    /// mount needs it.
    pub enter_cgroup: &'a dyn Fn() -> Result<(), SysError>,
}

/// Files under /proc that may be mount targets: the ones lxcfs provides, and criu's
/// ns_last_pid. Anything else under /proc could hide or replace a kernel interface.
const PROC_MOUNT_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

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
            make_parent_mount_private(ctx.rootfs)?;
        }
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
    crate::process::trace::mark(|| format!("init: bound rootfs {}", ctx.rootfs.display()));

    let mut dev_from_host = false;
    for (index, m) in ctx.spec.mounts().iter().flatten().enumerate() {
        mount_one(&root, index, m, ctx)?;
        crate::process::trace::mark(|| format!("init: mounted {}", m.destination().display()));
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
        let mut nodes = devices::NodeMaker::new(&root, ctx.in_userns);
        for dev in devices::default_devices() {
            nodes.create(&dev)?;
        }
        nodes.create_symlinks()?;
        crate::process::trace::mark(|| "init: default devices created".into());
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            nodes.create(&devices::from_spec(d)?)?;
        }
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

fn check_proc_destination(dest: &Path, typ: &str) -> Result<(), SysError> {
    check_proc_target(dest, &dest.display().to_string(), typ)
}

/// Refuses `dest` (shown in the message as `shown`) when it is /proc or inside it, but for a
/// proc filesystem on /proc and the allowed files.
fn check_proc_target(dest: &Path, shown: &str, typ: &str) -> Result<(), SysError> {
    let fail = |why: &str| {
        Err(SysError::new(
            format!("mount {typ} on {shown}: {why}"),
            Errno::EPERM,
        ))
    };
    if dest == Path::new("/proc") {
        return if typ == "proc" {
            Ok(())
        } else {
            fail("only a proc filesystem may be mounted on /proc")
        };
    }
    if dest.starts_with("/proc") && !PROC_MOUNT_ALLOWED.iter().any(|p| dest == Path::new(p)) {
        return fail("mounts inside /proc are not allowed");
    }
    Ok(())
}

/// Where `dest` resolves inside the root, as a path from the root, when it exists. A missing
/// destination is created later through the same resolution, and nothing can be created
/// inside procfs, so it needs no check.
fn resolved_destination(root: &RootDir, dest: &Path) -> Result<Option<PathBuf>, SysError> {
    // Without a symlink on the way (the common case) it lands where it says, and the kernel
    // tells that apart without the two readlinks through /proc below. A missing component
    // before any symlink is missing either way.
    match root.open_path_without_symlinks(dest) {
        Ok(_) => return Ok(Some(dest.to_path_buf())),
        Err(Errno::ENOENT) => return Ok(None),
        Err(_) => {}
    }
    let fd = match root.open_path(dest) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(SysError::new(format!("resolve {}", dest.display()), e)),
    };
    let real = std::fs::read_link(fd_path(&fd)).step(|| format!("resolve {}", dest.display()))?;
    let base = std::fs::read_link(fd_path(&root.fd()))
        .step(|| format!("resolve {}", root.path().display()))?;
    match real.strip_prefix(&base) {
        Ok(rel) => Ok(Some(Path::new("/").join(rel))),
        Err(_) => Err(SysError::new(
            format!(
                "resolve {}: lands outside the rootfs at {}",
                dest.display(),
                real.display()
            ),
            Errno::EXDEV,
        )),
    }
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
    check_proc_destination(&dest, &typ)?;
    // The mount follows symlinks in the image (inside the root): check where it really lands,
    // or `/myproc/sys` with `/myproc -> /proc` would cover the container's /proc/sys.
    if let Some(real) = resolved_destination(root, &dest)?
        && real != dest
    {
        let shown = format!("{} (resolves to {})", dest.display(), real.display());
        check_proc_target(&real, &shown, &typ)?;
    }
    if idmap::requested(m, &opts).is_some() {
        return idmapped_mount(root, index, &dest, &opts, ctx);
    }
    if bind {
        return bind_mount(root, m, &dest, &opts, ctx);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return cgroup_mount::mount_view(root, &dest, &opts, ctx);
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
        tmpcopyup::mount(root, &source.to_string_lossy(), &dest, &opts)?;
        return finish_mount(root, &dest, &opts);
    }
    let target = root.create(&dest, Kind::Directory)?;
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
    let data = opts.data_string();
    let flags = opts.flags & !MsFlags::MS_REMOUNT;
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
    finish_mount(root, &dest, &opts)
}

/// Bind mounts, with flags applied by a remount (the kernel ignores them on the bind itself).
fn bind_mount(
    root: &RootDir,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
    ctx: &RootfsContext,
) -> Result<(), SysError> {
    let source = m.source().clone().unwrap_or_default();
    let source = if source.is_absolute() {
        source
    } else {
        ctx.bundle.join(source)
    };
    let meta =
        std::fs::metadata(&source).step(|| format!("bind mount source {}", source.display()))?;
    let kind = if meta.is_dir() {
        Kind::Directory
    } else {
        Kind::File
    };
    let target = root.create(dest, kind)?;
    // MS_BIND always: type "bind" without a bind option in the list is a bind mount too.
    mount_at(
        Some(&source),
        &target,
        None::<&str>,
        MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC),
        None::<&str>,
    )
    .step(|| format!("bind {} on {}", source.display(), dest.display()))?;
    finish_bind(root, dest, opts)
}

/// An id-mapped bind mount: the runtime makes it detached, init attaches it here, in spec
/// order, then applies its flags as for any bind mount.
fn idmapped_mount(
    root: &RootDir,
    index: usize,
    dest: &Path,
    opts: &MountOptions,
    ctx: &RootfsContext,
) -> Result<(), SysError> {
    let tree = (ctx.idmapped_mount)(index)?;
    let st = nix::sys::stat::fstat(&tree)
        .step(|| format!("stat the id-mapped mount for {}", dest.display()))?;
    let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Directory
    } else {
        Kind::File
    };
    let target = root.create(dest, kind)?;
    idmap::attach(&tree, &target, dest)?;
    finish_bind(root, dest, opts)
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

/// pivot_root(2) refuses a new root whose parent mount is shared. Make that mount private (in
/// this mount namespace only).
fn make_parent_mount_private(rootfs: &Path) -> Result<(), SysError> {
    let text = super::read_pseudo_file("/proc/self/mountinfo", 16 * 1024)
        .step(|| "read /proc/self/mountinfo".to_string())?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 7 {
            continue;
        }
        let mp = PathBuf::from(fields[4].replace("\\040", " "));
        let shared = fields[6..]
            .iter()
            .take_while(|f| **f != "-")
            .any(|f| f.starts_with("shared:"));
        if rootfs.starts_with(&mp)
            && best
                .as_ref()
                .is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some((mp, shared));
        }
    }
    if let Some((mp, true)) = best {
        mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .step(|| format!("make {} private", mp.display()))?;
    }
    Ok(())
}

/// Moves the process into the new root.
pub fn pivot(root: &RootDir, no_pivot: bool) -> Result<(), SysError> {
    fchdir(root.fd()).step(|| format!("chdir {}", root.path().display()))?;
    if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .step(|| format!("move {} to /", root.path().display()))?;
        chroot(".").step(|| format!("chroot {}", root.path().display()))?;
    } else {
        // After pivot_root(".", ".") the old root is stacked on top of the new one, but the
        // working directory still names the new root's mount: a mount(2) on "." would change
        // the container's own mounts (turning every spec propagation into rslave). An fd
        // taken on the old "/" before the pivot names the old root itself.
        let old_root = nix::fcntl::open(
            "/",
            nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .step(|| "open the old root".to_string())?;
        pivot_root(".", ".").step(|| format!("pivot_root {}", root.path().display()))?;
        crate::process::trace::mark(|| "init: pivot_root".into());
        fchdir(&old_root).step(|| "chdir to the old root".to_string())?;
        // Make the old root a slave first, so that unmounting it here cannot propagate to the
        // host's mounts.
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .step(|| "make old root rslave".to_string())?;
        umount2(".", MntFlags::MNT_DETACH).step(|| "unmount old root".to_string())?;
    }
    chdir("/").step(|| "chdir /".to_string())
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

/// Readonly paths become read-only bind mounts of themselves; masked paths are covered (a
/// read-only empty tmpfs for a directory, /dev/null for a file). Missing paths are skipped.
pub fn mask_and_protect(spec: &Spec) -> Result<(), SysError> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let root = RootDir::open(Path::new("/"))?;
    for p in linux.readonly_paths().iter().flatten() {
        let dest = Path::new(p);
        let fd = match root.open_path(dest) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(SysError::new(format!("readonly path {p}"), e)),
        };
        bind_onto_itself(&fd, MsFlags::MS_BIND | MsFlags::MS_REC)
            .step(|| format!("bind readonly path {p}"))?;
        let top = root.open_path(dest).step(|| format!("open {p}"))?;
        // A bind remount clears every flag it does not name: keep the nosuid, nodev and
        // noexec the path had from its mount (procfs has all three), as runc does.
        let keep =
            locked_flags(&top) & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        remount_bind(&top, MsFlags::MS_RDONLY | MsFlags::MS_REC | keep, dest)?;
    }
    // A masked directory gets an empty read-only tmpfs. The first one is mounted, and the
    // others are bind mounts of it: the same empty directory, without a filesystem instance
    // each to set up now and to tear down when the container exits.
    let mut empty_dir: Option<OwnedFd> = None;
    for p in linux.masked_paths().iter().flatten() {
        let fd = match root.open_path(Path::new(p)) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(SysError::new(format!("masked path {p}"), e)),
        };
        let is_dir = nix::sys::stat::fstat(&fd)
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let none = None::<&str>;
        match (is_dir, &empty_dir) {
            (false, _) => mount(
                Some("/dev/null"),
                &fd_path(&fd),
                none,
                MsFlags::MS_BIND,
                none,
            )
            .step(|| format!("mask {p}"))?,
            (true, Some(empty)) => {
                mount_at(Some(&fd_path(empty)), &fd, none, MsFlags::MS_BIND, none)
                    .step(|| format!("mask {p}"))?
            }
            (true, None) => {
                mount_at(Some("tmpfs"), &fd, Some("tmpfs"), MsFlags::MS_RDONLY, none)
                    .step(|| format!("mask {p}"))?;
                // Opened again: the path now leads to the new mount's root.
                empty_dir = Some(root.open_path(Path::new(p)).step(|| format!("open {p}"))?);
            }
        }
    }
    // The mounts above entered their targets (`paths::mount_at`).
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

    #[test]
    fn only_proc_may_be_mounted_on_proc() {
        assert!(check_proc_destination(Path::new("/proc"), "proc").is_ok());
        assert!(check_proc_destination(Path::new("/proc"), "tmpfs").is_err());
        assert!(check_proc_destination(Path::new("/proc/sys"), "bind").is_err());
        assert!(check_proc_destination(Path::new("/proc/meminfo"), "bind").is_ok());
        assert!(check_proc_destination(Path::new("/procfs"), "bind").is_ok());
    }
}
