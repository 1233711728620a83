#!/bin/sh
# Builds images the way other tools write them, for tests/foreign_images.rs.
#
#   rootfs-fixtures/foreign/images.sh [OUT_DIR]
#
# OUT_DIR defaults to rootfs-fixtures/out. Writes OUT_DIR/foreign/images/oci (an OCI layout,
# every tag the busybox image plus one layer) and conversions of it:
#   umoci-insert-root    `umoci insert ... DIR /`: a layer whose first entry is "/"
#   umoci-insert-file    `umoci insert ... FILE /etc/extra`
#   umoci-whiteout       `umoci insert --whiteout /etc/hostname`, then `--opaque` of /home
#                        (umoci 0.4.7's insert ends these layers' tar streams right after the
#                        last entry's data: no padding, no end-of-archive blocks)
#   tar-dot              a layer by GNU tar with "./" names (tar -C DIR -cf L .)
#   tar-abs              a layer by GNU tar with "/" names (tar -P, names rewritten to /...)
#   tar-xattrs           a layer by `tar --xattrs --xattrs-include='*'` of a tree with
#                        hardlinks, whiteout files (.wh.hostname, .wh..wh..opq), symlinks, a
#                        fifo, a device node, setuid and foreign owners, user.* xattrs and a
#                        file capability (security.capability)
#   tar-empty-xattr      a tar --xattrs layer with an xattr whose value is empty
#   oci-zstd/            tar-xattrs and umoci-insert-root re-compressed with zstd (skopeo copy
#                        --dest-compress-format zstd)
#   tar-xattrs-oci.tar, umoci-insert-root-oci.tar          skopeo copy to oci-archive
#   tar-xattrs-docker.tar, umoci-insert-root-docker.tar    skopeo copy to docker-archive
# Needs the busybox image fixture (images/build.sh), umoci, skopeo, GNU tar and python3.
# Idempotent: a complete set is kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../out}
dest=$out/foreign/images
[ -f "$dest/.complete" ] && exit 0

"$here/../images/build.sh" "$out"
base=$out/images/oci

