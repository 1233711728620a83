#!/bin/sh
# Times unpacking a large real image into tmpfs: rind (verifying every digest), umoci unpack
# (also verifying) and GNU tar -xzf of the same gzip layer (verifying nothing), as medians of
# RUNS runs, then the ratios; and the cost of a second container root from the unpacked image.
#
#   scripts/bench-unpack.sh [RUNS]        (default 5; run as root)
#
# The image is a debootstrap Debian rootfs packed by umoci into one gzip layer, cached under
# rootfs-fixtures/out/bench. Needs debootstrap and umoci (installed with apt-get if missing).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench-unpack.sh: run as root" >&2; exit 1; }

for pkg in debootstrap umoci; do
    command -v "$pkg" >/dev/null 2>&1 && continue
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
done

bench=$PWD/rootfs-fixtures/out/bench
if [ ! -f "$bench/.complete" ]; then
    rm -rf "$bench"
    mkdir -p "$bench"
    echo "building the Debian image (debootstrap, once)..." >&2
    debootstrap --variant=minbase bookworm "$bench/rootfs" http://deb.debian.org/debian >/dev/null
    umoci init --layout "$bench/oci"
    umoci new --image "$bench/oci:debian"
    umoci unpack --image "$bench/oci:debian" "$bench/bundle" >/dev/null
    cp -a "$bench/rootfs/." "$bench/bundle/rootfs/"
    umoci repack --image "$bench/oci:debian" "$bench/bundle"
    umoci config --image "$bench/oci:debian" --config.cmd /bin/bash
    rm -rf "$bench/bundle" "$bench/rootfs"
    touch "$bench/.complete"
fi
# The one layer blob: the largest file in the layout.
layer=$(ls -S "$bench/oci/blobs/sha256/"* | head -n 1)

cargo build --release --locked -q
rind=$PWD/target/release/rind

mnt=$(mktemp -d)
mount -t tmpfs -o size=6g tmpfs "$mnt"
cleanup() {
    [ -d "$mnt/ctr" ] && "$rind" --store "$mnt/store" image unmount "$mnt/ctr" >/dev/null 2>&1 || true
    umount "$mnt" 2>/dev/null || umount -l "$mnt"
    rmdir "$mnt"
}
trap cleanup EXIT

now() { date +%s.%N; }
# time_cmd SETUP CMD: runs SETUP untimed, then times CMD; prints seconds.
time_cmd() {
    sh -c "$1"
    t0=$(now)
    sh -c "$2" >/dev/null 2>&1 || { echo "failed: $2" >&2; exit 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f\n", m}'; }

# Warm the page cache so that every tool reads the blob from memory.
cat "$layer" >/dev/null

measure() {
    label=$1 setup=$2 cmd=$3
    i=0
    : > "$mnt/times"
    while [ $i -lt "$runs" ]; do
        time_cmd "$setup" "$cmd" >> "$mnt/times"
        i=$((i + 1))
    done
    median < "$mnt/times"
}

t_rind=$(measure rind "rm -rf $mnt/store" "$rind --store $mnt/store image pull -q oci:$bench/oci:debian")
t_umoci=$(measure umoci "rm -rf $mnt/bundle" "umoci unpack --image $bench/oci:debian $mnt/bundle")
t_tar=$(measure tar "rm -rf $mnt/tar; mkdir $mnt/tar" "tar -xzf $layer -C $mnt/tar")
# A second container root from the image already in the store (mount, then unmount untimed).
"$rind" --store "$mnt/store" image pull -q "oci:$bench/oci:debian" >/dev/null
t_mount=$(measure mount "$rind --store $mnt/store image unmount $mnt/ctr >/dev/null 2>&1 || true" "$rind --store $mnt/store image mount localhost/oci:debian $mnt/ctr")
"$rind" --store "$mnt/store" image unmount "$mnt/ctr"
t_copy=$(measure copy "$rind --store $mnt/store image unmount $mnt/ctr >/dev/null 2>&1 || true" "$rind --store $mnt/store image mount --copy localhost/oci:debian $mnt/ctr")
"$rind" --store "$mnt/store" image unmount "$mnt/ctr"

size=$(du -sh --apparent-size "$mnt/tar" | cut -f1)
files=$(find "$mnt/tar" | wc -l)
blob=$(du -h --apparent-size "$layer" | cut -f1)
echo "image: Debian bookworm minbase, one gzip layer of $blob, $size in $files entries; tmpfs; median of $runs"
printf '%-34s %8s\n' "unpack" "seconds"
printf '%-34s %8s\n' "rind image pull (digests verified)" "$t_rind"
printf '%-34s %8s\n' "umoci unpack (digests verified)" "$t_umoci"
printf '%-34s %8s\n' "tar -xzf (no verification)" "$t_tar"
printf '%-34s %8s\n' "second root, overlayfs mount" "$t_mount"
printf '%-34s %8s\n' "second root, copy fallback" "$t_copy"
echo "rind / umoci = $(echo "$t_rind / $t_umoci" | bc -l | xargs printf '%.2f')"
echo "rind / tar   = $(echo "$t_rind / $t_tar" | bc -l | xargs printf '%.2f')"
