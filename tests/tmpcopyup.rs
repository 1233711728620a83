//! The `tmpcopyup` mount extension that podman and CRI-O send.

mod common;

use common::*;
use serde_json::json;

#[test]
fn tmpcopyup_tmpfs_starts_with_a_copy_and_leaves_the_image_untouched() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "cat /srv/copy/sub/file; readlink /srv/copy/link; stat -c %a /srv/copy; \
         grep ' /srv/copy ' /proc/mounts | cut -d' ' -f3,4; touch /srv/copy/new && echo writable",
    );
    let src = b.rootfs().join("srv/copy");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/file"), "from-image\n").unwrap();
    std::os::unix::fs::symlink("sub/file", src.join("link")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o750)).unwrap();
    b.add_mount(
        json!({"destination": "/srv/copy", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup", "nosuid", "nodev", "size=1m"]}),
    );
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "from-image", "{out}");
    assert_eq!(lines[1], "sub/file", "{out}");
    assert_eq!(
        lines[2], "750",
        "the tmpfs root keeps the directory's mode: {out}"
    );
    assert!(lines[3].starts_with("tmpfs rw,nosuid,nodev"), "{out}");
    assert!(lines[3].contains("size=1024k"), "{out}");
    assert_eq!(lines[4], "writable", "{out}");
    assert!(
        !src.join("new").exists(),
        "the write went to the image, not the tmpfs"
    );
}

#[test]
fn tmpcopyup_on_a_non_tmpfs_mount_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.add_mount(
        json!({"destination": "/srv", "type": "proc", "source": "proc",
        "options": ["tmpcopyup"]}),
    );
    b.write();
    let err = rt.fails(&["run", "--bundle", b.path().to_str().unwrap(), &unique("cu")]);
    assert!(err.contains("tmpcopyup applies to tmpfs only"), "{err}");
}

/// podman sends `--tmpfs /scratch` as source "tmpfs" with `tmpcopyup`; /proc/mounts must show
/// that source, as for any other tmpfs (and as runc and crun show it), not "none".
#[test]
fn tmpcopyup_tmpfs_shows_the_specs_source() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("grep -E ' /srv/(a|b) ' /proc/mounts | cut -d' ' -f1-3");
    std::fs::create_dir_all(b.rootfs().join("srv/a")).unwrap();
    std::fs::create_dir_all(b.rootfs().join("srv/b")).unwrap();
    b.add_mount(
        json!({"destination": "/srv/a", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup", "nosuid"]}),
    );
    b.add_mount(
        json!({"destination": "/srv/b", "type": "tmpfs", "source": "scratch",
        "options": ["tmpcopyup"]}),
    );
    let out = rt.output_of(&b);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["tmpfs /srv/a tmpfs", "scratch /srv/b tmpfs"],
        "{out}"
    );
}
