#!/usr/bin/env python3
"""Checks that what the documentation cites exists: files, Rust items, test names and rind's
command line.

    scripts/check-docs.py [-v]

Reads README.md, docs/*.md and the doc comments (`//!`, `///`) under src/ and tests/. Four kinds
of citation, each back-quoted:

- a file: a Markdown link's target, or a word that ends in a source or script suffix (`.rs`,
  `.sh`, `.md`, `.py`, `.toml`, `.s`, `.txt`) or starts with one of the repository's top
  folders (`src/`, `scripts/`, `tests/`, `docs/`, `rootfs-fixtures/`, `fuzz/`, `.ci/`). It
  exists when a tracked file or folder has that path, from the repository's root, from `src/`,
  from the citing file's folder, or as the end of a longer path (`v1/plan.rs` names
  `src/cgroups/v1/plan.rs`).
- a Rust item: `a::b::c` (with or without a trailing `()`). Its leading segments must name a
  module (a file or folder under src/ or tests/, the path read from its end, so that
  `rootfs::prepare` names `linux::rootfs`) and the next one an item that module defines or
  re-exports (fn, struct, enum, trait, type, const, static, mod, macro); a segment after a type
  must be a method, constant or variant defined beside it or in an `impl` of it. `Type::member`
  without a module works the same way. A name that stands verbatim in a source file or script
  (`guest::veth_pair` in scripts/vm/smoke.sh) is found too.
- a test name: a lone snake_case word of four or more parts on a line that speaks of a test
  (the word "test" or "tests", or a path under tests/). It must be a function in src/ or
  tests/; when the same line cites a test file (`tests/cve/cve_2019_5736.rs`), a function of
  that file.
- rind's command line: a back-quoted `rind ...`, or a line of a fenced code block that starts
  with `rind ` (after an optional `$ ` or `sudo `). The verb (and `image`'s subcommand) must be
  one `rind --help` lists, and every flag before the command's second operand one that the
  verb's `--help` lists (or a global one). `|` separates alternatives, `[...]` optional parts;
  placeholders (`ID`, `<verb>`, `...`) are not checked. The binary is target/release/rind
  (`RIND_BIN` overrides it), built first with cargo when it is older than a file under src/.

Not checked: absolute paths (they name the host's or the container's files), build output
(`target/...`), words with placeholders (`<id>`, `*`, `...`, `N`), and a citation marked
external by a "(external)" right after it, by another project's name right before it
("image-spec `layer.md`", "runc's `sync.go`", "the kernel's `cgroup_procs_write_start`"), or by
a `.go`/`.c` suffix.

Before the documents, the check runs on planted citations (a missing file, flag, verb, test,
function, module and method) and on true ones: each planted one must fail and each true one
pass, or the check itself counts as a failure.

Ends with "docs: N passed, M failed" (N citations that resolve, M that do not), the form
scripts/test.sh counts, and exits 1 when M > 0.
"""

import os
import re
import shlex
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
    r"conmon's|umoci's|kernel's|kernel|qemu's|libseccomp's|systemd's|critest's|"
    r"runtime-tools'|validation suite's|bats|clap's|clap_builder's)\s*$"
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


# ---- Rust items ----

