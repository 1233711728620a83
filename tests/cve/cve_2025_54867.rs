//! CVE-2025-54867 (youki): `/proc` and `/sys` symlinks in the image followed to the host.
//! youki checked neither, and mounted procfs or sysfs wherever the image's symlink pointed,
//! on the host's filesystem.
//!
//! rind refuses proc and sysfs on anything but an ordinary directory reached without a
//! symlink, and resolves every target inside the rootfs anyway.

use std::path::PathBuf;

use crate::common::*;
use crate::rootfs_attack::*;

#[test]
fn proc_and_sys_symlinked_to_host_paths_are_refused() {
    for (link, fs) in [("/proc", "proc"), ("/sys", "sysfs")] {
        let rt = Runtime::new();
        let outside = outside_dir("outside");
        let b = bundle("true");
        plant_symlink(&b, link, outside.path().to_str().unwrap());
        let err = rt.run_fails(&b, &unique("cve-54867"));
        assert!(
            err.contains(&format!(
                "filesystem \"{fs}\" must be mounted on ordinary directory"
            )),
            "{err}"
        );
        assert_eq!(entries(outside.path()), Vec::<PathBuf>::new());
        // A relative symlink climbing out is refused the same way.
        plant_symlink(&b, link, "../../../../../../..");
        let err = rt.run_fails(&b, &unique("cve-54867"));
        assert!(
            err.contains("must be mounted on ordinary directory"),
            "{err}"
        );
    }
}
