//! Who the files of an unpacked layer belong to, which decides what unpacking may keep.
//!
//! Root on the host keeps everything a layer says: owners, device nodes, and the
//! `trusted.overlay.opaque` mark overlayfs reads. A store without host privilege cannot set
//! `trusted.*` attributes nor make device nodes. It marks opaque directories with
//! `user.overlay.opaque` instead, which overlayfs reads when it is mounted with `userxattr`
//! (inside a user namespace, kernel 5.11 and later). Owners then depend on the ids the user has:
//!
//! - **Mapped**: the store's operations run as root of a user namespace that maps its ids
//!   (the user as 0, its subordinate range from 1 up, as rootless podman maps them), so files
//!   keep the image's owners, seen from the host as subordinate ids. An owner outside the
//!   mapping refuses the layer, as podman does ("insufficient UIDs or GIDs").
//! - **Squashed**: a user without a subordinate range owns every file itself.

use serde::{Deserialize, Serialize};

/// One line of a user namespace's id map: `size` ids from `inside` in the namespace are
/// `outside` and up on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub size: u32,
}

impl IdRange {
    fn holds(&self, id: u32) -> bool {
        id >= self.inside && id - self.inside < self.size
    }
}

/// Who owns what the store writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "owners", rename_all = "lowercase")]
pub enum Owners {
    /// Root on the host: every owner, device node and `trusted.` attribute as the layer says.
    #[default]
    Host,
    /// Root of a user namespace with these maps: owners kept where mapped.
    Mapped {
        uids: Vec<IdRange>,
        gids: Vec<IdRange>,
    },
    /// An ordinary user without subordinate ids: every file is the user's.
    Squashed,
}

/// Why a file cannot get its owner from the layer.
#[derive(Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub kind: &'static str,
    pub id: u32,
    pub mapped: String,
}

impl std::fmt::Display for Unmapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "owner {} {} is outside the store's user namespace, which maps {}s {} (your own id and your range in /etc/sub{}); podman refuses such a layer too",
            self.kind, self.id, self.kind, self.mapped, self.kind
        )
    }
}

impl Owners {
    /// What the current process may do where it stands: root on the host, or not.
    pub fn of_process() -> Owners {
        if nix::unistd::geteuid().is_root() && !crate::sys::in_user_namespace() {
            Owners::Host
        } else {
            Owners::Squashed
        }
    }

    /// Whether files get the layer's owners (`Ok(false)`: everything stays the caller's).
    pub fn keeps(&self, uid: u32, gid: u32) -> Result<bool, Unmapped> {
        match self {
            Owners::Host => Ok(true),
            Owners::Squashed => Ok(false),
            Owners::Mapped { uids, gids } => {
                for (kind, id, maps) in [("uid", uid, uids), ("gid", gid, gids)] {
                    if !maps.iter().any(|r| r.holds(id)) {
                        let mapped: Vec<String> = maps
                            .iter()
                            .map(|r| {
                                format!("{}-{}", r.inside, r.inside as u64 + r.size as u64 - 1)
                            })
                            .collect();
                        return Err(Unmapped {
                            kind,
                            id,
                            mapped: mapped.join(", "),
                        });
                    }
                }
                Ok(true)
            }
        }
    }

    /// For an error line: the ids the store's files are given.
    pub fn describe(&self) -> String {
        let ranges = |kind: &str, maps: &[IdRange]| -> String {
            let each: Vec<String> = maps
                .iter()
                .map(|r| {
                    let last = |v: u32| v as u64 + r.size as u64 - 1;
                    format!(
                        "{}-{} as {}-{}",
                        r.inside,
                        last(r.inside),
                        r.outside,
                        last(r.outside)
                    )
                })
                .collect();
            format!("{kind}s {}", each.join(", "))
        };
        match self {
            Owners::Host => "the image's own ids (root on the host)".into(),
            Owners::Mapped { uids, gids } => {
                format!("{}; {}", ranges("uid", uids), ranges("gid", gids))
            }
            Owners::Squashed => "no subordinate ids (every file yours)".into(),
        }
    }

    /// Whether character and block devices are made (mknod needs CAP_MKNOD on the host); a
    /// whiteout, the 0/0 character device, is allowed to anyone since Linux 5.8.
    pub fn makes_devices(&self) -> bool {
        *self == Owners::Host
    }

    /// Whether `trusted.*` attributes can be set (CAP_SYS_ADMIN on the host).
    pub fn sets_trusted(&self) -> bool {
        *self == Owners::Host
    }

    /// The attribute that marks an opaque directory in this store's layers.
    pub fn opaque_xattr(&self) -> &'static str {
        match self {
            Owners::Host => super::whiteout::OPAQUE_XATTR,
            _ => super::whiteout::USER_OPAQUE_XATTR,
        }
    }

    /// Whether overlayfs must be mounted with `userxattr` to read this store's layers.
    pub fn userxattr(&self) -> bool {
        *self != Owners::Host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped() -> Owners {
        let r = |inside, outside, size| IdRange {
            inside,
            outside,
            size,
        };
        Owners::Mapped {
            uids: vec![r(0, 1000, 1), r(1, 100000, 65536)],
            gids: vec![r(0, 1000, 1), r(1, 200000, 10)],
        }
    }

    #[test]
    fn mapped_owners_are_kept_inside_the_maps_only() {
        let m = mapped();
        assert_eq!(m.keeps(0, 0), Ok(true));
        assert_eq!(m.keeps(65536, 10), Ok(true));
        let e = m.keeps(65537, 0).unwrap_err();
        assert_eq!((e.kind, e.id), ("uid", 65537));
        assert_eq!(e.mapped, "0-0, 1-65536");
        let e = m.keeps(5, 11).unwrap_err();
        assert_eq!((e.kind, e.id), ("gid", 11));
        assert!(e.to_string().contains("/etc/subgid"), "{e}");
    }

    #[test]
    fn only_the_host_makes_devices_and_trusted_marks() {
        assert!(Owners::Host.makes_devices() && Owners::Host.sets_trusted());
        for o in [mapped(), Owners::Squashed] {
            assert!(!o.makes_devices() && !o.sets_trusted() && o.userxattr());
            assert_eq!(o.opaque_xattr(), "user.overlay.opaque");
        }
        assert_eq!(Owners::Host.opaque_xattr(), "trusted.overlay.opaque");
        assert_eq!(Owners::Squashed.keeps(5, 5), Ok(false));
    }
}