EXTERNAL_CRATES = {
    "std", "core", "alloc", "nix", "libc", "oci_spec", "serde", "serde_json", "anyhow",
    "thiserror", "clap", "caps", "tar", "flate2", "zstd", "sha2", "ureq", "indicatif",
    "tempfile", "humantime", "serde_ignored", "libfuzzer_sys", "arbitrary",
}
ITEM_DEF = re.compile(
    r"\b(?:fn|struct|enum|trait|type|const|static|mod|union)\s+(r#)?([A-Za-z_][A-Za-z0-9_]*)"
    r"|\bmacro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)"
)
# An enum variant or a field: a capitalised or lower-case word that starts a line and is
# followed by `(`, `{`, `,` or `:` (good enough to find `Manager::User` or `Prepared::finish`).
MEMBER = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[({,:=]", re.M)
PUB_USE = re.compile(r"\bpub(?:\([a-z]+\))?\s+use\s+([^;]+);", re.S)
IMPL = re.compile(r"\bimpl\b[^{;]*?\b(?:for\s+)?([A-Z][A-Za-z0-9_]*)\b(?:<[^{]*>)?\s*(?:where[^{]*)?\{")

_rust = None


def rust_index():
    """Module path -> files; file -> defined names, re-exported names; type -> files."""
    global _rust
    if _rust is not None:
        return _rust
    modules = {}  # tuple(path) -> set(files)
    defs = {}  # file -> set(names)
    exported = {}  # file -> set(names)
    members = {}  # file -> set(names)
    impls = {}  # type name -> set(files)
    texts = {}
    for f in TRACKED:
        if not f.endswith(".rs") or not f.startswith(("src/", "tests/", "fuzz/")):
            continue
        parts = list(module_of(f.split("/", 1)[1] if f.startswith("fuzz/") else f))
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        texts[f] = text
        modules.setdefault(tuple(parts), set()).add(f)
        names = set()
        for m in ITEM_DEF.finditer(text):
            name = m.group(2) or m.group(3)
            names.add(name)
            # An inline `mod name {` is a module of this file too.
            if m.group(0).startswith("mod ") and re.match(r"mod\s+\w+\s*\{", text[m.start():]):
                modules.setdefault(tuple(parts) + (name,), set()).add(f)
        defs[f] = names
        exported[f] = set()
        for m in PUB_USE.finditer(text):
            exported[f].update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1)))
        members[f] = set(MEMBER.findall(text))
        for m in IMPL.finditer(text):
            impls.setdefault(m.group(1), set()).add(f)
    _rust = (modules, defs, exported, members, impls, texts)
    return _rust


def module_files(suffix):
    """The files of every module whose path ends with `suffix`, and of their submodules."""
    modules = rust_index()[0]
    n = len(suffix)
    out = set()
    for path, files in modules.items():
        for i in range(len(path) - n + 1):
            if path[i:i + n] == suffix:
                out.update(files)
    return out


def own_files(suffix):
    """The files of the modules whose path ends with `suffix` (not their submodules)."""
    modules = rust_index()[0]
    n = len(suffix)
    return {f for path, files in modules.items() if path[-n:] == suffix for f in files} if n else set()


def member_of(type_files, typ, member):
    _, defs, _, members, impls, _ = rust_index()
    files = set(type_files) | impls.get(typ, set())
    return any(member in defs[f] or member in members[f] for f in files)


def module_of(path):
    """The module path of a Rust file (`src/linux/rootfs.rs` -> ("linux", "rootfs"))."""
    parts = path.split("/")[1:]
    parts[-1] = parts[-1][:-3]
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def rust_item_exists(name, citing):
    segs = name.rstrip("()").split("::")
    modules, defs, exported, members, impls, texts = rust_index()
    # `self::x` and `super::x` are read from the citing file's module.
    if segs[0] in ("self", "super") and citing.endswith(".rs"):
        here = module_of(citing)
        while segs and segs[0] in ("self", "super"):
            if segs[0] == "super":
                here = here[:-1]
            segs = segs[1:]
        files = modules.get(here, set())
        if len(segs) == 1:
            return any(segs[0] in defs[f] or segs[0] in exported[f] for f in files)
        segs = list(here) + segs
    while segs and segs[0] in ("crate", "rind"):
        segs = segs[1:]
    if not segs or segs[0] in EXTERNAL_CRATES:
        return True
    # Verbatim in code (not in a comment, where the citation itself may stand).
    if any(name.rstrip("()") in t for t in code_texts()) or any(
        name.rstrip("()") in t for t in script_texts()
    ):
        return True
    # A module path, possibly with an item (and a member of that item) after it.
    for k in range(len(segs), 0, -1):
        mod_suffix = tuple(segs[:k])
        rest = segs[k:]
        if not own_files(mod_suffix):
            continue
        if not rest:
            return True
        files = module_files(mod_suffix)
        item_files = [f for f in files if rest[0] in defs[f] or rest[0] in exported[f]]
        if not item_files:
            continue
        if len(rest) == 1:
            return True
        if len(rest) == 2:
            # The item may be re-exported: look where it is defined too.
            where = [f for f in defs if rest[0] in defs[f]]
            if member_of(where, rest[0], rest[1]):
                return True
    # Type::member with no module.
    if len(segs) == 2:
        where = [f for f in defs if segs[0] in defs[f]]
        if where and member_of(where, segs[0], segs[1]):
            return True
    return False


