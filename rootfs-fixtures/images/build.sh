#!/bin/sh
# Builds the image fixtures from the busybox rootfs, with the real producers.
#
#   rootfs-fixtures/images/build.sh [OUT_DIR]
#
# OUT_DIR defaults to rootfs-fixtures/out (so RIND_FIXTURES can point at it). Writes under
# OUT_DIR/images:
#   oci/                 OCI layout (umoci, gzip layers), tags:
#                          busybox    one layer, with a full runtime config
#                          whiteouts  busybox plus a hand-made layer: whiteouts, an opaque
#                                     directory whose marker precedes it, hardlinks, symlinks,
#                                     xattrs (user.*, security.capability), a fifo, a device,
#                                     setuid and foreign owners
#   oci-zstd/            the same two tags re-compressed with zstd (skopeo)
#   busybox-oci.tar      oci-archive of busybox (skopeo)
#   whiteouts-docker.tar docker-archive of whiteouts (skopeo), named rind/whiteouts:latest
# Installs umoci and skopeo with apt-get when missing. Idempotent: a complete set is kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../out}
images=$out/images
[ -f "$images/.complete" ] && exit 0

need=""
for pkg in umoci skopeo python3; do
    command -v "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "installing:$need" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

"$here/../busybox-rootfs.sh" "$out/busybox"
rootfs=$out/busybox/rootfs

rm -rf "$images"
mkdir -p "$images"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

oci=$images/oci
umoci init --layout "$oci"
umoci new --image "$oci:busybox"
umoci unpack --image "$oci:busybox" "$work/bundle" >/dev/null
cp -a "$rootfs/." "$work/bundle/rootfs/"
rm -f "$work/bundle/rootfs/.complete"
umoci repack --image "$oci:busybox" "$work/bundle"
umoci config --image "$oci:busybox" \
    --config.entrypoint /bin/sh --config.entrypoint -c \
    --config.cmd 'echo hello from busybox' \
    --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.env GREETING=hi \
    --config.workingdir /home/tester --config.user tester \
    --config.label org.example.fixture=busybox --config.stopsignal SIGQUIT \
    --config.exposedports 8080/tcp
rm -rf "$work/bundle"

# The second layer is written by hand: umoci never emits opaque markers, and the marker must
# come before its directory's own entry to exercise that rule.
python3 - "$work/layer2.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, type=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, link="", pax=None, dev=(0, 0)):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.uid, i.gid, i.linkname, i.mtime = type, mode, uid, gid, link, 1700000000
    i.devmajor, i.devminor = dev
    if pax:
        i.pax_headers = pax
    if type == tarfile.REGTYPE:
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
add("etc/.wh.hostname")                                  # delete a file of the lower layer
add("home/.wh..wh..opq")                                 # opaque marker before its directory
add("home/", tarfile.DIRTYPE, mode=0o755)
add("home/fresh/", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000)
add("home/fresh/note", data=b"new home\n", mode=0o640, uid=1000, gid=100)
add("bin/.wh.vi")                                        # delete a symlink
add("opt/", tarfile.DIRTYPE, mode=0o755)
add("opt/data", data=b"x" * 100000, mode=0o600, uid=1234, gid=5678)
add("opt/data-link", tarfile.LNKTYPE, link="opt/data")
add("opt/rel-link", tarfile.SYMTYPE, link="../etc/passwd")
add("opt/suid", data=b"#!/bin/sh\n", mode=0o4755)
add("opt/xattr", data=b"attrs\n", pax={"SCHILY.xattr.user.rind": "yes"})
add("opt/cap", data=b"cap\n", mode=0o755,
    pax={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"})
add("opt/fifo", tarfile.FIFOTYPE, mode=0o600)
add("opt/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
t.close()
PY
# Tag a copy of busybox as "whiteouts", then append the hand-made layer to it.
skopeo copy -q "oci:$oci:busybox" "oci:$oci:whiteouts"
umoci raw add-layer --image "$oci:whiteouts" "$work/layer2.tar"

for tag in busybox whiteouts; do
    skopeo copy -q --dest-compress-format zstd "oci:$oci:$tag" "oci:$images/oci-zstd:$tag"
done
skopeo copy -q "oci:$oci:busybox" "oci-archive:$images/busybox-oci.tar:busybox"
skopeo copy -q "oci:$oci:whiteouts" "docker-archive:$images/whiteouts-docker.tar:rind/whiteouts:latest"
touch "$images/.complete"
echo "image fixtures in $images" >&2
