#!/bin/sh
# Installs the Debian packages the build, the tests and the fixtures need, when missing.
# (gcc and libc6-dev: Rust links with cc, and tests/cve builds a static attacker with it.)
set -eu
need=""
for pkg in gcc libc6-dev busybox-static runc qemu-system-x86 linux-image-amd64 cpio xz-utils file umoci skopeo docker-registry dbus-daemon systemd jq uidmap; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "installing:$need" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
