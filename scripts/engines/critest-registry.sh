#!/bin/sh
# Fills a docker-registry storage directory with the images critest pulls
# (critest_build_images of scripts/engines/critest-lib.sh), for a guest that cannot build them
# (scripts/vm-systemd-test.sh copies it into the systemd guest):
#
#   scripts/engines/critest-registry.sh DIR
#
# The registry runs for the time of the push only, on 127.0.0.1:5000 in a network namespace of
# its own; DIR is replaced.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ENGINES_DIR=$ROOT/scripts/engines
FIXTURES=$ROOT/rootfs-fixtures/out
BUSYBOX=$FIXTURES/busybox/rootfs/bin/busybox
out=${1:?usage: critest-registry.sh DIR}
[ "$(id -u)" = 0 ] || { echo "critest-registry.sh: run as root" >&2; exit 1; }

T=$(mktemp -d /tmp/rind-critest-registry.XXXXXX)
K=$T
REGISTRY_PID=
cleanup() {
    [ -z "$REGISTRY_PID" ] || { kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null; }
    umount "$T/netns" 2>/dev/null
    rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$ENGINES_DIR/lib.sh"
. "$ENGINES_DIR/critest-lib.sh"
touch "$T/netns"
unshare --net="$T/netns" true && nsenter --net="$T/netns" ip link set lo up || exit 1
rm -rf "$out.new"
mkdir -p "$out.new"
critest_serve_registry "$out.new" || exit 1
critest_build_images "$T/netns" >"$T/images.out" 2>&1 || { cat "$T/images.out"; exit 1; }
rm -rf "$out"
mv "$out.new" "$out"
