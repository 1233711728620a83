//! A tmpcopyup tmpfs takes the covered directory's mode and owner unless the mount options
//! name them (podman's `--tmpfs /dir:mode=1777`, as runc does).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

#[test]
fn tmpcopyup_keeps_an_explicit_mode_uid_and_gid() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("stat -c '%a %u %g' /srv/explicit /srv/inherited; cat /srv/explicit/f");
    for dir in ["srv/explicit", "srv/inherited"] {
        let d = b.rootfs().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::chown(&d, Some(1000), Some(100)).unwrap();
    }
    std::fs::write(b.rootfs().join("srv/explicit/f"), "copied\n").unwrap();
    b.add_mount(
        json!({"destination": "/srv/explicit", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup", "mode=1777", "uid=0", "gid=5"]}),
    );
    b.add_mount(
        json!({"destination": "/srv/inherited", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup"]}),
    );
    let out = rt.output_of(&b);
    assert_eq!(out, "1777 0 5\n750 1000 100\ncopied\n");
}
