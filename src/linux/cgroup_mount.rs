//! The spec's `cgroup` mount: what the container sees at `/sys/fs/cgroup`.
//!
//! - Unified host: one cgroup2 mount. With a cgroup namespace it is a fresh cgroup2 mount
//!   (rooted at the container's cgroup by the namespace); without one, a bind of the
//!   container's cgroup directory.
//! - Hybrid or legacy host: a tmpfs holding one directory per v1 hierarchy, in the host's
//!   mountinfo order, each a fresh cgroup mount inside a cgroup namespace or a bind of the
//!   container's directory otherwise, plus symlinks for co-mounted controllers (`cpu` ->
//!   `cpu,cpuacct`), as on the host. The tmpfs is made read-only last when the spec asks.
//!   This is the view runc 1.1 gives on such hosts: the v1 hierarchies only, so a hybrid
//!   host's cgroup2 mount (`unified`) is not shown (tests/foreign_configs.rs compares the
//!   mountinfo of podman's, docker's and containerd's configs with runc's, line by line). One
//!   difference is deliberate: a spec that says `ro` gets a read-only tmpfs, where runc 1.1.5
//!   leaves it writable.

use std::path::Path;

use std::os::fd::OwnedFd;

use nix::fcntl::{OFlag, openat};
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::symlinkat;

use super::mount_options::MountOptions;
use super::paths::{RootDir, mount_at};
use super::rootfs::{RootfsContext, finish_mount};
use crate::cgroups::{CgroupPaths, Layout};
use crate::error::{StepContext, SysError};

/// Mounts the cgroup filesystem view on `target`, the directory `dest` resolved in the rootfs.
pub fn mount_view(
    root: &RootDir,
    dest: &Path,
    target: &OwnedFd,
    opts: &MountOptions,
    ctx: &RootfsContext,
) -> Result<(), SysError> {
    ctx.runtime.enter_cgroup()?;
    let info = ctx.cgroup_mounts;
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    match (info.layout(), ctx.cgroup) {
        (Layout::Unified, CgroupPaths::V2 { dir }) => {
            let reopen = || {
                root.open_path(dest)
                    .step(|| format!("open {}", dest.display()))
            };
            let place = Place {
                target,
                reopen: &reopen,
                dest,
            };
            one_hierarchy(&place, "cgroup2", "", dir, flags, ctx.cgroupns)?;
        }
        (_, CgroupPaths::V1 { controllers, .. }) => {
            let writable = flags & !MsFlags::MS_RDONLY;
            mount_at(
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                writable,
                Some("mode=755"),
            )
            .step(|| format!("mount tmpfs on {}", dest.display()))?;
            // The tmpfs is new and only rind writes in it: its directories are made and
            // reached by name from its root, with no symlink to resolve.
            let top = root
                .open_path(dest)
                .step(|| format!("open {}", dest.display()))?;
            let mut subdirs: Vec<(String, Vec<String>, &Path)> = Vec::new();
            for (mount_point, names) in info.v1_hierarchies() {
                let Some(host_dir) = names.first().and_then(|n| controllers.get(n)) else {
                    continue;
                };
                let base = mount_point.file_name().unwrap_or_default();
                subdirs.push((base.to_string_lossy().into_owned(), names, host_dir));
            }
            for (base, names, host_dir) in &subdirs {
                let sub = dest.join(base);
                mkdirat(&top, base.as_str(), Mode::from_bits_truncate(0o755))
                    .step(|| format!("mkdir {}", sub.display()))?;
                let open = || {
                    openat(
                        &top,
                        base.as_str(),
                        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .step(|| format!("open {}", sub.display()))
                };
                let target = open()?;
                let place = Place {
                    target: &target,
                    reopen: &open,
                    dest: &sub,
                };
                let data = names.join(",");
                one_hierarchy(&place, "cgroup", &data, host_dir, flags, ctx.cgroupns)?;
                // Co-mounted controllers get a symlink each, so /sys/fs/cgroup/cpu finds
                // cpu,cpuacct.
                if base.contains(',') {
                    for part in base.split(',') {
                        let _ = symlinkat(base.as_str(), &top, part);
                    }
                }
            }
            if flags.contains(MsFlags::MS_RDONLY) {
                mount_at(
                    None::<&str>,
                    &top,
                    None::<&str>,
                    MsFlags::MS_REMOUNT | flags,
                    Some("mode=755"),
                )
                .step(|| format!("remount {} read-only", dest.display()))?;
            }
        }
        (layout, _) => {
            return Err(SysError::new(
                format!(
                    "mount cgroup on {}: the container's cgroup does not match the host layout {layout:?}",
                    dest.display()
                ),
                nix::errno::Errno::EINVAL,
            ));
        }
    }
    finish_mount(root, dest, opts)
}

/// Where one hierarchy goes: an fd on the directory, and how to open it again once something
/// is mounted there (the fd still names the directory below the mount).
struct Place<'a> {
    target: &'a OwnedFd,
    reopen: &'a dyn Fn() -> Result<OwnedFd, SysError>,
    dest: &'a Path,
}

/// One hierarchy: a new mount of the filesystem when the container has a cgroup namespace,
/// otherwise a bind of the container's own cgroup directory.
fn one_hierarchy(
    place: &Place,
    fstype: &str,
    data: &str,
    host_dir: &Path,
    flags: MsFlags,
    cgroupns: bool,
) -> Result<(), SysError> {
    let dest = place.dest;
    if cgroupns {
        match mount_at(
            Some(fstype),
            place.target,
            Some(fstype),
            flags,
            (!data.is_empty()).then_some(data),
        ) {
            Ok(()) => return Ok(()),
            // The kernel refuses a cgroup2 mount on the root of a cgroup2 mount (EBUSY): the
            // host's, brought along by a `/sys` bound with `rbind` (`spec --rootless` writes
            // one). Without privilege over the cgroup namespace, EPERM. runc binds the
            // container's own cgroup directory then, which is the same view.
            Err(nix::errno::Errno::EBUSY | nix::errno::Errno::EPERM) if fstype == "cgroup2" => {}
            Err(e) => {
                return Err(e).step(|| format!("mount {fstype} {data} on {}", dest.display()));
            }
        }
    }
    mount_at(
        Some(host_dir),
        place.target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| format!("bind {} on {}", host_dir.display(), dest.display()))?;
    if !flags.is_empty() {
        let top = (place.reopen)()?;
        mount_at(
            None::<&str>,
            &top,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
            None::<&str>,
        )
        .step(|| format!("remount {} with {flags:?}", dest.display()))?;
    }
    Ok(())
}
