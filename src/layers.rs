//! Which module may import which: the layers of docs/architecture.md, checked.
//!
//! A module may name (through a `crate::` path) a module on its own line of [`LAYERS`] or on a lower one,
//! never one above it, so that every arrow points down and a module can be read, tested and
//! changed knowing only what lies below it. The test walks `src/` and fails on an upward
//! import, naming the file and line.

/// rind's top-level modules, lowest first.
pub const LAYERS: &[&[&str]] = &[
    &["error"],
    &["logging", "sys"],
    &["cgroups"],
    &["linux"],
    &["spec"],
    &["image"],
    &["rootless"],
    &["process"],
    &["container"],
    &["shell"],
    &["cli", "commands"],
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn rank(module: &str) -> Option<usize> {
        LAYERS.iter().position(|line| line.contains(&module))
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The top-level modules `text` names after `crate::`, with their line numbers: `crate::a`,
    /// and each item of `crate::{a::b, c}`. Comment lines are skipped.
    fn imports(text: &str) -> Vec<(usize, String)> {
        let mut code = String::new();
        let mut line_of = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            code.push_str(line);
            code.push('\n');
            line_of.extend(std::iter::repeat_n(n + 1, line.len() + 1));
        }
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let mut out = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if c.is_whitespace() => {}
                        _ if start => {
                            out.push((line_of[at], ident(&group[i..])));
                            start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                out.push((line_of[at], ident(rest)));
            }
        }
        out
    }

    #[test]
    fn every_import_points_down() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        // The VM guest runs the compiled tests without the checkout; the host suite checks.
        if !src.is_dir()
            && crate::sys::skipped_in_vm_guest(
                "layers::tests::every_import_points_down",
                "the source tree is not in the VM guest",
            )
        {
            return;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut upward = Vec::new();
        for file in &files {
            let rel = file.strip_prefix(&src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let from = first.trim_end_matches(".rs").to_string();
            if matches!(from.as_str(), "lib" | "main" | "layers") {
                continue;
            }
            let from_rank =
                rank(&from).unwrap_or_else(|| panic!("src/{from}: a module missing from LAYERS"));
            for (line, to) in imports(&std::fs::read_to_string(file).unwrap()) {
                let to_rank = rank(&to).unwrap_or_else(|| {
                    panic!("{}:{line}: crate::{to} is not in LAYERS", rel.display())
                });
                if to_rank > from_rank {
                    upward.push(format!("src/{}:{line}: {from} imports {to}", rel.display()));
                }
            }
        }
        assert!(
            upward.is_empty(),
            "imports that point up:\n{}",
            upward.join("\n")
        );
    }

    #[test]
    fn grouped_and_nested_imports_are_all_seen() {
        let text = concat!(
            "use crate::{logging, spec::{self, x}};\n",
            "// crate::shell\n",
            "let a = crate::cli::Cli;\n",
            "use crate::{\n    image,\n};\n",
        );
        let got: Vec<(usize, String)> = imports(text);
        let want = [(1, "logging"), (1, "spec"), (3, "cli"), (4, "image")];
        assert_eq!(got, want.map(|(n, m)| (n, m.to_string())).to_vec());
    }
}
