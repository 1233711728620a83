//! Entering the container's root: `pivot_root(".", ".")` and a lazy unmount of the old root,
//! or, with `--no-pivot`, `MS_MOVE` of the rootfs onto `/` and `chroot`.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::paths::RootDir;
use crate::error::{StepContext, SysError};
use crate::sys::mountinfo;

/// Moves the process into the new root.
pub fn pivot(root: &RootDir, no_pivot: bool) -> Result<(), SysError> {
    if no_pivot {
        hide_host_pseudo_filesystems(root.path())?;
        fchdir(root.fd()).step(|| format!("chdir {}", root.path().display()))?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .step(|| format!("move {} to /", root.path().display()))?;
        chroot(".").step(|| format!("chroot {}", root.path().display()))?;
    } else {
        fchdir(root.fd()).step(|| format!("chdir {}", root.path().display()))?;
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
        crate::sys::trace::mark(|| "init: pivot_root".into());
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

/// With `--no-pivot` the host's mounts stay in the container's mount namespace, out of reach
/// of its paths but not of the kernel: a full procfs or sysfs mount anywhere in the namespace
/// is what lets a process in a new user namespace mount a fresh, unmasked one
/// (`mount -t proc none /proc` then succeeds inside the container). So every procfs and sysfs
/// mount of the whole filesystem outside the rootfs is unmounted first, or covered with an
/// empty tmpfs where unmounting is refused, as runc does before its `MS_MOVE`.
fn hide_host_pseudo_filesystems(rootfs: &Path) -> Result<(), SysError> {
    let text = super::procfs::read_self("mountinfo", 16 * 1024)?;
    for mp in full_pseudo_mounts(&text, rootfs) {
        let shown = || mp.display().to_string();
        // Unmount events must not reach the host.
        match mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            // Gone with a parent unmounted before it.
            Err(Errno::ENOENT) => continue,
            other => other.step(|| format!("make {} rslave", shown()))?,
        }
        match umount2(&mp, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => mount(
                Some("tmpfs"),
                &mp,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .step(|| format!("cover {} with a tmpfs", shown()))?,
            Err(e) => return Err(SysError::new(format!("unmount {}", shown()), e)),
        }
    }
    Ok(())
}

/// The mount points of whole (root `/`) procfs and sysfs mounts outside `rootfs`, from the
/// text of `/proc/self/mountinfo`, in its order.
fn full_pseudo_mounts(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    mountinfo::parse(mountinfo)
        .filter(|m| m.root == Path::new("/") && matches!(m.fstype, "proc" | "sysfs"))
        .filter(|m| !m.mount_point.starts_with(rootfs))
        .map(|m| m.mount_point)
        .collect()
}

/// pivot_root(2) refuses a new root whose parent mount is shared. Make that mount private (in
/// this mount namespace only).
pub(super) fn make_parent_mount_private(rootfs: &Path) -> Result<(), SysError> {
    let text = super::procfs::read_self("mountinfo", 16 * 1024)?;
    let mut best: Option<(PathBuf, bool)> = None;
    for m in mountinfo::parse(&text) {
        if rootfs.starts_with(&m.mount_point)
            && best
                .as_ref()
                .is_none_or(|(b, _)| m.mount_point.as_os_str().len() >= b.as_os_str().len())
        {
            let shared = m.is_shared();
            best = Some((m.mount_point, shared));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_proc_and_sysfs_mounts_outside_the_rootfs_are_hidden() {
        let info = "\
22 1 0:21 / / rw - ext4 /dev/sda1 rw
23 22 0:22 / /proc rw,nosuid - proc proc rw
24 22 0:23 / /sys rw - sysfs sysfs rw
25 23 0:24 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
26 22 0:22 /sys /mnt/procsys ro - proc proc rw
27 22 0:25 / /run/c/root/proc rw - proc proc rw
28 22 0:26 / /mnt/with\\040space rw - sysfs sysfs rw
";
        let got = full_pseudo_mounts(info, Path::new("/run/c/root"));
        assert_eq!(
            got,
            vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/mnt/with space")
            ]
        );
    }
}
