#!/bin/sh
# Builds the two image tarballs runc's integration suite reads, from files on this machine
# (no network): tests/integration/get-images.sh downloads them when they are missing, and skips
# the download when a file of the name it wants is there.
#
#   scripts/runc-suite/images.sh TESTDATA_DIR
#
# busybox-amd64.tar.xz: Debian's busybox-static with a link per applet and docker's busybox
#   /etc/passwd and /etc/group (exec.bats reads `id` output for uid 1000, which must have no
#   name). Like docker's image it has an empty /dev (userns.bats: a container whose root
#   maps to another uid cannot make it) and no /proc or /sys: mask.bats and the procfs tests
#   need the runtime to make those mount points itself.
# debian-amd64.tar.xz: what hooks.bats needs of "debian": /bin/sh, grep, ldconfig and the glibc
#   they run on, taken from this host, in buster's layout (real /lib, /bin, /sbin).
set -eu

out=$1
mkdir -p "$out"
work=$(mktemp -d /tmp/rind-runc-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -s "$out/busybox-amd64.tar.xz" ]; then
    if ! dpkg -s busybox-static >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
    fi
    bb=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
    r=$work/busybox
    mkdir -p "$r/bin" "$r/dev" "$r/etc" "$r/home" "$r/root" "$r/tmp" "$r/usr/sbin" "$r/var/spool/mail" \
        "$r/var/www"
    chmod 1777 "$r/tmp"
    chmod 700 "$r/root"
    cp "$bb" "$r/bin/busybox"
    # docker's busybox keeps every applet in /bin (hard links); so does this one.
    for applet in $("$r/bin/busybox" --list); do
        [ "$applet" = busybox ] || [ -e "$r/bin/$applet" ] || ln "$r/bin/busybox" "$r/bin/$applet"
    done
    cat > "$r/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
    cat > "$r/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
GROUP
    tar -C "$r" --numeric-owner -cJf "$out/busybox-amd64.tar.xz.tmp" .
    mv "$out/busybox-amd64.tar.xz.tmp" "$out/busybox-amd64.tar.xz"
fi

if [ ! -s "$out/debian-amd64.tar.xz" ]; then
    r=$work/debian
    mkdir -p "$r/bin" "$r/sbin" "$r/lib/x86_64-linux-gnu" "$r/lib64" "$r/usr/bin" "$r/usr/sbin" \
        "$r/usr/lib" "$r/etc/ld.so.conf.d" "$r/tmp" "$r/root" "$r/var/tmp"
    chmod 1777 "$r/tmp" "$r/var/tmp"
    cp /bin/dash "$r/bin/dash"
    ln -s dash "$r/bin/sh"
    cp /bin/grep /bin/cat /bin/ls "$r/bin/"
    cp /sbin/ldconfig "$r/sbin/ldconfig"
    for bin in /bin/dash /bin/grep /bin/cat /bin/ls; do
        ldd "$bin" | awk '$3 ~ /^\// { print $3 }'
    done | sort -u | while read -r lib; do
        cp -L "$lib" "$r/lib/x86_64-linux-gnu/"
    done
    cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$r/lib64/ld-linux-x86-64.so.2"
    echo 'include /etc/ld.so.conf.d/*.conf' > "$r/etc/ld.so.conf"
    printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' > "$r/etc/ld.so.conf.d/x86_64-linux-gnu.conf"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$r/etc/passwd"
    printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$r/etc/group"
    chroot "$r" /sbin/ldconfig
    tar -C "$r" --numeric-owner -cJf "$out/debian-amd64.tar.xz.tmp" .
    mv "$out/debian-amd64.tar.xz.tmp" "$out/debian-amd64.tar.xz"
fi