_code = None


def code_texts():
    """Each Rust file's text without its comment lines."""
    global _code
    if _code is None:
        _code = [
            "\n".join(l for l in t.splitlines() if not l.lstrip().startswith("//"))
            for t in rust_index()[5].values()
        ]
    return _code


_scripts = None


def script_texts():
    global _scripts
    if _scripts is None:
        _scripts = []
        for f in TRACKED:
            # Not this script: the self-test's planted names stand in it.
            if f.startswith("scripts/") and os.path.isfile(f) and f != "scripts/check-docs.py":
                with open(f, encoding="utf-8", errors="replace") as fh:
                    _scripts.append(fh.read())
    return _scripts


# ---- test names ----

TEST_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+){3,}$")
# A line that speaks of tests: a snake_case word there is read as a test's name.
TEST_CONTEXT = re.compile(r"\btests?\b|tests/", re.I)
CITED_TEST_FILE = re.compile(r"`(tests/[A-Za-z0-9_/]+\.rs)`")
FN_DEF = re.compile(r"\bfn\s+([a-z_][a-z0-9_]*)")


def test_name_exists(word, line):
    _, _, _, _, _, texts = rust_index()
    files = [f for f in CITED_TEST_FILE.findall(line) if f in texts]
    if not files:
        files = list(texts)
    return any(word in FN_DEF.findall(texts[f]) for f in files)


# ---- rind's command line ----

HELP_OPTION = re.compile(r"^\s+(?:(-[A-Za-z]), )?(--[a-z][a-z0-9-]*)(?: <[^>]+>)?", re.M)
HELP_VALUE = re.compile(r"^\s+(?:-[A-Za-z], )?(--[a-z][a-z0-9-]*) <[^>]+>", re.M)
HELP_SHORT_VALUE = re.compile(r"^\s+(-[A-Za-z]), --[a-z][a-z0-9-]* <[^>]+>", re.M)
HELP_COMMAND = re.compile(r"^  ([a-z][a-z0-9-]*)\s+.*?(?:\[aliases?: ([a-z, -]+)\])?$", re.M)

_cli = None


def rind_binary():
    binary = os.environ.get("RIND_BIN", "target/release/rind")
    if "RIND_BIN" in os.environ:
        return binary
    newest = max(
        os.path.getmtime(f) for f in TRACKED
        if (f.startswith("src/") or f in ("Cargo.toml", "Cargo.lock", "build.rs")) and os.path.exists(f)
    )
    if not os.path.exists(binary) or os.path.getmtime(binary) < newest:
        print("docs: building target/release/rind to read its --help", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "rind", "-q"], check=True)
    return binary


def help_of(binary, args):
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"docs: `rind {' '.join(args)} --help` failed: {out.stderr.strip()}")
    return out.stdout


