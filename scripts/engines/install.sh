#!/bin/sh
# Installs the container engines that scripts/engine-test.sh drives, when missing: podman (with
# conmon and catatonit for --init), containerd (with ctr), and util-linux's script for ptys.
# Only the engine suite needs these, so scripts/install-deps.sh does not install them.
set -eu
need=""
for pkg in podman conmon catatonit containerd util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# script(1) moved to bsdutils in some releases.
command -v script >/dev/null 2>&1 || need="$need bsdutils"
if [ -n "$need" ]; then
    echo "installing:$need" >&2
    apt-get update -qq >/dev/null
    # No recommends: they pull in buildah, slirp4netns, fuse-overlayfs and a D-Bus session.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
