//! Helpers shared by rind's fuzz targets (`fuzz_targets/`): the sandbox the file-touching
//! targets run in, snapshots of directory trees, multi-document inputs, and a model of what a
//! seccomp profile means.

pub mod parts;
pub mod sandbox;
pub mod seccomp_model;
pub mod tree;

use oci_spec::runtime::LinuxSeccomp;
use rind::linux::seccomp::fuzzing::{check, run};
use rind::linux::seccomp::{Program, SeccompError, compile};

/// At most this many filter runs per input, so that one input stays fast.
const MAX_PROBES: usize = 4000;

/// Compiles `profile` and checks the result against [`seccomp_model`]: rind refuses exactly
/// the profiles the model refuses (or a filter too long for the kernel), the filter passes the
/// kernel's load checks, returns what the model says for every probe, asks for a listener
/// exactly when a NOTIFY rule exists, and survives its cache form.
pub fn check_seccomp(profile: &LinuxSeccomp, noise: &mut impl FnMut() -> u64) {
    let model = seccomp_model::model(profile);
    let program = compile(profile);
    let (m, program) = match (model, program) {
        (Err(why), Ok(_)) => panic!("compiled a profile that must be refused ({why})"),
        (Ok(_), Err(SeccompError::TooLong(_))) | (Err(_), Err(_)) => return,
        (Ok(_), Err(e)) => panic!("refused a valid profile: {e}"),
        (Ok(m), Ok(p)) => (m, p),
    };
    if let Err(e) = check(program.instructions()) {
        panic!("the kernel would refuse the filter: {e}");
    }
    assert_eq!(program.has_listener(), m.notifies, "listener flag");
    for d in &m.probes(noise, MAX_PROBES) {
        let (got, want) = (run(program.instructions(), d), m.expected(d));
        assert_eq!(
            got, want,
            "filter returns {got:#x}, the profile means {want:#x}, for {d:?}"
        );
    }
    let back = Program::from_bytes(&program.to_bytes()).expect("the cache form reads back");
    assert_eq!(back, program, "the cache form changes the filter");
}

/// A small deterministic generator fed by the input, for argument noise.
pub fn noise_from(seed: &[u8]) -> impl FnMut() -> u64 {
    let mut s = seed.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Rewrites the header checksums of an uncompressed tar stream, so that the fuzzer's changes
/// to a header reach the unpacker instead of failing the checksum (which protects nothing: a
/// hostile layer's author computes it). Headers are found by walking the size fields; a
/// stream that starts with a compression magic is left alone.
pub fn fix_tar_checksums(data: &mut [u8]) {
    if data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return;
    }
    let mut off = 0usize;
    while off + 512 <= data.len() {
        let h = &mut data[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            off += 512;
            continue;
        }
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let size = tar_size(&h[124..136]).unwrap_or(0);
        let blocks = size.div_ceil(512);
        off = off
            .saturating_add(512)
            .saturating_add(blocks.saturating_mul(512) as usize);
    }
}

/// A tar size field: octal digits, or base-256 when the high bit of the first byte is set.
fn tar_size(f: &[u8]) -> Option<u64> {
    if f[0] & 0x80 != 0 {
        return f[1..].iter().try_fold(u64::from(f[0] & 0x7f), |acc, &b| {
            acc.checked_mul(256).map(|a| a | u64::from(b))
        });
    }
    let s = std::str::from_utf8(f).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(s, 8).ok()
}