def parse_help(text):
    """(commands with their aliases, options, options that take a value)."""
    commands = {}
    if "\nCommands:\n" in text:
        block = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
        for m in HELP_COMMAND.finditer(block):
            if m.group(1) == "help":
                continue
            commands[m.group(1)] = m.group(1)
            for a in (m.group(2) or "").split(","):
                if a.strip():
                    commands[a.strip()] = m.group(1)
    options = {"--help", "-h"}
    takes_value = set()
    for m in HELP_OPTION.finditer(text):
        options.add(m.group(2))
        if m.group(1):
            options.add(m.group(1))
    takes_value.update(HELP_VALUE.findall(text))
    takes_value.update(HELP_SHORT_VALUE.findall(text))
    return commands, options, takes_value


def cli():
    """{(verb,) or (verb, sub): (options, options taking a value)}, plus the top level at ()."""
    global _cli
    if _cli is None:
        binary = rind_binary()
        top_cmds, top_opts, top_vals = parse_help(help_of(binary, []))
        top_opts |= {"--version", "-V"}
        table = {(): (top_cmds, top_opts, top_vals)}
        for alias, verb in top_cmds.items():
            if alias != verb:
                continue
            cmds, opts, vals = parse_help(help_of(binary, [verb]))
            table[(verb,)] = (cmds, opts, vals)
            for sub_alias, sub in cmds.items():
                if sub_alias == sub:
                    table[(verb, sub)] = parse_help(help_of(binary, [verb, sub]))
        _cli = table
    return _cli


CLI_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_:\[\]=.-]*$|[<>]|\.\.\.|^\$|\*")


def cli_problem(text):
    """None when the `rind ...` command line is one rind takes, else what is wrong."""
    text = text.replace("\\|", "|")
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        words = text.split()
    if not words or words[0] != "rind":
        return None
    # Optional parts are checked as if given; a `[` `]` around a word is only punctuation.
    words = [w.strip("[]") for w in words[1:]]
    words = [w for w in words if w]
    table = cli()
    cmds, opts, vals = table[()]
    path = ()
    operands = 0
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "--" or w in ("|", ";", "&&", ">", "2>", "2>&1"):
            break
        if CLI_PLACEHOLDER.search(w):
            if not w.startswith("-"):
                operands += 1
                if path and operands >= 2:
                    break
            continue
        if w.startswith("-"):
            flag = w.split("=", 1)[0]
            # "--format/-f" and "--detach/-d" cite a long flag and its short form.
            for f in flag.split("/"):
                if f and f not in opts:
                    where = "rind " + " ".join(path) if path else "rind"
                    return f"`{where}` has no flag {f}"
            if flag.split("/")[0] in vals and "=" not in w:
                i += 1
            continue
        if path == () or (len(path) == 1 and table.get(path, ({},))[0]):
            alts = w.split("|")
            known = [a for a in alts if a in cmds]
            if len(known) != len(alts):
                bad = [a for a in alts if a not in cmds]
                where = "rind " + " ".join(path) if path else "rind"
                return f"`{where}` has no command {bad[0]}"
            verb = cmds[alts[0]]
            path = path + (verb,)
            if path not in table:
                return None
            cmds, opts, vals = table[path]
            # Global flags come with every verb.
            opts = opts | table[()][1]
            vals = vals | table[()][2]
            if len(alts) > 1:
                return None
            continue
        operands += 1
        if operands >= 2:
            break
    return None


FENCED_RIND = re.compile(r"^\s*(?:\$\s+)?(?:sudo\s+)?(rind\s.*)$")


def looks_like_file(word):
    if word.startswith(("/", "target/", "rootfs-fixtures/out")) or " " in word:
        return False
    if word.endswith(EXTERNAL_SUFFIXES) or PLACEHOLDER.search(word):
        return False
    if "://" in word or word.startswith("-"):
        return False
    return word.endswith(FILE_SUFFIXES) or word.startswith(TOP_FOLDERS)


