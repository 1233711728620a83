//! Docker's default profile on a real process: busybox from the fixtures still runs a shell
//! that forks and execs, while unshare(2) and mount(2) are denied. Also measures the
//! profile's filter length and its compile and cache-hit times (printed; see
//! docs/seccomp.md), since the runtime compiles before every container start.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rind::linux::seccomp::{
    Program, compile, compile_cached, default_profile, default_profile_for,
};

fn busybox() -> PathBuf {
    let fixtures = std::env::var_os("RIND_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs-fixtures/out"))
        });
    let busybox = fixtures.join("busybox/rootfs/bin/busybox");
    assert!(
        busybox.exists(),
        "{} is missing: run rootfs-fixtures/busybox-rootfs.sh",
        busybox.display()
    );
    busybox
}

/// Runs busybox with `args`, under `filter` when given (installed after no_new_privs, right
/// before exec).
fn run_busybox(filter: Option<&Program>, args: &[&str]) -> Output {
    let mut cmd = Command::new(busybox());
    cmd.args(args);
    if let Some(filter) = filter.cloned() {
        // SAFETY: the closure runs in the forked child before exec and only makes syscalls.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                filter.install().map(drop).map_err(std::io::Error::other)
            });
        }
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_lowercase()
}

#[test]
fn busybox_runs_a_forking_shell_under_the_default_profile() {
    let filter = compile(&default_profile()).unwrap();
    let out = run_busybox(
        Some(&filter),
        &["sh", "-c", "x=$(busybox echo ok); echo $x; busybox id -u"],
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n0\n");
}

#[test]
fn the_default_profile_denies_unshare_and_mount() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root to show the difference"
    );
    let filter = compile(&default_profile()).unwrap();

    // Without the filter, root may unshare; with it, unshare(2) fails with EPERM.
    let out = run_busybox(None, &["unshare", "-m", "true"]);
    assert!(out.status.success(), "control: {}", text(&out.stderr));
    let out = run_busybox(Some(&filter), &["unshare", "-m", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not permitted"),
        "{}",
        text(&out.stderr)
    );

    let target = std::env::temp_dir().join(format!("rind-seccomp-mnt-{}", std::process::id()));
    std::fs::create_dir_all(&target).unwrap();
    let target_str = target.to_str().unwrap();
    let out = run_busybox(Some(&filter), &["mount", "-t", "tmpfs", "none", target_str]);
    // Should the filter fail to deny it, do not leave the mount behind.
    let mounted = unsafe {
        let path = std::ffi::CString::new(target_str).unwrap();
        libc::umount2(path.as_ptr(), libc::MNT_DETACH) == 0
    };
    std::fs::remove_dir(&target).unwrap();
    assert!(!mounted, "mount went through the filter");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("permission denied") || stderr.contains("not permitted"),
        "{stderr}"
    );

    // With CAP_SYS_ADMIN the profile allows both.
    let admin = compile(&default_profile_for(&["CAP_SYS_ADMIN".into()])).unwrap();
    let out = run_busybox(Some(&admin), &["unshare", "-m", "true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
fn default_profile_filter_length_and_compile_and_cache_times() {
    let spec = default_profile();
    let runs = 200;
    let compile_time = median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                compile(&spec).unwrap();
                start.elapsed()
            })
            .collect(),
    );
    let dir = std::env::temp_dir().join(format!("rind-seccomp-bench-{}", std::process::id()));
    let start = Instant::now();
    let first = compile_cached(&spec, &dir).unwrap();
    let miss_time = start.elapsed();
    let hit_time = median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(compile_cached(&spec, &dir).unwrap(), first);
                start.elapsed()
            })
            .collect(),
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let native_only = {
        let mut s = spec.clone();
        s.set_architectures(None);
        compile(&s).unwrap().instructions().len()
    };
    let admin = compile(&default_profile_for(&["CAP_SYS_ADMIN".into()])).unwrap();
    eprintln!(
        "docker default profile, {} rules:",
        spec.syscalls().as_ref().unwrap().len()
    );
    eprintln!(
        "  filter, x86_64+x86+x32:   {} instructions",
        first.instructions().len()
    );
    eprintln!("  filter, x86_64 only:      {native_only} instructions");
    eprintln!(
        "  filter with CAP_SYS_ADMIN: {} instructions",
        admin.instructions().len()
    );
    eprintln!("  compile (median of {runs}):  {compile_time:?}");
    eprintln!("  cache miss (compile+write): {miss_time:?}");
    eprintln!("  cache hit (median of {runs}): {hit_time:?}");
    assert!(first.instructions().len() < 4096);
}
