#!/bin/sh
# Builds a minimal busybox root filesystem from Debian's busybox-static.
#
#   rootfs-fixtures/busybox-rootfs.sh [OUT_DIR]
#
# OUT_DIR defaults to rootfs-fixtures/out/busybox. The result is OUT_DIR/rootfs with
# /bin/busybox, a symlink per applet, /etc/passwd and /etc/group, and the empty directories a
# container needs. Installs busybox-static with apt-get when it is missing. Idempotent: an
# existing, complete rootfs is left as it is.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out/busybox}
rootfs=$out/rootfs

if [ -x "$rootfs/bin/busybox" ] && [ -f "$rootfs/.complete" ]; then
    exit 0
fi

if ! dpkg -s busybox-static >/dev/null 2>&1; then
    echo "installing busybox-static" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
busybox=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
[ -x "$busybox" ] || { echo "busybox-static did not install a busybox binary" >&2; exit 1; }

rm -rf "$rootfs"
mkdir -p "$rootfs"
cd "$rootfs"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var/tmp run
chmod 1777 tmp var/tmp
cp "$busybox" bin/busybox
for applet in $(bin/busybox --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$(dirname "$applet")"
    [ -e "$applet" ] || ln -s /bin/busybox "$applet"
done
cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
tester:x:1000:1000:tester:/home/tester:/bin/sh
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:tester
tester:x:1000:
nogroup:x:65534:
GROUP
mkdir -p home/tester && chown 1000:1000 home/tester
echo "rind-fixture" > etc/hostname
touch .complete
