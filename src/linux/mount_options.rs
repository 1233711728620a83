//! The `options` of a spec mount, parsed into what the kernel takes: `mount(2)` flags, a
//! propagation change, recursive attributes for `mount_setattr(2)`, and filesystem data.
//!
//! The option names and their meaning follow the runtime spec's table and runc's parser.

use nix::mount::MsFlags;

/// Recursive mount attributes (`mount_setattr(2)` with `AT_RECURSIVE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecursiveAttrs {
    pub set: u64,
    pub clear: u64,
    /// The access-time mode to set (`MOUNT_ATTR_RELATIME`, `_NOATIME` or `_STRICTATIME`).
    pub atime: Option<u64>,
}

/// A parsed mount option list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount (or the bind remount) itself.
    pub flags: MsFlags,
    /// Flags that options such as `rw` or `suid` explicitly clear (they matter on remount).
    pub cleared: MsFlags,
    /// `MS_SHARED`/`MS_SLAVE`/`MS_PRIVATE`/`MS_UNBINDABLE`, each maybe with `MS_REC`, applied
    /// after the mount in order.
    pub propagation: Vec<MsFlags>,
    pub recursive: RecursiveAttrs,
    /// Options passed to the filesystem as its data string, comma-joined.
    pub data: Vec<String>,
    /// `tmpcopyup`: copy the underlying directory's content into a new tmpfs.
    pub tmpcopyup: bool,
    /// `idmap` or `ridmap`: an id-mapped bind mount (see `linux::idmap`); the last one given
    /// wins.
    pub idmap: Option<IdMapScope>,
}

/// Which mounts of an id-mapped bind mount get the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdMapScope {
    /// `idmap`: the bind mount itself; mounts under it (with `rbind`) keep their owners.
    Top,
    /// `ridmap`: the bind mount and every mount under it.
    Recursive,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            recursive: RecursiveAttrs::default(),
            data: Vec::new(),
            tmpcopyup: false,
            idmap: None,
        }
    }
}

impl MountOptions {
    /// True for a bind mount (`bind` or `rbind` in the options, or type `bind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// The data string for mount(2).
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// Every option name the parser gives a meaning to (others are filesystem data).
pub const KNOWN_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "tmpcopyup",
    "unbindable",
];

// MOUNT_ATTR_* values from <linux/mount.h>.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// Parses a spec mount's option list. Unknown names are filesystem data, as in runc.
pub fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    for opt in options {
        let o = opt.as_str();
        if let Some((set, flag)) = flag_option(o) {
            if set {
                out.flags |= flag;
                out.cleared &= !flag;
            } else {
                out.flags &= !flag;
                out.cleared |= flag;
            }
        } else if let Some(p) = propagation_option(o) {
            out.propagation.push(p);
        } else if let Some(mode) = recursive_atime_option(o) {
            out.recursive.atime = Some(mode);
        } else if let Some((set, attr)) = recursive_option(o) {
            if set {
                out.recursive.set |= attr;
                out.recursive.clear &= !attr;
            } else {
                out.recursive.clear |= attr;
                out.recursive.set &= !attr;
            }
        } else {
            match o {
                "tmpcopyup" => out.tmpcopyup = true,
                "idmap" => out.idmap = Some(IdMapScope::Top),
                "ridmap" => out.idmap = Some(IdMapScope::Recursive),
                // Accepted by runc and engines, meaningless for mount(2).
                "defaults" | "" => {}
                _ => out.data.push(opt.clone()),
            }
        }
    }
    out
}

/// `(true, flag)` sets the flag, `(false, flag)` clears it.
fn flag_option(o: &str) -> Option<(bool, MsFlags)> {
    Some(match o {
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nodev" => (true, MsFlags::MS_NODEV),
        "dev" => (false, MsFlags::MS_NODEV),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "atime" => (false, MsFlags::MS_NOATIME),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "bind" => (true, MsFlags::MS_BIND),
        "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
        "silent" => (true, MsFlags::MS_SILENT),
        "loud" => (false, MsFlags::MS_SILENT),
        _ => return None,
    })
}

fn propagation_option(o: &str) -> Option<MsFlags> {
    Some(match o {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

fn recursive_option(o: &str) -> Option<(bool, u64)> {
    Some(match o {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// The access-time options name one mode of a single kernel field.
fn recursive_atime_option(o: &str) -> Option<u64> {
    Some(match o {
        "rrelatime" | "ratime" | "rnostrictatime" => MOUNT_ATTR_RELATIME,
        "rnoatime" => MOUNT_ATTR_NOATIME,
        "rstrictatime" | "rnorelatime" => MOUNT_ATTR_STRICTATIME,
        _ => return None,
    })
}

/// The `attr_set` and `attr_clr` fields of `struct mount_attr` for a request. The kernel takes
/// an access-time mode only together with a clear of the whole access-time field.
pub fn mount_attr_fields(r: RecursiveAttrs) -> (u64, u64) {
    match r.atime {
        Some(mode) => (r.set | mode, r.clear | MOUNT_ATTR__ATIME),
        None => (r.set, r.clear),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation_are_separated() {
        let o = p(&["nosuid", "noexec", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data_string(), "mode=755,size=65536k");
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_option_wins() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn rbind_is_recursive_bind() {
        let o = p(&["rbind", "ro"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_attributes_are_collected() {
        let o = p(&["rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.recursive.set & MOUNT_ATTR_RDONLY, MOUNT_ATTR_RDONLY);
        assert_eq!(o.recursive.set & MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSUID);
        let (set, clear) = mount_attr_fields(o.recursive);
        assert_eq!(clear & MOUNT_ATTR__ATIME, MOUNT_ATTR__ATIME);
        assert_eq!(set & MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME);
    }

    #[test]
    fn tmpcopyup_and_idmap_are_recognised() {
        let o = p(&["tmpcopyup", "idmap"]);
        assert!(o.tmpcopyup);
        assert_eq!(o.idmap, Some(IdMapScope::Top));
        assert!(o.data.is_empty());
        assert_eq!(p(&["idmap", "ridmap"]).idmap, Some(IdMapScope::Recursive));
        assert_eq!(p(&["rbind"]).idmap, None);
    }
}
