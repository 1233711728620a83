#!/bin/sh
# The OCI runtime spec's own validation suite (opencontainers/runtime-tools, validation/)
# against runc and rind in the same run, compared per assertion.
#
#   scripts/conformance.sh                  every program (58), runc then rind for each
#   scripts/conformance.sh PROGRAM...       only these (names of validation/ folders)
#   scripts/conformance.sh --vm [PROGRAM...]  the same inside the pure cgroup v2 VM
#                                           (scripts/vm-test.sh --run); by default every program
#                                           but the linux_cgroups_* ones, which read cgroup v1 only
#
# Ends with `conformance: N passed, M failed`: N assertions pass with rind, M pass with runc and
# fail with rind (the target is M = 0). Above it: each assertion where the two differ, and
# both runtimes' totals. How it runs and scores: scripts/conformance/suite.sh. What it found:
# docs/compatibility.md.
#
# Environment:
#   RIND_CONFORMANCE_DIR   where runtime-tools-5e639034.tar.gz is (default: ../shared/conformance
#                          beside the checkout's top directory)
#   CONFORMANCE_TIMEOUT    seconds per program and runtime (120)
#   CONFORMANCE_KEEP=1     keep the work directory (outputs, calls, scores) and say where
#   RIND, RUNC             the binaries (default: target/release/rind, built here; runc on PATH)
#
# Installs what it needs (Go 1.23 through scripts/install-go.sh, make and runc from Debian) and
# builds the suite offline from its vendored modules into target/conformance (about 55 s, once).
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
[ "$(id -u)" = 0 ] || { echo "conformance: run as root" >&2; exit 1; }
t_start=$(date +%s)
vm=0
if [ "${1:-}" = --vm ]; then
    vm=1
    shift
fi

snapshot=runtime-tools-5e639034
top=$(git rev-parse --show-toplevel 2>/dev/null || echo "$repo")
dir=$("$repo/scripts/conformance-dir.sh")
tarball=$dir/$snapshot.tar.gz
if [ ! -f "$tarball" ]; then
    echo "conformance: $tarball not found; set RIND_CONFORMANCE_DIR to the directory that holds $snapshot.tar.gz" >&2
    exit 1
fi

need=""
for pkg in make runc util-linux tar gzip; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "installing:$need" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
go=$(scripts/install-go.sh)

# The suite, built once per snapshot and Go version.
suite=$repo/target/conformance/$snapshot
stamp="$(sha256sum "$tarball" | cut -d' ' -f1) $("$go" version)"
if [ "$(cat "$suite/.built" 2>/dev/null)" != "$stamp" ]; then
    echo "conformance: building $snapshot" >&2
    rm -rf "$suite"
    mkdir -p "$suite"
    tar -xzf "$tarball" -C "$suite" --strip-components=1
    t=$(date +%s)
    (
        cd "$suite"
        PATH=$(dirname "$go"):$PATH GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
            make runtimetest validation-executables >build.log 2>&1
    ) || { tail -n 20 "$suite/build.log" >&2; echo "conformance: the build failed" >&2; exit 1; }
    echo "$stamp" >"$suite/.built"
    echo "conformance: built in $(($(date +%s) - t)) s" >&2
fi

# The root filesystem the programs unpack for each container (rootfs-$GOARCH.tar.gz in the
# working directory): the busybox fixture, instead of the snapshot's 2018 busybox.
rootfs-fixtures/busybox-rootfs.sh
fixture=rootfs-fixtures/out/busybox/rootfs
tar -C "$fixture" --exclude ./.complete -czf "$suite/rootfs-amd64.tar.gz" .

RUNC=${RUNC:-$(command -v runc)}
[ "$vm" = 0 ] || exec scripts/conformance/vm.sh "$suite" "$RUNC" "$@"
if [ -z "${RIND:-}" ]; then
    cargo build --release --locked
    RIND=$repo/target/release/rind
fi

# The programs use fixed cgroup paths: one run at a time on a machine.
exec 9>/run/rind-conformance.lock
flock -n 9 || { echo "conformance: waiting for another run on this machine" >&2; flock 9; }

work=$(mktemp -d /tmp/rind-conformance.XXXXXX)
[ "${CONFORMANCE_KEEP:-}" = 1 ] && echo "conformance: outputs are kept in $work/out" >&2
rc=0
CONFORMANCE_T0=$t_start scripts/conformance/suite.sh "$suite" "$work" runc="$RUNC" rind="$RIND" -- "$@" || rc=$?
[ "${CONFORMANCE_KEEP:-}" = 1 ] || rm -rf --one-file-system "$work"
exit "$rc"
