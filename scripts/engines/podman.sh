# podman with rind as its OCI runtime (sourced by scripts/engine-test.sh).
#
# Every piece of podman state lives under $T/podman: storage (vfs, so no overlay mounts), the
# run root, the libpod database, events, volumes, hooks. rind's own state goes to
# $T/podman/rind-state (the runtime wrapper adds --root). Images are loaded from the busybox fixtures.
# The scenarios themselves are in podman-scenarios.sh.

PODMAN_IMG=localhost/rind-engines:busybox # the busybox rootfs, imported: root, CMD /bin/sh
PODMAN_CFG_IMG=localhost/busybox:latest   # the OCI fixture with a full image config

podman_setup() {
    P=$T/podman
    mkdir -p "$P/networks" "$P/tmp" "$P/hooks" "$P/rind-state"
    # The hard limits of this process (sh's ulimit has no portable flag for processes).
    nofile=$(awk '/^Max open files/ { print $5 }' /proc/self/limits)
    nproc=$(awk '/^Max processes/ { print $4 }' /proc/self/limits)
    [ "$nofile" = unlimited ] && nofile=1048576
    [ "$nproc" = unlimited ] && nproc=32768
    [ "$nproc" -gt 32768 ] && nproc=32768
    PODMAN_NOFILE=$nofile
    for f in containers.conf storage.conf registries.conf; do
        sed -e "s|@T@|$T|g" -e "s|@NOFILE@|$nofile|g" -e "s|@NPROC@|$nproc|g" \
            "$ENGINES_DIR/$f" >"$P/$f"
    done
    export CONTAINERS_CONF="$P/containers.conf"
    export CONTAINERS_STORAGE_CONF="$P/storage.conf"
    export CONTAINERS_REGISTRIES_CONF="$P/registries.conf"
    # One string, for the scenarios that run podman inside script(1) for a pty.
    PM="podman --root $P/root --runroot $P/runroot --storage-driver vfs --cgroup-manager cgroupfs"
    PM="$PM --tmpdir $P/tmp --runtime rind --hooks-dir $P/hooks"
    # podman passes the runtime no --root (rind would use /run/rind) and no environment of
    # ours (no RIND_ROOT), and --runtime-flag root=... does not reach the cleanup process conmon
    # starts when a container exits. So podman's runtime is a wrapper that adds the --root.
    write_runtime_wrapper "$T/bin/rind-podman" "$P/rind-state"
    PM_RUN="run --cgroup-parent $CGROUP_PARENT"

    pm load -q -i "$FIXTURES/images/busybox-oci.tar" >/dev/null || return 1
    tar -C "$FIXTURES/busybox/rootfs" --exclude ./.complete -cf "$T/busybox-rootfs.tar" . &&
        pm import -q --change 'CMD ["/bin/sh"]' "$T/busybox-rootfs.tar" "$PODMAN_IMG" >/dev/null
}

# pm ARGS: podman with the private configuration, under a timeout.
pm() {
    # shellcheck disable=SC2086 # PM is a word list of paths without spaces
    timeout -k 5 "$ENGINE_TIMEOUT" $PM "$@"
}

# pm_run ARGS: `podman run` inside the engines' cgroup parent.
pm_run() {
    # shellcheck disable=SC2086
    timeout -k 5 "$ENGINE_TIMEOUT" $PM $PM_RUN "$@"
}

# pm_rm NAME...: removes containers whatever their state (scenario cleanup).
pm_rm() {
    pm rm -f -t 0 --ignore "$@" >/dev/null 2>&1 || true
}

# pm_wait_running NAME: waits (up to 10 s) until the container reports "running".
pm_wait_running() {
    i=0
    while [ $i -lt 100 ]; do
        [ "$(pm inspect -f '{{.State.Status}}' "$1" 2>/dev/null)" = running ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "$1 never reached running"
    return 1
}

podman_cleanup() {
    [ -n "${PM:-}" ] || return 0
    pm rm -a -f -t 0 >/dev/null 2>&1 || true
    pm volume rm -a -f >/dev/null 2>&1 || true
}
