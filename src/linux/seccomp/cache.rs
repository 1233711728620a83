//! Compiled filters cached on disk by the hash of their profile.
//!
//! The key is the SHA-256 of a version line plus the profile's JSON: for `create`, the text of
//! `linux.seccomp` exactly as config.json has it ([`compile_cached_text`]), so a hit needs no
//! parse of the profile at all; for a parsed profile ([`compile_cached`], `exec`), the JSON
//! serde writes for the `LinuxSeccomp` struct (fields in declaration order, so equal profiles
//! give equal bytes). A file is only ever stored after its profile parsed and compiled, so a
//! hit stands for a profile that passed every check a miss makes. The version line names the
//! generator's version and the build's architecture, so a rind with a different compiler never
//! reads another's filters. A file is written to a temporary name in the same directory and
//! renamed into place, so readers see a whole file or none. There is no fsync: a file cut
//! short by a crash fails its checksum and is compiled again.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use super::{Program, SeccompError, compile};
use crate::error::SysError;
use crate::sys::{Durability, write_atomic};

/// Bump when the generated code changes for the same profile.
const GENERATOR_VERSION: u32 = 1;

/// The cache file name for `spec`: 64 hex digits and `.bpf`.
pub fn cache_key(spec: &LinuxSeccomp) -> String {
    // Serializing plain structs, strings and numbers to a Vec cannot fail.
    key_of("", &serde_json::to_vec(spec).unwrap_or_default())
}

/// The cache file name for a profile given as its JSON text (the two kinds of key never meet:
/// the version line differs).
fn text_key(text: &[u8]) -> String {
    key_of(" text", text)
}

fn key_of(kind: &str, json: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(format!(
        "rind-seccomp generator {GENERATOR_VERSION} {}{kind}\n",
        std::env::consts::ARCH
    ));
    hash.update(json);
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.bpf")
}

/// Like [`compile`], but reuses the filter compiled earlier for an equal profile from
/// `cache_dir` (created with mode 0700 if missing) and stores new ones there.
///
/// A cache file that is damaged or from another format is compiled again and replaced.
/// A cache directory that cannot be written is not an error: the filter is returned all the
/// same, and the failure is logged as a warning (`crate::logging::warn`).
pub fn compile_cached(spec: &LinuxSeccomp, cache_dir: &Path) -> Result<Program, SeccompError> {
    through_cache(cache_dir, &cache_key(spec), || compile(spec))
}

/// [`compile_cached`] for a profile given as the JSON text config.json has for it (`create`):
/// the cache is keyed by that text, and `parse` is called only on a miss. `parse` must make
/// every check a parse of the whole config makes (`spec::SeccompText::parse`): what a miss
/// stores, a hit trusts.
pub fn compile_cached_text<E: From<SeccompError>>(
    text: &[u8],
    cache_dir: &Path,
    parse: impl FnOnce() -> Result<LinuxSeccomp, E>,
) -> Result<Program, E> {
    through_cache(cache_dir, &text_key(text), || Ok(compile(&parse()?)?))
}

/// The program stored under `key` in `cache_dir`, else `compile`'s, which is then stored.
fn through_cache<E: From<SeccompError>>(
    cache_dir: &Path,
    key: &str,
    compile: impl FnOnce() -> Result<Program, E>,
) -> Result<Program, E> {
    let path = cache_dir.join(key);
    match fs::read(&path) {
        Ok(bytes) => match Program::from_bytes(&bytes) {
            Ok(program) => return Ok(program),
            Err(e) => crate::logging::debug(|| format!("{}: {e}; compiling again", path.display())),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            let step = format!("read seccomp cache file {}", path.display());
            return Err(SeccompError::from(SysError::new(step, e)).into());
        }
    }
    let program = compile()?;
    if let Err(e) = store(cache_dir, &path, &program.to_bytes()) {
        crate::logging::warn(&format!("seccomp filter not cached: {e}"));
    }
    Ok(program)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn store(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SysError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            SysError::new(
                format!("create seccomp cache directory {}", dir.display()),
                e,
            )
        })?;
    // No sync: a file cut short by a crash fails its checksum and is compiled again.
    write_atomic(path, bytes, 0o600, Durability::Volatile)
}
