#!/usr/bin/env python3
"""Checks that what the documentation cites exists: files of the repository and Rust names.

    scripts/check-docs.py [-v]

Reads README.md, docs/*.md and the doc comments (`//!`, `///`) under src/ and tests/. A cited
file is a Markdown link's target, or a back-quoted word that ends in a source or script suffix
(`.rs`, `.sh`, `.md`, `.py`, `.toml`, `.s`, `.txt`) or starts with one of the repository's top
folders (`src/`, `scripts/`, `tests/`, `docs/`, `rootfs-fixtures/`, `fuzz/`, `.ci/`). It exists
when a tracked file or folder has that path, from the repository's root, from `src/`, from the
citing file's folder, or as the end of a longer path (`v1/plan.rs` names
`src/cgroups/v1/plan.rs`). A cited Rust name is a back-quoted `a::b::c` (with or without a
trailing `()`): every segment must be a word somewhere in src/, tests/ or a script under scripts/.

Not checked: absolute paths (they name the host's or the container's files), build output
(`target/...`), words with placeholders (`<id>`, `*`, `...`, `N`), and a citation marked
external by a "(external)" right after it, by another project's name right before it
("image-spec `layer.md`", "runc's `sync.go`"), or by a `.go`/`.c` suffix.

Ends with "docs: N passed, M failed" (N citations that resolve, M that do not), the form
scripts/test.sh counts, and exits 1 when M > 0.
"""

import os
import re
import subprocess
import sys

ROOT = subprocess.run(
    ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
).stdout.strip()
os.chdir(ROOT)

TRACKED = subprocess.run(
    ["git", "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True, check=True
).stdout.split()
FILES = set(TRACKED)
DIRS = set()
for f in TRACKED:
    parts = f.split("/")
    for i in range(1, len(parts)):
        DIRS.add("/".join(parts[:i]))

FILE_SUFFIXES = (".rs", ".sh", ".md", ".py", ".toml", ".s", ".txt")
TOP_FOLDERS = ("src/", "scripts/", "tests/", "docs/", "rootfs-fixtures/", "fuzz/", ".ci/")
EXTERNAL_SUFFIXES = (".go", ".c", ".h", ".bats")
PLACEHOLDER = re.compile(r"[<>*]|\.\.\.|\bN\b|\$")

BACKQUOTED = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A citation right after another project's name is that project's file ("image-spec `layer.md`").
OTHER_PROJECT = re.compile(
    r"\b(image-spec|runtime-spec|runc's|crun's|youki's|containerd's|podman's|docker's|"
    r"conmon's|umoci's|kernel's)\s*$"
)
RUST_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)+(\(\))?$")


def exists(path, citing_dir):
    path = path.rstrip("/")
    if not path:
        return True
    for base in ("", "src/", citing_dir + "/" if citing_dir else ""):
        p = os.path.normpath(base + path)
        if p in FILES or p in DIRS:
            return True
    tail = "/" + path
    return any(f.endswith(tail) for f in FILES) or any(d.endswith(tail) for d in DIRS)


def expand_braces(word):
    m = re.search(r"\{([^{}]*)\}", word)
    if not m:
        return [word]
    out = []
    for alt in m.group(1).split(","):
        out.extend(expand_braces(word[: m.start()] + alt + word[m.end():]))
    return out


_words = None


def source_words():
    global _words
    if _words is None:
        _words = set()
        for f in TRACKED:
            if f.startswith(("src/", "tests/", "scripts/")) and f.endswith((".rs", ".sh")):
                with open(f, encoding="utf-8", errors="replace") as fh:
                    _words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", fh.read()))
                # A module is also named by its file or folder.
                _words.add(os.path.basename(f).rsplit(".", 1)[0])
                _words.update(f.split("/")[:-1])
    return _words


def looks_like_file(word):
    if word.startswith(("/", "target/", "rootfs-fixtures/out")) or " " in word:
        return False
    if word.endswith(EXTERNAL_SUFFIXES) or PLACEHOLDER.search(word):
        return False
    if "://" in word or word.startswith("-"):
        return False
    return word.endswith(FILE_SUFFIXES) or word.startswith(TOP_FOLDERS)


def citations(path, text):
    """(line number, kind, word) for each citation in a file's documentation text."""
    is_rust = path.endswith(".rs")
    for n, line in enumerate(text.splitlines(), 1):
        if is_rust:
            stripped = line.lstrip()
            if not (stripped.startswith("//!") or stripped.startswith("///")):
                continue
        for m in BACKQUOTED.finditer(line):
            if line[m.end():].lstrip().startswith("(external)") or OTHER_PROJECT.search(
                line[: m.start()]
            ):
                continue
            word = m.group(1).strip()
            if RUST_NAME.match(word):
                yield n, "name", word
            else:
                for w in expand_braces(word):
                    if looks_like_file(w):
                        yield n, "file", w
        if not is_rust:
            for m in LINK.finditer(line):
                target = m.group(1).split("#")[0]
                if target and "://" not in target and not target.startswith("mailto:"):
                    yield n, "file", target


def main():
    verbose = "-v" in sys.argv[1:]
    docs = ["README.md"] + sorted(f for f in TRACKED if f.startswith("docs/") and f.endswith(".md"))
    docs += sorted(f for f in TRACKED if f.startswith(("src/", "tests/")) and f.endswith(".rs"))
    passed = failed = 0
    for doc in docs:
        if not os.path.exists(doc):
            continue
        with open(doc, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        citing_dir = os.path.dirname(doc)
        for n, kind, word in citations(doc, text):
            if kind == "file":
                ok = exists(word, citing_dir)
            else:
                ok = all(seg in source_words() for seg in word.rstrip("()").split("::"))
            if ok:
                passed += 1
                if verbose:
                    print(f"ok    {doc}:{n}: {word}")
            else:
                failed += 1
                what = "no such file or folder" if kind == "file" else "no such name in src/, tests/ or scripts/"
                print(f"docs: {doc}:{n}: `{word}`: {what}")
    print(f"docs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
