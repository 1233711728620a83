//! Properties that keep a container from reaching the host through the runtime itself.

mod common;

use common::*;

/// CVE-2019-5736: until execve the container's init is a fork of rind, so /proc/<init>/exe is
/// rind's binary. It must not be writable through that link.
#[test]
fn the_runtime_binary_cannot_be_written_through_init_proc_exe() {
    let rt = Runtime::new();
    let b = Bundle::sh("true");
    let id = unique("exe");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    // Two seals are possible: a read-only overlayfs view refuses the open with EROFS; where
    // overlayfs cannot stack on the binary's filesystem (an initramfs) a memfd copy is used,
    // sealed against writes. (ETXTBSY alone proves nothing: it lasts only while init runs.)
    match std::fs::OpenOptions::new().write(true).open(&exe) {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
        other => {
            let target = std::fs::read_link(&exe).unwrap();
            assert!(
                target.to_string_lossy().starts_with("/memfd:"),
                "{exe} -> {} is neither read-only nor a memfd (open for writing: {other:?})",
                target.display()
            );
            let f = std::fs::File::open(&exe).unwrap();
            // SAFETY: F_GET_SEALS on an open descriptor.
            let seals =
                unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::F_GET_SEALS) };
            assert!(
                seals >= 0 && seals & libc::F_SEAL_WRITE != 0,
                "{exe}: memfd seals {seals:#x} lack F_SEAL_WRITE"
            );
        }
    }
    // The sealed view is attached to no mount table, so nothing is left behind.
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(!mounts.contains(" overlay "), "{mounts}");
    rt.ok(&["delete", "--force", &id]);
}
