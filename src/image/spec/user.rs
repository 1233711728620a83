//! The image config's `User` (`name`, `uid`, `uid:gid`, `name:group`, ...) resolved against
//! the image's own `/etc/passwd` and `/etc/group`, read without leaving the root.

use std::io::Read;
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};

use crate::image::ImageError;
use crate::image::layer::rooted::RootDir;
use crate::linux::paths::openat2_retrying;

/// A user resolved to numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The home directory from passwd, when the user has an entry.
    pub home: Option<String>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Reads `rel` inside `rootfs`, resolving symlinks as if `rootfs` were `/`
/// (`RESOLVE_IN_ROOT`), so an image's `/etc/passwd -> /etc/shadow` cannot read the host's.
/// A missing file reads as empty.
fn read_in_root(rootfs: &Path, rel: &str) -> Result<String, ImageError> {
    let root = RootDir::open(rootfs)
        .map_err(|e| ImageError::sys(format!("open {}", rootfs.display()), e))?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = match openat2_retrying(root.fd(), rel, how) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(String::new()),
        Err(e) => {
            return Err(ImageError::sys(
                format!("open /{rel} in {}", rootfs.display()),
                e,
            ));
        }
    };
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut s)
        .map_err(|e| ImageError::sys(format!("read /{rel} in {}", rootfs.display()), e))?;
    Ok(s)
}

fn parse_passwd(s: &str) -> Vec<PasswdEntry> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7).then_some(())?;
            Some(PasswdEntry {
                name: f[0].into(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].into(),
            })
        })
        .collect()
}

fn parse_group(s: &str) -> Vec<GroupEntry> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then_some(())?;
            Some(GroupEntry {
                name: f[0].into(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

/// Resolves `spec` (empty means root). With no group given, the primary group comes from
/// passwd (0 when the uid has no entry) and the supplementary groups from /etc/group. A name
/// that the image does not define is an error naming it.
pub fn resolve_user(spec: &str, rootfs: &Path) -> Result<ResolvedUser, ImageError> {
    let passwd = parse_passwd(&read_in_root(rootfs, "etc/passwd")?);
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|e| e.uid == uid),
        Err(_) => Some(passwd.iter().find(|e| e.name == user).ok_or_else(|| {
            ImageError::malformed(
                format!("image user {spec:?}"),
                format!("no user {user:?} in the image's /etc/passwd"),
            )
        })?),
    };
    let uid = user
        .parse::<u32>()
        .unwrap_or_else(|_| entry.map(|e| e.uid).unwrap_or(0));
    let mut out = ResolvedUser {
        uid,
        gid: entry.map(|e| e.gid).unwrap_or(0),
        additional_gids: Vec::new(),
        home: entry.map(|e| e.home.clone()),
    };
    match group {
        Some(g) if !g.is_empty() => {
            out.gid = match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => {
                    let groups = parse_group(&read_in_root(rootfs, "etc/group")?);
                    groups
                        .iter()
                        .find(|e| e.name == g)
                        .map(|e| e.gid)
                        .ok_or_else(|| {
                            ImageError::malformed(
                                format!("image user {spec:?}"),
                                format!("no group {g:?} in the image's /etc/group"),
                            )
                        })?
                }
            };
        }
        _ => {
            if let Some(e) = entry {
                let groups = parse_group(&read_in_root(rootfs, "etc/group")?);
                for g in groups.iter().filter(|g| g.members.contains(&e.name)) {
                    if g.gid != out.gid && !out.additional_gids.contains(&g.gid) {
                        out.additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1001:t:/home/tester:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:tester\ntester:x:1001:\nwheel:x:10:root,tester\n",
        )
        .unwrap();
        t
    }

    #[test]
    fn resolves_every_user_form() {
        let r = rootfs();
        let p = r.path();
        let u = resolve_user("tester", p).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (1000, 1001, vec![50, 10])
        );
        assert_eq!(u.home.as_deref(), Some("/home/tester"));
        assert_eq!(resolve_user("1000", p).unwrap().gid, 1001);
        let u = resolve_user("1000:7", p).unwrap();
        assert_eq!((u.uid, u.gid, u.additional_gids.len()), (1000, 7, 0));
        assert_eq!(resolve_user("tester:staff", p).unwrap().gid, 50);
        assert_eq!(resolve_user("4242", p).unwrap().gid, 0);
        assert_eq!(resolve_user("", p).unwrap().uid, 0);
    }

    #[test]
    fn unknown_names_are_errors() {
        let r = rootfs();
        assert!(
            resolve_user("nobody", r.path())
                .unwrap_err()
                .to_string()
                .contains("nobody")
        );
        assert!(
            resolve_user("tester:nogroup", r.path())
                .unwrap_err()
                .to_string()
                .contains("nogroup")
        );
    }

    #[test]
    fn passwd_symlink_resolves_inside_the_root() {
        let r = rootfs();
        std::fs::remove_file(r.path().join("etc/passwd")).unwrap();
        std::fs::write(r.path().join("mypasswd"), "inside:x:77:77::/:/bin/sh\n").unwrap();
        // An absolute target means the image's /mypasswd, not the host's.
        std::os::unix::fs::symlink("/mypasswd", r.path().join("etc/passwd")).unwrap();
        assert_eq!(resolve_user("inside", r.path()).unwrap().uid, 77);
    }
}
