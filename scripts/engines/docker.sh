# Docker (Debian's docker.io: dockerd 20.10 and its CLI) with rind as the default runtime
# (sourced by scripts/engine-test.sh). The scenarios are in docker-scenarios.sh.
#
# Everything of this dockerd lives under $T/docker: --data-root, --exec-root, --pidfile, the
# API socket, an empty --config-file (the host's /etc/docker/daemon.json is never read), the
# CLI's config dir. dockerd is given a containerd of its own, started here from the suite's
# containerd.toml with its root, state and socket under $T/docker/containerd: dockerd 20.10
# would use the host's /run/containerd/containerd.sock whenever that exists, and this way the
# suite knows the pid it must stop. No network: --bridge none, no iptables, and every
# container runs with --network none. Images come from the busybox fixture, turned into a
# docker-archive with skopeo (docker 20.10 loads no OCI archive) and `docker load`ed.
#
# rind is registered with --add-runtime rind=<wrapper> --default-runtime rind; dockerd passes
# the runtime its own --root ($T/docker/exec/runtime-rind/moby) through the runc v2 shim.

DK_IMG=localhost/busybox:busybox # the OCI fixture: entrypoint sh -c, user tester

docker_setup() {
    D=$T/docker
    mkdir -p "$D/data" "$D/exec" "$D/containerd" "$D/cli"
    echo '{}' >"$D/daemon.json"
    sed -e "s|@T@/containerd|$D/containerd|g" "$ENGINES_DIR/containerd.toml" >"$D/containerd/config.toml"
    [ -d /run/containerd ] && DK_HAD_RUN_DIR=1 || DK_HAD_RUN_DIR=0
    containerd --config "$D/containerd/config.toml" >"$D/containerd/containerd.log" 2>&1 &
    DK_CONTAINERD_PID=$!
    wait_for_socket "$D/containerd/containerd.sock" "$DK_CONTAINERD_PID" "$D/containerd/containerd.log" || return 1
    # The Debian CLI, not whatever `docker` comes first on PATH: its API version matches.
    DK="/usr/bin/docker --host unix://$D/docker.sock --config $D/cli"
    /usr/sbin/dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
        --pidfile "$D/docker.pid" --host "unix://$D/docker.sock" --containerd "$D/containerd/containerd.sock" \
        --bridge none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
        --storage-driver vfs --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$CGROUP_PARENT" \
        --add-runtime "rind=$T/bin/rind" --default-runtime rind \
        >"$D/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    wait_for_socket "$D/docker.sock" "$DOCKERD_PID" "$D/dockerd.log" || return 1
    i=0
    until dk version >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "dockerd does not answer:"; tail -n 20 "$D/dockerd.log"; return 1; }
        sleep 0.1
    done
    expect "dockerd's default runtime" rind "$(dk info -f '{{.DefaultRuntime}}')" || return 1
    skopeo copy -q "oci-archive:$FIXTURES/images/busybox-oci.tar:busybox" \
        "docker-archive:$D/busybox.tar:$DK_IMG" &&
        dk load -q -i "$D/busybox.tar" >/dev/null
}

# wait_for_socket PATH PID LOG: waits (up to 10 s) until the daemon PID made its socket.
wait_for_socket() {
    i=0
    until [ -S "$1" ]; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$2" 2>/dev/null; then
            echo "no socket at $1:"
            tail -n 20 "$3"
            return 1
        fi
        sleep 0.1
    done
}

# dk ARGS: the docker CLI on the private dockerd, under a timeout.
dk() {
    # shellcheck disable=SC2086 # DK is a word list of paths without spaces
    timeout -k 5 "$ENGINE_TIMEOUT" $DK "$@"
}

# dk_run ARGS: `docker run` with no network.
dk_run() {
    dk run --network none "$@"
}

# dk_rm NAME...: removes containers whatever their state (scenario cleanup).
dk_rm() {
    dk rm -f "$@" >/dev/null 2>&1 || true
}

# dk_state NAME FIELD: a field of the container's State (Status, Pid, ExitCode, OOMKilled...).
dk_state() {
    dk inspect -f "{{.State.$2}}" "$1" 2>/dev/null
}

# dk_wait_for NAME GO-TEMPLATE VALUE [SECONDS]: waits until `docker inspect -f` gives VALUE.
dk_wait_for() {
    i=0
    tries=$((${4:-10} * 10))
    while [ $i -lt $tries ]; do
        [ "$(dk inspect -f "$2" "$1" 2>/dev/null)" = "$3" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "$1: $2 never became [$3] (now: [$(dk inspect -f "$2" "$1" 2>&1)])"
    return 1
}

dk_wait_running() {
    dk_wait_for "$1" '{{.State.Status}}' running
}

docker_cleanup() {
    [ -n "${DOCKERD_PID:-}" ] || [ -n "${DK_CONTAINERD_PID:-}" ] || return 0
    if [ -n "${DOCKERD_PID:-}" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        # shellcheck disable=SC2046
        dk rm -f $(dk ps -aq 2>/dev/null) >/dev/null 2>&1
        stop_pid "$DOCKERD_PID" 15
    fi
    DOCKERD_PID=
    if [ -n "${DK_CONTAINERD_PID:-}" ]; then
        stop_pid "$DK_CONTAINERD_PID" 10
    fi
    DK_CONTAINERD_PID=
    # dockerd bind-mounts network namespaces and the exec root's state; shims leave nothing
    # mounted once they exit, but a killed daemon might.
    unmount_under "$T/docker"
    if [ "${DK_HAD_RUN_DIR:-1}" = 0 ]; then
        rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    fi
}

# stop_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS; reaps it when it is our child.
stop_pid() {
    kill "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
