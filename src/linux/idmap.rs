//! Id-mapped bind mounts: a mount's `uidMappings`/`gidMappings` and its `idmap`/`ridmap`
//! options (runtime-spec 1.1 and 1.2).
//!
//! Through an id-mapped mount, a file owned on disk by id `k` is seen as owned by whatever `k`
//! maps to in a user namespace attached to the mount, and a file created through it is stored
//! with the reverse mapping. A container in a user namespace (uid 0 is host uid 100000) can then
//! use a host directory owned by host uid 0 as its own root's, without a chown of the tree.
//!
//! The kernel lets only a process with `CAP_SYS_ADMIN` in the initial user namespace attach a
//! mapping to a mount of a host filesystem, and the container's init has lost that by the time
//! it mounts. So the mount is made by the runtime, as runc 1.2 makes it:
//!
//! 1. init reaches the mount, in spec order, and asks the runtime for it (with its own user
//!    namespace attached, for mounts that take the container's mapping);
//! 2. the runtime clones the source detached (`open_tree(OPEN_TREE_CLONE)`, the whole tree
//!    under it for `rbind`), attaches the mapping (`mount_setattr(MOUNT_ATTR_IDMAP)`, to every
//!    mount of the clone for `ridmap`), and sends the mount's fd back;
//! 3. init moves it onto the target it resolved inside the rootfs (`move_mount`), then applies
//!    the mount's flags and propagation as for any bind mount.
//!
//! The user namespace that carries the mapping is the container's when the mount names no
//! mappings of its own, or else one made for the mount: a child cloned into a new user
//! namespace, whose maps the runtime writes and whose namespace it keeps as an fd, before the
//! child is killed and reaped. Mounts with equal mappings share one such namespace. runc
//! accepts mappings of their own on a container without a user namespace, and so does rind.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};

use super::fsmount::{self, MountAttr};
use super::mount_options::{self, IdMapScope, MountOptions};
use super::namespaces::{NamespacePlan, id_map_text};
use super::procfs;
use crate::error::{StepContext, SysError};

/// `MOUNT_ATTR_IDMAP` from <linux/mount.h>.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// The user namespace whose mapping an id-mapped mount takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The mount names no mappings: the container's user namespace.
    Container,
    /// The mount's own `uidMappings` and `gidMappings`.
    Own {
        uid: Vec<LinuxIdMapping>,
        gid: Vec<LinuxIdMapping>,
    },
}

/// What an id-mapped mount asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMapRequest {
    /// `ridmap`: map every mount of the tree, not only its top.
    pub recursive: bool,
    pub mapping: Mapping,
}

/// The id mapping `m` asks for, if any. Mappings without `idmap` or `ridmap` are an `idmap`
/// (runc reads them so); `idmap` without mappings takes the container's.
pub fn requested(m: &Mount, opts: &MountOptions) -> Option<IdMapRequest> {
    let uid = m.uid_mappings().clone().unwrap_or_default();
    let gid = m.gid_mappings().clone().unwrap_or_default();
    if opts.idmap.is_none() && uid.is_empty() && gid.is_empty() {
        return None;
    }
    let mapping = if uid.is_empty() && gid.is_empty() {
        Mapping::Container
    } else {
        Mapping::Own { uid, gid }
    };
    Some(IdMapRequest {
        recursive: opts.idmap == Some(IdMapScope::Recursive),
        mapping,
    })
}

