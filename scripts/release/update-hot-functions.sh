#!/bin/bash
# Refreshes scripts/release/hot-functions.txt, the symbol ordering that scripts/build-release.sh
# links with: builds the production binary, then records which of its functions run while
# containers start (scripts/release/hot-functions.py: a uprobe on every function; root only,
# about ten minutes, most of it spent in uprobes on functions such as memcpy).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
[ "$(id -u)" = 0 ] || bench_die "run as root (uprobes, and the containers)"
rootfs-fixtures/busybox-rootfs.sh
bin=$(scripts/build-release.sh)
bundle=target/bench/hot-bundle
bench_make_bundle "$bundle" rootfs-fixtures/out/busybox/rootfs "$bin"
scripts/release/hot-functions.py "$bin" "$bundle" scripts/release/hot-functions.txt
rm -rf "$bundle"
