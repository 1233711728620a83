//! The spec's `cgroup` mount: what the container sees at `/sys/fs/cgroup`.
//!
//! - Unified host: one cgroup2 mount. With a cgroup namespace it is a fresh cgroup2 mount
//!   (rooted at the container's cgroup by the namespace); without one, a bind of the
//!   container's cgroup directory.
//! - Hybrid or legacy host: a tmpfs holding one directory per v1 hierarchy (and `unified` on a
//!   hybrid host), each a fresh cgroup mount inside a cgroup namespace or a bind of the
//!   container's directory otherwise, plus symlinks for co-mounted controllers (`cpu` ->
//!   `cpu,cpuacct`), as on the host. The tmpfs is made read-only last when the spec asks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::unistd::symlinkat;

use super::mount_options::MountOptions;
use super::paths::{Kind, RootDir, fd_path};
use super::rootfs::{RootfsContext, finish_mount};
use crate::cgroups::{CgroupPaths, Layout, MountInfo};
use crate::error::{StepContext, SysError};

/// Mounts the cgroup filesystem view at `dest`.
pub fn mount_view(
    root: &RootDir,
    dest: &Path,
    opts: &MountOptions,
    ctx: &RootfsContext,
) -> Result<(), SysError> {
    (ctx.enter_cgroup)()?;
    let info = MountInfo::read_self().map_err(|e| {
        SysError::new(
            "read cgroup mounts",
            crate::error::Cause::Other(e.to_string()),
        )
    })?;
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    match (info.layout(), ctx.cgroup) {
        (Layout::Unified, CgroupPaths::V2 { dir }) => {
            one_hierarchy(root, dest, "cgroup2", "", dir, flags, ctx.cgroupns)?;
        }
        (
            _,
            CgroupPaths::V1 {
                controllers,
                unified,
            },
        ) => {
            let target = root.create(dest, Kind::Directory)?;
            let writable = flags & !MsFlags::MS_RDONLY;
            nix::mount::mount(
                Some("tmpfs"),
                &fd_path(&target),
                Some("tmpfs"),
                writable,
                Some("mode=755"),
            )
            .step(|| format!("mount tmpfs on {}", dest.display()))?;
            for (mount_point, names) in hierarchies(&info) {
                let Some(host_dir) = names.first().and_then(|n| controllers.get(n)) else {
                    continue;
                };
                let base = mount_point.file_name().unwrap_or_default();
                let sub = dest.join(base);
                one_hierarchy(
                    root,
                    &sub,
                    "cgroup",
                    &names.join(","),
                    host_dir,
                    flags,
                    ctx.cgroupns,
                )?;
                // Co-mounted controllers get a symlink each, so /sys/fs/cgroup/cpu finds
                // cpu,cpuacct.
                let base_str = base.to_string_lossy();
                if base_str.contains(',') {
                    let dir = root
                        .open_path(dest)
                        .step(|| format!("open {}", dest.display()))?;
                    for part in base_str.split(',') {
                        let _ = symlinkat(base, &dir, part);
                    }
                }
            }
            if let (Some(host_dir), Some(_)) = (unified, info.unified_mount()) {
                one_hierarchy(
                    root,
                    &dest.join("unified"),
                    "cgroup2",
                    "",
                    host_dir,
                    flags,
                    ctx.cgroupns,
                )?;
            }
            if flags.contains(MsFlags::MS_RDONLY) {
                let top = root
                    .open_path(dest)
                    .step(|| format!("open {}", dest.display()))?;
                nix::mount::mount(
                    None::<&str>,
                    &fd_path(&top),
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

/// Each v1 hierarchy's mount point with the controller names mounted there.
fn hierarchies(info: &MountInfo) -> BTreeMap<PathBuf, Vec<String>> {
    let mut out: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (name, mp) in info.v1_controller_mounts() {
        out.entry(mp).or_default().push(name);
    }
    out
}

/// One hierarchy at `dest`: a new mount of the filesystem when the container has a cgroup
/// namespace, otherwise a bind of the container's own cgroup directory.
fn one_hierarchy(
    root: &RootDir,
    dest: &Path,
    fstype: &str,
    data: &str,
    host_dir: &Path,
    flags: MsFlags,
    cgroupns: bool,
) -> Result<(), SysError> {
    let target = root.create(dest, Kind::Directory)?;
    if cgroupns {
        return mount(
            Some(fstype),
            &fd_path(&target),
            Some(fstype),
            flags,
            (!data.is_empty()).then_some(data),
        )
        .step(|| format!("mount {fstype} {data} on {}", dest.display()));
    }
    mount(
        Some(host_dir),
        &fd_path(&target),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| format!("bind {} on {}", host_dir.display(), dest.display()))?;
    if !flags.is_empty() {
        let top = root
            .open_path(dest)
            .step(|| format!("open {}", dest.display()))?;
        mount(
            None::<&str>,
            &fd_path(&top),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
            None::<&str>,
        )
        .step(|| format!("remount {} with {flags:?}", dest.display()))?;
    }
    Ok(())
}
