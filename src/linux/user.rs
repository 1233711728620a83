//! The container process's user and groups, and the lookups that need the image's
//! `/etc/passwd`.

use std::path::Path;

use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
use oci_spec::runtime::User;

use crate::error::{StepContext, SysError};

/// Switches to the spec's user: supplementary groups, then gid, then uid (the uid last, since
/// it gives up the right to change the others).
///
/// `setgroups_allowed` is false inside a user namespace whose `setgroups` file says "deny".
pub fn switch_user(user: &User, setgroups_allowed: bool) -> Result<(), SysError> {
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).step(|| format!("setgroups {:?}", user.additional_gids()))?;
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).step(|| format!("setgid {gid}"))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).step(|| format!("setuid {uid}"))?;
    Ok(())
}

/// The home directory of `uid` in a passwd file's text, if listed.
pub fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// `HOME` for the process when its environment lacks one: the user's home from the
/// container's `/etc/passwd`, else `/`.
pub fn default_home(root: &Path, uid: u32) -> String {
    std::fs::read_to_string(root.join("etc/passwd"))
        .ok()
        .and_then(|p| home_of(&p, uid))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_read_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\n";
        assert_eq!(home_of(passwd, 1000).as_deref(), Some("/home/tester"));
        assert_eq!(home_of(passwd, 5), None);
    }
}
