#!/bin/sh
# Installs the container engines that scripts/engine-test.sh drives, when missing: podman (with
# conmon and catatonit for --init), containerd (with ctr), Debian's docker.io (dockerd and its
# CLI), skopeo (to make the docker-archive `docker load` reads), and util-linux's script for
# ptys; for the CRI scenarios, the CNI plugins, jq, iproute2 and runc (the comparison runtime);
# for rootless podman, uidmap (newuidmap/newgidmap) and slirp4netns (its default network).
# Only the engine suite needs these, so scripts/install-deps.sh does not install them.
set -eu
need=""
for pkg in podman conmon catatonit containerd docker.io skopeo util-linux containernetworking-plugins jq iproute2 runc uidmap slirp4netns; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# script(1) moved to bsdutils in some releases.
command -v script >/dev/null 2>&1 || need="$need bsdutils"
if [ -n "$need" ]; then
    echo "installing:$need" >&2
    apt-get update -qq >/dev/null
    # docker.io and containerd come with services; the suite starts its own private daemons, so
    # the packages' scripts must not start the system ones. Debian's policy-rc.d hook says so
    # (exit 101: "action forbidden"), unless the machine already has a policy of its own.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    # No recommends: they pull in buildah, fuse-overlayfs and a D-Bus session.
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null || rc=$?
    [ -z "$policy" ] || rm -f "$policy"
    exit $rc
fi
