//! Rootless mode: rind run by an ordinary user, as runc, crun and youki run.
//!
//! What changes when rind is rootless, and where:
//!
//! - **Defaults** (`dirs.rs`): state under `$XDG_RUNTIME_DIR/rind`, the image store under
//!   `$XDG_DATA_HOME/rind` (or `~/.local/share/rind`), both private to the user.
//! - **Id maps** (`idmap.rs`): the caller's own uid and gid are mapped by writing the maps
//!   directly (with `setgroups` denied first, as the kernel demands); anything wider goes
//!   through the setuid helpers `newuidmap`/`newgidmap`, which check `/etc/subuid` and
//!   `/etc/subgid`.
//! - **cgroups** (`cgroup.rs`): the container gets a cgroup of its own only in a subtree the
//!   user may write (a delegated cgroup v2 subtree); elsewhere none, and limits are refused.
//! - **Checks before anything is made** ([`validate`]): a new user namespace, ids in mount
//!   options that the namespace maps, no `oom_score_adj` below the caller's, no sysctl the
//!   user namespace cannot own.
//! - **`rind spec --rootless`** (`spec.rs`): runc's rootless config.
//! - **The image store** (`store.rs`): its operations run as root of a user namespace that
//!   maps the user's subordinate ids, so layers keep their owners.
//!
//! Device nodes need no rootless code: in a user namespace init bind-mounts the host's nodes
//! (`linux/devices.rs`), as runc does; and every mount is made by init inside the container's
//! user namespace, which owns its mount namespace.

pub mod cgroup;
pub mod dirs;
pub mod idmap;
pub mod spec;
pub mod store;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::linux::namespaces::NamespacePlan;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static UNPRIVILEGED: AtomicBool = AtomicBool::new(false);
static NO_HOST_PRIVILEGE: AtomicBool = AtomicBool::new(false);

/// Whether this run of rind is rootless (decided once by [`resolve`]).
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Whether rind runs as an ordinary user (rootless, and not root): set by [`resolve`] in the
/// runtime, so that a cloned init, whose own ids are those of its new user namespace, still
/// knows who writes its maps.
pub fn unprivileged() -> bool {
    UNPRIVILEGED.load(Ordering::Relaxed)
}

/// Whether this run of rind lacks privilege in the host's user namespace: rootless, and
/// either an ordinary user or root inside a user namespace other than the initial one
/// (rootless podman's runtime). Such a runtime cannot set `trusted.` extended attributes nor
/// write cgroups it does not own; `container/identity.rs` marks cgroups the rootless way then.
pub fn without_host_privilege() -> bool {
    NO_HOST_PRIVILEGE.load(Ordering::Relaxed)
}

/// Why rootless mode cannot go on, or what it refuses.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("--rootless {0:?}: want true, false or auto")]
    BadFlag(String),
    #[error(
        "--rootless false: rind runs as uid {0}, not root; an ordinary user needs rootless mode (--rootless auto or true)"
    )]
    NotRoot(u32),
    /// A directory default that cannot be used; the text says which and why.
    #[error("rootless: {0}")]
    Dir(String),
    /// A spec field rootless mode cannot honour; the text names the field.
    #[error("rootless: {0}")]
    Refused(String),
    #[error("rootless: {0}")]
    IdMap(String),
    /// The store's user namespace could not be made or did not answer (`store.rs`).
    #[error("rootless: image store: {0}")]
    Store(String),
    /// An operation in the store's user namespace failed; the text is its own error line.
    #[error("{0}")]
    Relayed(String),
}

/// What `--rootless` and who runs rind decide: the mode, and the state and store directories
/// in effect.
#[derive(Debug)]
pub struct Resolved {
    pub rootless: bool,
    pub root: PathBuf,
    pub store: PathBuf,
}

/// Decides the mode from `--rootless` (`flag`) and who runs rind, and picks the state and
/// store directories the mode implies where the flags and the environment (`root_flag`,
/// `store_flag`) gave none.
///
/// `auto` (and no flag), as runc decides it: rootless when the effective uid is not 0, or when
/// rind runs as root inside a user namespace that is not the initial one (rootless podman runs
/// its runtime so).
pub fn resolve(
    flag: Option<&str>,
    root_flag: Option<PathBuf>,
    store_flag: Option<PathBuf>,
) -> Result<Resolved, RootlessError> {
    let euid = nix::unistd::geteuid().as_raw();
    let rootless = match flag {
        None | Some("auto") => euid != 0 || crate::sys::in_user_namespace(),
        Some("true") => true,
        Some("false") if euid != 0 => return Err(RootlessError::NotRoot(euid)),
        Some("false") => false,
        Some(other) => return Err(RootlessError::BadFlag(other.to_string())),
    };
    ACTIVE.store(rootless, Ordering::Relaxed);
    UNPRIVILEGED.store(rootless && euid != 0, Ordering::Relaxed);
    NO_HOST_PRIVILEGE.store(
        rootless && (euid != 0 || crate::sys::in_user_namespace()),
        Ordering::Relaxed,
    );
    let root = match root_flag {
        Some(root) => root,
        None => dirs::default_root(euid)?,
    };
    let store = match store_flag {
        Some(store) => store,
        None if euid != 0 => dirs::default_store()?,
        None => crate::image::store::DEFAULT_ROOT.into(),
    };
    Ok(Resolved {
        rootless,
        root,
        store,
    })
}

