//! `/dev` inside the container: the default device nodes, `linux.devices`, and the standard
//! symlinks.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use nix::unistd::{Gid, Uid, fchownat, symlinkat};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::console::refuse_pseudo_fs;
use super::fsmount;
use super::paths::{Kind, RootDir, create_in, relative};
use crate::error::{StepContext, SysError};

/// A device node to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (as in runc): null, zero, full, random, urandom, tty.
pub fn default_devices() -> Vec<DeviceNode> {
    // runc's order (its AllowedDevices): in a user namespace each is a bind mount, and
    // /proc/self/mountinfo shows them in this order, as tools comparing with runc expect.
    [
        ("/dev/null", 1, 3),
        ("/dev/random", 1, 8),
        ("/dev/full", 1, 7),
        ("/dev/tty", 5, 0),
        ("/dev/zero", 1, 5),
        ("/dev/urandom", 1, 9),
    ]
    .into_iter()
    .map(|(p, major, minor)| DeviceNode {
        path: p.into(),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// The spec's `linux.devices` entry as a node to create.
pub fn from_spec(d: &LinuxDevice) -> Result<DeviceNode, SysError> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(SysError::new(
                format!(
                    "device {}: type \"a\" is not a node type",
                    d.path().display()
                ),
                Errno::EINVAL,
            ));
        }
    };
    Ok(DeviceNode {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Creates device nodes and the standard symlinks inside one root. The directory a node goes
/// in is opened once and kept for the nodes that follow (all of the defaults are in `/dev`):
/// six nodes and the symlinks cost one lookup of `/dev`, not one each.
pub struct NodeMaker<'a> {
    root: &'a RootDir,
    in_userns: bool,
    /// The directory of the last node: its path in the root, an fd, whether it is set-group-ID.
    parent: Option<(PathBuf, OwnedFd, bool)>,
}

impl<'a> NodeMaker<'a> {
    pub fn new(root: &'a RootDir, in_userns: bool) -> Self {
        NodeMaker {
            root,
            in_userns,
            parent: None,
        }
    }

    /// The directory `path` of the root (created if missing), opened for `*at` calls, and
    /// whether it is set-group-ID.
    fn dir(&mut self, path: &Path) -> Result<(BorrowedFd<'_>, bool), SysError> {
        if self.parent.as_ref().is_none_or(|(p, _, _)| p != path) {
            let at = self.root.create(path, Kind::Directory)?;
            // Nodes, their binds and the /dev symlinks are the runtime's own: a `/dev` that
            // an image's symlink leads into procfs or sysfs is refused.
            refuse_pseudo_fs(&at, &path.display().to_string(), &|| {
                format!("create devices in {}", path.display())
            })?;
            let fd = nix::fcntl::openat(
                &at,
                ".",
                nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .step(|| format!("open {}", path.display()))?;
            let sgid =
                nix::sys::stat::fstat(&fd).map_or(true, |st| st.st_mode & libc::S_ISGID != 0);
            self.parent = Some((path.to_path_buf(), fd, sgid));
        }
        let (_, fd, sgid) = self.parent.as_ref().expect("set above");
        Ok((fd.as_fd(), *sgid))
    }

    /// Creates a device node. In a user namespace mknod is not allowed, so the host's node is
    /// bind-mounted over an empty file instead (runc does the same).
    pub fn create(&mut self, dev: &DeviceNode) -> Result<(), SysError> {
        let rel = relative(&dev.path);
        let show = dev.path.display();
        // Checked by component, so that `/dev/../etc/passwd` is not taken for a path under /dev.
        let under_dev = dev.path.is_absolute()
            && dev.path.starts_with("/dev")
            && dev.path != Path::new("/dev")
            && !dev
                .path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if !under_dev {
            return Err(SysError::new(
                format!("create device {show}: devices must be under /dev"),
                Errno::EINVAL,
            ));
        }
        let in_userns = self.in_userns;
        let parent_path = Path::new("/").join(rel.parent().unwrap_or(Path::new(".")));
        let (parent, sgid_dir) = self.dir(&parent_path)?;
        let name = rel.file_name().unwrap_or_default();
        if in_userns {
            // The host's node, bound over an empty file made in its directory: a symlink
            // there is replaced, not followed (it could lead to a procfs file).
            let target = create_in(parent, name, Kind::File)
                .step(|| format!("create {show} to bind the device on"))?;
            let step = || format!("bind device {show} into the container");
            let node = fsmount::open_tree_clone(&dev.path, false).step(step)?;
            return fsmount::move_mount_to_fd(&node, &target).step(step);
        }
        // mknod applies the umask: cleared around the call, the node gets the exact mode (init
        // is single-threaded). A chmod afterwards would cost four system calls, since glibc
        // makes fchmodat without following symlinks through /proc/self/fd.
        let mknod = || {
            let umask = nix::sys::stat::umask(Mode::empty());
            let made = mknodat(
                parent,
                name,
                dev.kind,
                Mode::from_bits_truncate(dev.mode),
                makedev(dev.major, dev.minor),
            );
            nix::sys::stat::umask(umask);
            made
        };
        match mknod() {
            Ok(()) => {}
            // An image may ship a file where the node goes; replace it, as runc does.
            Err(Errno::EEXIST) => {
                nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                    .step(|| format!("remove old {show}"))?;
                mknod().step(|| format!("mknod {show}"))?;
            }
            Err(e) => return Err(SysError::new(format!("mknod {show}"), e)),
        }
        // The node belongs to init's effective user and group already (its group is the
        // directory's under a set-group-ID directory); most specs ask for those.
        if !sgid_dir && Uid::effective().as_raw() == dev.uid && Gid::effective().as_raw() == dev.gid
        {
            return Ok(());
        }
        fchownat(
            parent,
            name,
            Some(Uid::from_raw(dev.uid)),
            Some(Gid::from_raw(dev.gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .step(|| format!("chown {show}"))
    }

    /// The standard `/dev` symlinks: fd, stdin, stdout, stderr, ptmx, and core when the host
    /// has `/proc/kcore`.
    pub fn create_symlinks(&mut self) -> Result<(), SysError> {
        let (dev, _) = self.dir(Path::new("/dev"))?;
        let mut links = vec![
            ("/proc/self/fd", "fd"),
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ];
        if Path::new("/proc/kcore").exists() {
            links.push(("/proc/kcore", "core"));
        }
        for (target, name) in links {
            match symlinkat(target, dev, name) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(SysError::new(format!("symlink /dev/{name}"), e)),
            }
        }
        // /dev/ptmx must reach the container's devpts instance, whatever the image put there.
        match nix::unistd::unlinkat(dev, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(SysError::new("remove /dev/ptmx", e)),
        }
        symlinkat("pts/ptmx", dev, "ptmx").step(|| "symlink /dev/ptmx".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_devices_are_the_six_standard_nodes() {
        let d = default_devices();
        assert_eq!(d.len(), 6);
        assert!(
            d.iter()
                .any(|n| n.path == Path::new("/dev/null") && n.minor == 3)
        );
        assert!(d.iter().all(|n| n.mode == 0o666));
    }

    #[test]
    fn spec_device_keeps_mode_and_owner() {
        let d: LinuxDevice = serde_json::from_value(serde_json::json!({
            "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
            "fileMode": 0o620, "uid": 5, "gid": 6}))
        .unwrap();
        let n = from_spec(&d).unwrap();
        assert_eq!(
            (n.major, n.minor, n.mode, n.uid, n.gid),
            (10, 229, 0o620, 5, 6)
        );
        assert_eq!(n.kind, SFlag::S_IFCHR);
    }
}
