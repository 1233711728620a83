#!/bin/sh
# Runs rind's whole test suite as root: unit tests, then the privileged integration tests that
# drive the release binary on this host.
#
#   scripts/test.sh            everything
#   scripts/test.sh host       only the host suite
#   scripts/test.sh vm         only the VM suite (scripts/vm-test.sh: a pure cgroup v2 guest)
#
# Installs what it needs (Debian packages, fixtures) first. Ends with cargo's summary lines and
# a final "N passed, M failed" line for the whole run.
set -eu
cd "$(dirname "$0")/.."

what=${1:-all}
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (the tests create namespaces, mounts and cgroups)" >&2; exit 1; }

scripts/install-deps.sh
rootfs-fixtures/busybox-rootfs.sh
rootfs-fixtures/images/build.sh

passed=0
failed=0
run_part() {
    name=$1; shift
    echo "==> $name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "==> $name FAILED"; fi
}

case $what in
    all|host)
        cargo build --release --locked
        run_part "host suite" cargo test --release --locked --no-fail-fast
        ;;
    vm) ;;
    *) echo "scripts/test.sh: unknown part '$what' (want: all, host, vm)" >&2; exit 2 ;;
esac
case $what in
    all|vm) run_part "vm suite" scripts/vm-test.sh ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