rm -rf "$dest"
mkdir -p "$dest"
work=$(mktemp -d /tmp/rind-foreign-images.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
oci=$dest/oci

# new_tag TAG: a copy of the busybox image as TAG.
new_tag() {
    skopeo copy -q "oci:$base:busybox" "oci:$oci:$1"
}

# A small tree to insert: a file, a nested directory, a symlink, an executable.
src=$work/insert
mkdir -p "$src/opt/inserted/deep"
echo inserted >"$src/opt/inserted/file"
echo deep >"$src/opt/inserted/deep/file"
ln -s ../inserted/file "$src/opt/inserted/deep/link"
printf '#!/bin/sh\necho hi\n' >"$src/opt/inserted/run" && chmod 0750 "$src/opt/inserted/run"
chmod 0700 "$src/opt/inserted/deep"

new_tag umoci-insert-root
umoci insert --image "$oci:umoci-insert-root" "$src" /
new_tag umoci-insert-file
echo extra >"$work/extra"
umoci insert --image "$oci:umoci-insert-file" "$work/extra" /etc/extra
new_tag umoci-whiteout
umoci insert --image "$oci:umoci-whiteout" --whiteout /etc/hostname
mkdir -p "$work/newhome/fresh" && echo fresh >"$work/newhome/fresh/note"
umoci insert --image "$oci:umoci-whiteout" --opaque "$work/newhome" /home

# GNU tar's own name forms.
tree=$work/tree
mkdir -p "$tree/etc" "$tree/srv/data"
echo "from tar" >"$tree/etc/motd"
echo data >"$tree/srv/data/file"
ln -s /etc/motd "$tree/srv/motd-link"
new_tag tar-dot
tar --numeric-owner -C "$tree" -cf "$work/dot.tar" .
tar -tf "$work/dot.tar" | grep -q '^\./etc/motd$'
umoci raw add-layer --image "$oci:tar-dot" "$work/dot.tar"
new_tag tar-abs
tar --numeric-owner -P --transform 's,^\.,,' -C "$tree" -cf "$work/abs.tar" .
tar -P -tf "$work/abs.tar" | grep -q '^/etc/motd$'
umoci raw add-layer --image "$oci:tar-abs" "$work/abs.tar"

# A layer as a docker-style diff: whiteout files, hardlinks, xattrs, made by tar --xattrs.
x=$work/xattrs
python3 - "$x" <<'PY'
import os, sys
root = sys.argv[1]
def p(*a): return os.path.join(root, *a)
os.makedirs(p("etc"))
os.makedirs(p("home"))
os.makedirs(p("home/fresh"))
os.makedirs(p("opt/x"))
open(p("etc/.wh.hostname"), "w").close()          # removes the lower layer's /etc/hostname
open(p("home/.wh..wh..opq"), "w").close()         # /home is opaque: tester's home goes
with open(p("home/fresh/note"), "w") as f: f.write("new home\n")
os.chown(p("home/fresh"), 1000, 1000); os.chmod(p("home/fresh"), 0o750)
os.chown(p("home/fresh/note"), 1000, 100); os.chmod(p("home/fresh/note"), 0o640)
with open(p("opt/x/data"), "w") as f: f.write("x" * 70000)
os.chown(p("opt/x/data"), 1234, 5678); os.chmod(p("opt/x/data"), 0o600)
os.link(p("opt/x/data"), p("opt/x/data-link"))
os.link(p("opt/x/data"), p("opt/data-link2"))
os.symlink("../../etc/passwd", p("opt/x/rel-link"))
os.symlink("/etc/group", p("opt/x/abs-link"))
with open(p("opt/x/suid"), "w") as f: f.write("#!/bin/sh\n")
os.chmod(p("opt/x/suid"), 0o4755)
with open(p("opt/x/sgid-dir-file"), "w") as f: f.write("g\n")
os.chmod(p("opt/x"), 0o2775)
with open(p("opt/x/attrs"), "w") as f: f.write("attrs\n")
os.setxattr(p("opt/x/attrs"), "user.rind", b"yes")
with open(p("opt/x/cap"), "w") as f: f.write("cap\n")
os.chmod(p("opt/x/cap"), 0o755)
# VFS_CAP_REVISION_2, permitted CAP_NET_BIND_SERVICE (bit 10), effective.
os.setxattr(p("opt/x/cap"), "security.capability",
            bytes([1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0]) + bytes(8))
os.mkfifo(p("opt/x/fifo"), 0o600)
os.mknod(p("opt/x/null"), 0o20666, os.makedev(1, 3))
os.mknod(p("opt/x/blk"), 0o60660, os.makedev(7, 200))
os.setxattr(p("opt/x"), "user.dir", b"on a directory")
PY
new_tag tar-xattrs
tar --xattrs --xattrs-include='*' --numeric-owner -C "$x" -cf "$work/xattrs.tar" .
tar -tvf "$work/xattrs.tar" | grep -q '^h.* link to ./opt/'
umoci raw add-layer --image "$oci:tar-xattrs" "$work/xattrs.tar"
# An xattr with an empty value (GNU tar writes the PAX record; Go's archive/tar, and so umoci,
# containerd and docker, read an empty PAX value as "no such record").
mkdir -p "$work/empty/opt"
echo e >"$work/empty/opt/empty-xattr"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.empty", b"")' "$work/empty/opt/empty-xattr"
new_tag tar-empty-xattr
tar --xattrs --xattrs-include='*' --numeric-owner -C "$work/empty" -cf "$work/empty.tar" .
umoci raw add-layer --image "$oci:tar-empty-xattr" "$work/empty.tar"

# skopeo's conversions.
for tag in tar-xattrs umoci-insert-root; do
    skopeo copy -q --dest-compress-format zstd "oci:$oci:$tag" "oci:$dest/oci-zstd:$tag"
    skopeo copy -q "oci:$oci:$tag" "oci-archive:$dest/$tag-oci.tar:$tag"
    skopeo copy -q "oci:$oci:$tag" "docker-archive:$dest/$tag-docker.tar:rind/$tag:latest"
done
touch "$dest/.complete"
echo "foreign images in $dest" >&2
