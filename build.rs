//! Build script: the commit rind is built from, for `rind --version` (RIND_COMMIT): `git
//! describe` of the checkout, or "unknown" when the source is not a git checkout.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RIND_COMMIT={commit}");
    // A new commit, a checkout or a change to the index (what --dirty reads) renames the build.
    // `--git-path` finds them in a worktree too, where .git is a file.
    for name in ["HEAD", "index", "logs/HEAD"] {
        let path = Command::new("git")
            .args(["rev-parse", "--git-path", name])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok());
        if let Some(path) = path.map(|p| p.trim().to_string())
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
