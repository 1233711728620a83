//! Where the targets that touch files do it: a private mount namespace in which the whole
//! host is read-only, with a size-limited tmpfs on `/tmp` as the only place to write (plus the
//! fuzz crate's directory, for libFuzzer's corpus and artifacts).
//!
//! A bug that lets a layer write outside its target therefore cannot damage the host: a write
//! to a host path fails with EROFS (which the layer target reports as a violation), and a write
//! anywhere else in `/tmp` lands next to the bait the layer target checks after every input.
//!
//! The remounts use `MS_BIND | MS_REMOUNT`, which changes only this namespace's copy of each
//! mount, never the filesystem under it.

use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The scratch root, a tmpfs private to this process.
pub const SCRATCH: &str = "/tmp";

/// The writable directories bound into the sandbox.
static HOLES: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Enters the sandbox (once per process) and returns the scratch root.
pub fn enter() -> &'static Path {
    HOLES.get_or_init(setup);
    Path::new(SCRATCH)
}

/// The names in the scratch root that lead to a writable directory of libFuzzer's (a corpus
/// under /tmp), which the targets' checks of the scratch root must leave out.
pub fn scratch_names_of_holes() -> Vec<std::ffi::OsString> {
    HOLES
        .get_or_init(setup)
        .iter()
        .filter_map(|h| {
            h.strip_prefix(SCRATCH)
                .ok()?
                .iter()
                .next()
                .map(|n| n.to_os_string())
        })
        .collect()
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("no NUL in a mount path")
}

fn check(what: &str, r: libc::c_int) {
    if r != 0 {
        panic!(
            "fuzz sandbox: {what}: {} (the file-touching targets run as root)",
            std::io::Error::last_os_error()
        );
    }
}

fn mount(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> libc::c_int {
    let src = src.map(|s| CString::new(s).unwrap());
    let fstype = fstype.map(|s| CString::new(s).unwrap());
    let data = data.map(|s| CString::new(s).unwrap());
    let target = cstr(target);
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string or null, alive for the call.
    unsafe {
        libc::mount(
            ptr(&src),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(n) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
        {
            out.push(n);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Mount points and their per-mount flags, from this namespace's mountinfo.
fn mounts() -> Vec<(PathBuf, libc::c_ulong)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    info.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let point = unescape(f.get(4)?);
            let mut flags = 0;
            for o in f.get(5)?.split(',') {
                flags |= match o {
                    "nosuid" => libc::MS_NOSUID,
                    "nodev" => libc::MS_NODEV,
                    "noexec" => libc::MS_NOEXEC,
                    "noatime" => libc::MS_NOATIME,
                    "nodiratime" => libc::MS_NODIRATIME,
                    "relatime" => libc::MS_RELATIME,
                    _ => 0,
                };
            }
            Some((point, flags))
        })
        .collect()
}

/// Directories libFuzzer uses: the fuzz crate (corpus, artifacts) and the directory of every
/// path on the command line (corpus directories, `-artifact_prefix=`, and in `-fork` mode the
/// `-seed_inputs=@FILE`, `-features_dir=` and `-stop_file=` a child gets in its parent's
/// temporary directory). Each is kept once, without those below another.
fn writable_holes() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    for arg in std::env::args().skip(1) {
        let value = match arg.split_once('=') {
            Some((flag, v)) if flag.starts_with('-') => v,
            Some(_) => continue,
            None if arg.starts_with('-') => continue,
            None => arg.as_str(),
        };
        let value = value.trim_start_matches('@');
        if value.is_empty() {
            continue;
        }
        let path = Path::new(value);
        let dir = if value.ends_with('/') || path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        if let Ok(p) = std::fs::canonicalize(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &dir
        }) && p.is_dir()
            && p != Path::new("/")
            && p != Path::new(SCRATCH)
        {
            found.push(p);
        }
    }
    found.sort();
    let mut holes: Vec<PathBuf> = Vec::new();
    for p in found {
        if !holes.iter().any(|h| p.starts_with(h)) {
            holes.push(p);
        }
    }
    holes
}

fn setup() -> Vec<PathBuf> {
    // SAFETY: plain syscalls without pointers.
    check("unshare(CLONE_NEWNS)", unsafe {
        libc::unshare(libc::CLONE_NEWNS)
    });
    check(
        "make / private",
        mount(
            None,
            Path::new("/"),
            None,
            libc::MS_REC | libc::MS_PRIVATE,
            None,
        ),
    );
    // The holes are held open across the remounts and the tmpfs mount, so that one under
    // /tmp (a corpus in a mktemp directory) is bound back into the tmpfs at its own path.
    let holes: Vec<(PathBuf, std::fs::File)> = writable_holes()
        .into_iter()
        .filter_map(|h| std::fs::File::open(&h).ok().map(|f| (h, f)))
        .collect();
    // Everything read-only, in this namespace only (MS_BIND makes the remount per mount).
    for (point, keep) in mounts() {
        let r = mount(
            None,
            &point,
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | keep,
            None,
        );
        if r != 0 && point == Path::new("/") {
            check("remount / read-only", r);
        }
    }
    check(
        "mount the scratch tmpfs",
        mount(
            Some("rind-fuzz"),
            Path::new(SCRATCH),
            Some("tmpfs"),
            libc::MS_NOSUID,
            Some("size=256m,mode=1777"),
        ),
    );
    for (hole, fd) in &holes {
        use std::os::fd::AsRawFd;
        if hole.starts_with(SCRATCH) {
            std::fs::create_dir_all(hole).expect("recreate a writable directory in the tmpfs");
        }
        let src = format!("/proc/self/fd/{}", fd.as_raw_fd());
        check(
            "bind a writable directory",
            mount(Some(&src), hole, None, libc::MS_BIND, None),
        );
        check(
            "make it writable",
            mount(None, hole, None, libc::MS_BIND | libc::MS_REMOUNT, None),
        );
    }
    // The proof that the host is out of reach.
    let probe = cstr(Path::new("/rind-fuzz-write-probe"));
    // SAFETY: a NUL-terminated path.
    let r = unsafe { libc::mkdir(probe.as_ptr(), 0o700) };
    let e = std::io::Error::last_os_error();
    assert!(
        r != 0 && e.raw_os_error() == Some(libc::EROFS),
        "fuzz sandbox: / is still writable ({e})"
    );
    holes.into_iter().map(|(h, _)| h).collect()
}