/// Checks, before anything is made, what rootless mode cannot do with this spec, and names the
/// field. Run only in rootless mode.
pub fn validate(spec: &Spec, plan: &NamespacePlan) -> Result<(), RootlessError> {
    let euid = nix::unistd::geteuid().as_raw();
    let new_user = plan.is_new(LinuxNamespaceType::User);
    let joins_user = plan
        .joins
        .iter()
        .any(|(t, _)| *t == LinuxNamespaceType::User);
    if euid != 0 && !new_user && !joins_user {
        return Err(RootlessError::Refused(
            "linux.namespaces: a rootless container needs a user namespace (add {\"type\": \"user\"} and uid/gid mappings; `rind spec --rootless` writes them)"
                .into(),
        ));
    }
    if new_user && euid != 0 {
        idmap::check_allowed(&plan.uid_mappings, &plan.gid_mappings)?;
    }
    if new_user {
        check_mount_ids(spec, plan)?;
        check_process_ids(spec, plan)?;
    }
    if without_host_privilege() {
        check_no_idmapped_mounts(spec)?;
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        check_oom_score_adj(adj)?;
    }
    if let Some(sysctls) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        for key in sysctls.keys() {
            let dotted = key.replace('/', ".");
            if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
                return Err(RootlessError::Refused(format!(
                    "linux.sysctl {key:?}: the kernel lets only host root write it; set \"hostname\" or \"domainname\" in config.json instead"
                )));
            }
        }
    }
    Ok(())
}

/// An id-mapped mount is made with `mount_setattr(MOUNT_ATTR_IDMAP)` on a clone of a mount of
/// the host's, which needs `CAP_SYS_ADMIN` in the user namespace that owns the filesystem (the
/// host's): refused by name, as it would fail at that mount.
fn check_no_idmapped_mounts(spec: &Spec) -> Result<(), RootlessError> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let opts = crate::linux::mount_options::parse(m.options().as_deref().unwrap_or_default());
        if crate::linux::idmap::requested(m, &opts).is_some() {
            return Err(RootlessError::Refused(format!(
                "mounts[{i}] ({}): an id-mapped mount (idmap, ridmap or uidMappings/gidMappings on a mount) needs CAP_SYS_ADMIN in the host's user namespace, which a rootless runtime does not have; map the files' owners with the container's own uidMappings instead",
                m.destination().display()
            )));
        }
    }
    Ok(())
}

/// `oom_score_adj` may be raised by anyone, lowered only with CAP_SYS_RESOURCE on the host.
fn check_oom_score_adj(adj: i32) -> Result<(), RootlessError> {
    let current: i32 = crate::linux::read_pseudo_file("/proc/self/oom_score_adj", 32)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if adj < current {
        return Err(RootlessError::Refused(format!(
            "process.oomScoreAdj {adj} is below the caller's {current}: only a privileged process may lower it"
        )));
    }
    Ok(())
}

/// The process's user and groups must exist in the container's user namespace: the kernel
/// refuses to switch to an unmapped id (`setgid: invalid argument` would be all it says).
fn check_process_ids(spec: &Spec, plan: &NamespacePlan) -> Result<(), RootlessError> {
    let Some(user) = spec.process().as_ref().map(|p| p.user()) else {
        return Ok(());
    };
    let gids = std::iter::once(("gid", user.gid())).chain(
        user.additional_gids()
            .iter()
            .flatten()
            .map(|g| ("additionalGids", *g)),
    );
    let ids = std::iter::once(("uid", user.uid())).chain(gids);
    for (field, id) in ids {
        let maps = if field == "uid" {
            &plan.uid_mappings
        } else {
            &plan.gid_mappings
        };
        if !maps
            .iter()
            .any(|r| id >= r.container_id() && id - r.container_id() < r.size())
        {
            let mapped: Vec<String> = maps
                .iter()
                .map(|r| {
                    let last = r.container_id() as u64 + r.size() as u64 - 1;
                    format!("{}-{last}", r.container_id())
                })
                .collect();
            return Err(RootlessError::Refused(format!(
                "process.user.{field} {id} is not mapped in the container's user namespace, which maps {} {}; give your user a subordinate range (/etc/subuid, /etc/subgid, and newuidmap from the uidmap package), or run the process as a mapped user",
                if field == "uid" { "uids" } else { "gids" },
                mapped.join(", ")
            )));
        }
    }
    Ok(())
}

/// A `uid=N` or `gid=N` mount option names an id inside the container: the mount fails unless
/// the user namespace maps it (runc strips them from its rootless spec for that reason).
fn check_mount_ids(spec: &Spec, plan: &NamespacePlan) -> Result<(), RootlessError> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        for opt in m.options().iter().flatten() {
            let (maps, kind) = if let Some(v) = opt.strip_prefix("uid=") {
                (&plan.uid_mappings, ("uid", v))
            } else if let Some(v) = opt.strip_prefix("gid=") {
                (&plan.gid_mappings, ("gid", v))
            } else {
                continue;
            };
            let Ok(id) = kind.1.parse::<u32>() else {
                continue;
            };
            let mapped = maps
                .iter()
                .any(|r| id >= r.container_id() && (id - r.container_id()) < r.size());
            if !mapped {
                return Err(RootlessError::Refused(format!(
                    "mounts[{i}] ({}): option {opt}: {} {id} is not mapped in the container's user namespace",
                    m.destination().display(),
                    kind.0
                )));
            }
        }
    }
    Ok(())
}