def citations(path, text):
    """(line number, kind, word, line) for each citation in a file's documentation text."""
    is_rust = path.endswith(".rs")
    fenced = False
    for n, line in enumerate(text.splitlines(), 1):
        if is_rust:
            stripped = line.lstrip()
            if not (stripped.startswith("//!") or stripped.startswith("///")):
                continue
            line = stripped[3:]
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            m = FENCED_RIND.match(line)
            if m:
                yield n, "cli", m.group(1).split("  #")[0].strip(), line
            continue
        for m in BACKQUOTED.finditer(line):
            if line[m.end():].lstrip().startswith("(external)") or OTHER_PROJECT.search(
                line[: m.start()]
            ):
                continue
            word = m.group(1).strip()
            if RUST_NAME.match(word):
                yield n, "name", word, line
            elif TEST_NAME.match(word) and TEST_CONTEXT.search(line):
                yield n, "test", word, line
            elif word.startswith("rind ") and not is_rust:
                yield n, "cli", word, line
            else:
                for w in expand_braces(word):
                    if looks_like_file(w):
                        yield n, "file", w, line
        if not is_rust:
            for m in LINK.finditer(line):
                target = m.group(1).split("#")[0]
                if target and "://" not in target and not target.startswith("mailto:"):
                    yield n, "file", target, line


# The check checks itself first: each planted citation must fail and each true one pass, so a
# change that made the check blind would fail the run.
SELF_TEST_BAD = """\
`scripts/no-such-script.sh` and [a link](no/such/file.md)
`rind run --no-such-flag ID` and `rind frobnicate ID` and `rind image pull --quietly REF`
the test `tests/errors.rs`: `a_test_that_was_renamed_long_ago`
`spec::no_such_function`, `linux::nosuchmodule::prepare`, `RootDir::no_such_method`
```sh
rind list --no-such-flag
```
"""
SELF_TEST_GOOD = """\
`scripts/test.sh` and [a link](docs/security.md)
`rind run --image REF --rm -- true` and `rind --root DIR list -q` and `rind image pull -q REF`
the test `tests/errors.rs`: `a_missing_config_json_is_named`
`spec::parse_config`, `linux::rootfs::prepare`, `RootDir::create`, `container::id::validate`
```sh
rind list --format json
```
"""


def check(doc, text, citing_dir):
    """(citation, problem or None) for each citation in `text`."""
    for n, kind, word, line in citations(doc, text):
        problem = None
        if kind == "file":
            if not exists(word, citing_dir):
                problem = "no such file or folder"
        elif kind == "name":
            if not rust_item_exists(word, doc):
                problem = "no such module or item in src/ or tests/"
        elif kind == "test":
            if not test_name_exists(word, line):
                files = CITED_TEST_FILE.findall(line)
                problem = f"no such test in {', '.join(files)}" if files else "no such function in src/ or tests/"
        elif kind == "cli":
            problem = cli_problem(word)
        yield n, word, problem


def self_test():
    """What is wrong with the check itself, if anything."""
    wrong = []
    # Every citation planted there is false but the test file the test name is looked up in.
    bad = [c for c in check("README.md", SELF_TEST_BAD, "") if c[1] != "tests/errors.rs"]
    if len(bad) != 10:
        wrong.append(f"found {len(bad)} of the 10 planted bad citations")
    wrong += [f"planted `{w}` passed" for _, w, problem in bad if problem is None]
    good = list(check("README.md", SELF_TEST_GOOD, ""))
    if len(good) != 12:
        wrong.append(f"found {len(good)} of the 12 true citations")
    wrong += [f"true `{w}` failed: {problem}" for _, w, problem in good if problem is not None]
    return wrong


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
        for n, word, problem in check(doc, text, citing_dir):
            if problem is None:
                passed += 1
                if verbose:
                    print(f"ok    {doc}:{n}: {word}")
            else:
                failed += 1
                print(f"docs: {doc}:{n}: `{word}`: {problem}")
    for problem in self_test():
        failed += 1
        print(f"docs: the check's self-test: {problem}")
    print(f"docs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