/// Refuses id-mapped mounts that cannot be made, before anything is created.
pub fn validate(spec: &Spec, plan: &NamespacePlan) -> Result<(), String> {
    for m in spec.mounts().iter().flatten() {
        // crun's own spelling of a mount's mappings; as filesystem data, a bind mount would
        // drop it and come out unmapped.
        if let Some(o) = m
            .options()
            .iter()
            .flatten()
            .find(|o| o.starts_with("idmap=") || o.starts_with("ridmap="))
        {
            return Err(format!(
                "mount on {}: option {o:?} is crun's syntax, which rind does not read; give the \
                 mount uidMappings and gidMappings",
                m.destination().display()
            ));
        }
        let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
        let Some(req) = requested(m, &opts) else {
            continue;
        };
        let dest = m.destination().display();
        let bind = opts.is_bind() || m.typ().as_deref() == Some("bind");
        if !bind {
            return Err(format!(
                "mount on {dest}: id mappings (idmap, ridmap, uidMappings, gidMappings) apply \
                 to bind mounts only"
            ));
        }
        match &req.mapping {
            Mapping::Own { uid, gid } if uid.is_empty() || gid.is_empty() => {
                return Err(format!(
                    "mount on {dest}: uidMappings and gidMappings must be given together"
                ));
            }
            Mapping::Container if !plan.is_private(LinuxNamespaceType::User) => {
                return Err(format!(
                    "mount on {dest}: idmap without uidMappings/gidMappings takes the \
                     container's user namespace, and the container has none"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The runtime's side: makes the detached mounts init asks for (id-mapped ones, and the bind
/// mounts of a container with its own user namespace).
pub struct IdMapper<'a> {
    mounts: &'a [Mount],
    bundle: &'a Path,
    /// User namespaces made for mounts' own mappings, by their map text.
    made: Vec<((String, String), OwnedFd)>,
}

impl<'a> IdMapper<'a> {
    pub fn new(spec: &'a Spec, bundle: &'a Path) -> Self {
        IdMapper {
            mounts: spec.mounts().as_deref().unwrap_or_default(),
            bundle,
            made: Vec::new(),
        }
    }

    /// A detached clone of the source of spec mount `index`: id-mapped when the mount asks
    /// for a mapping, else plain (a bind mount of a container with a user namespace, whose
    /// source the container's root may not reach). `container_userns` is init's user
    /// namespace, for a mount that takes the container's mapping.
    pub fn open(
        &mut self,
        index: usize,
        container_userns: Option<OwnedFd>,
    ) -> Result<OwnedFd, SysError> {
        let m = self.mounts.get(index).ok_or_else(|| {
            SysError::new(
                format!("id-mapped mount: no spec mount {index}"),
                Errno::EINVAL,
            )
        })?;
        let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
        let dest = m.destination().display().to_string();
        let source = self.source(m);
        let recursive = opts.flags.contains(MsFlags::MS_REC);
        let Some(req) = requested(m, &opts) else {
            // A plain bind mount of a container with a user namespace of its own: the source
            // is opened here, with the runtime's credentials, as runc opens it before init
            // enters the namespace. The container's root may not be able to reach it.
            if !(opts.is_bind() || m.typ().as_deref() == Some("bind")) {
                return Err(SysError::new(
                    format!("mount on {dest}: not a bind mount"),
                    Errno::EINVAL,
                ));
            }
            return fsmount::open_tree_clone(&source, recursive)
                .step(|| format!("bind mount source {}", source.display()));
        };
        let shown = format!("id-mapped mount {} on {dest}", source.display());
        let userns = match &req.mapping {
            Mapping::Own { uid, gid } => self.user_namespace(uid, gid).map_err(|e| SysError {
                step: format!("{shown}: user namespace for its mappings: {}", e.step),
                cause: e.cause,
            })?,
            Mapping::Container => container_userns.ok_or_else(|| {
                SysError::new(
                    format!("{shown}: init sent no user namespace"),
                    Errno::EINVAL,
                )
            })?,
        };
        let tree = fsmount::open_tree_clone(&source, recursive)
            .step(|| format!("{shown}: clone {}", source.display()))?;
        let attr = MountAttr {
            set: MOUNT_ATTR_IDMAP,
            clear: 0,
            userns: Some(userns.as_raw_fd()),
        };
        match fsmount::mount_setattr(&tree, req.recursive, attr) {
            Ok(()) => Ok(tree),
            // The filesystem (or, with ridmap, one mounted under the source) lacks
            // FS_ALLOW_IDMAP: procfs, sysfs, and tmpfs before Linux 6.3, among others.
            Err(Errno::EINVAL) => Err(SysError::new(
                format!(
                    "{shown}: the filesystem of {} does not allow id-mapped mounts",
                    source.display()
                ),
                Errno::EINVAL,
            )),
            Err(e) => Err(SysError::new(format!("{shown}: attach the mapping"), e)),
        }
    }

    fn source(&self, m: &Mount) -> PathBuf {
        let source = m.source().clone().unwrap_or_default();
        if source.is_absolute() {
            source
        } else {
            self.bundle.join(source)
        }
    }

    /// A user namespace with these maps: made once, then shared by every mount that names
    /// the same mappings. Returns a duplicate fd the caller may drop.
    fn user_namespace(
        &mut self,
        uid: &[LinuxIdMapping],
        gid: &[LinuxIdMapping],
    ) -> Result<OwnedFd, SysError> {
        let key = (id_map_text(uid), id_map_text(gid));
        if let Some((_, fd)) = self.made.iter().find(|(k, _)| *k == key) {
            return fd
                .try_clone()
                .step(|| "dup a user namespace fd".to_string());
        }
        let fd = new_user_namespace(&key.0, &key.1)?;
        let dup = fd
            .try_clone()
            .step(|| "dup a user namespace fd".to_string())?;
        self.made.push((key, fd));
        Ok(dup)
    }
}

/// A new user namespace with `uid_map` and `gid_map` set to the given text, as an fd. A child
/// is cloned into it only to hold it while the maps are written and the namespace opened; it
/// is killed and reaped before this returns, whatever happened.
fn new_user_namespace(uid_map: &str, gid_map: &str) -> Result<OwnedFd, SysError> {
    let parent = nix::unistd::getpid();
    // SAFETY: a null stack makes clone(2) copy the address space like fork(2); the runtime is
    // single-threaded here. The child runs only async-signal-safe calls and never returns.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    };
    let child = match Errno::result(r).step(|| "clone into a new user namespace".to_string())? {
        0 => {
            // SAFETY: plain system calls; the child waits to be killed and never returns into
            // the runtime's code (nor outlives it).
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent.as_raw() {
                    libc::_exit(1);
                }
                loop {
                    libc::pause();
                }
            }
        }
        pid => Pid::from_raw(pid as i32),
    };
    let opened = (|| {
        let pid = child.as_raw();
        procfs::write_pid(pid, "uid_map", uid_map.as_bytes())?;
        procfs::write_pid(pid, "gid_map", gid_map.as_bytes())?;
        procfs::open_pid_ns(pid, "user", libc::CLONE_NEWUSER)
    })();
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
    opened
}

/// init's side: attaches the detached mount `tree` onto `target` (an `O_PATH` fd inside the
/// rootfs).
pub fn attach(tree: &OwnedFd, target: &OwnedFd, dest: &Path) -> Result<(), SysError> {
    fsmount::move_mount_to_fd(tree, target)
        .step(|| format!("move id-mapped mount onto {}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(v: serde_json::Value) -> (Mount, MountOptions) {
        let m: Mount = serde_json::from_value(v).unwrap();
        let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
        (m, opts)
    }

    fn maps() -> serde_json::Value {
        serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}])
    }

    #[test]
    fn a_plain_bind_asks_for_nothing() {
        let (m, o) = mount(serde_json::json!({"destination": "/d", "options": ["rbind"]}));
        assert_eq!(requested(&m, &o), None);
    }

    #[test]
    fn idmap_without_mappings_takes_the_containers() {
        let (m, o) = mount(serde_json::json!({"destination": "/d", "options": ["bind", "idmap"]}));
        let r = requested(&m, &o).unwrap();
        assert_eq!(r.mapping, Mapping::Container);
        assert!(!r.recursive);
    }

    #[test]
    fn mappings_alone_are_a_non_recursive_idmap() {
        let (m, o) = mount(
            serde_json::json!({"destination": "/d", "options": ["rbind"],
            "uidMappings": maps(), "gidMappings": maps()}),
        );
        let r = requested(&m, &o).unwrap();
        assert!(!r.recursive);
        assert!(matches!(r.mapping, Mapping::Own { .. }));
    }

    #[test]
    fn ridmap_is_recursive() {
        let (m, o) = mount(
            serde_json::json!({"destination": "/d", "options": ["rbind", "ridmap"],
            "uidMappings": maps(), "gidMappings": maps()}),
        );
        assert!(requested(&m, &o).unwrap().recursive);
    }
}
