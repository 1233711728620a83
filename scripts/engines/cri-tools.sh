#!/bin/sh
# Builds what the CRI scenarios need, cached in target/cri-tools/ and rebuilt only when
# missing; prints that directory:
#   crictl, critest  Kubernetes' cri-tools v1.26.1 (the CRI of containerd 1.6), from the source
#                    snapshot in ../shared/conformance (or $RIND_CONFORMANCE_DIR), offline against
#                    its vendored modules, with Go 1.23 from scripts/install-go.sh
#   pause-oci.tar    the pods' sandbox image (oci-archive, tag "pause"): scripts/engines/pause,
#                    a static Go program, as /pause in a one-layer image made with umoci and
#                    skopeo (which rootfs-fixtures/images/build.sh installs)
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
out=$root/target/cri-tools
mkdir -p "$out"
export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0

if [ ! -f "$out/pause-oci.tar" ]; then
    go=$(scripts/install-go.sh)
    w=$(mktemp -d /tmp/rind-pause.XXXXXX)
    (
        set -e
        cd "$root/scripts/engines/pause"
        GOFLAGS= GOCACHE="$w/gocache" GOPATH="$w/gopath" "$go" build -trimpath -ldflags=-s -o "$w/pause" pause.go
        umoci init --layout "$w/oci"
        umoci new --image "$w/oci:pause"
        umoci unpack --image "$w/oci:pause" "$w/bundle" >/dev/null
        cp "$w/pause" "$w/bundle/rootfs/pause"
        umoci repack --image "$w/oci:pause" "$w/bundle"
        umoci config --image "$w/oci:pause" --config.entrypoint /pause --config.user 65535:65535
        skopeo copy -q "oci:$w/oci:pause" "oci-archive:$out/pause-oci.tar.new:pause"
    ) || { rm -rf "$w"; exit 1; }
    rm -rf "$w"
    mv "$out/pause-oci.tar.new" "$out/pause-oci.tar"
fi
if [ -x "$out/crictl" ] && [ -x "$out/critest" ]; then
    echo "$out"
    exit 0
fi
conf=$(scripts/conformance-dir.sh)
tarball=$conf/cri-tools-v1.26.1.tar.gz
[ -f "$tarball" ] || { echo "cri-tools.sh: $tarball is missing (set RIND_CONFORMANCE_DIR to the folder that holds it)" >&2; exit 1; }
go=$(scripts/install-go.sh)
src=$(mktemp -d /tmp/rind-cri-tools.XXXXXX)
trap 'rm -rf "$src"' EXIT
tar -xzf "$tarball" -C "$src"
echo "building crictl and critest from $(basename "$tarball")" >&2
(
    cd "$src/cri-tools"
    export GOCACHE="$src/gocache" GOPATH="$src/gopath"
    "$go" build -o "$out/crictl.new" ./cmd/crictl
    "$go" test -c -o "$out/critest.new" ./cmd/critest
)
mv "$out/crictl.new" "$out/crictl"
mv "$out/critest.new" "$out/critest"
echo "$out"
