#!/bin/sh
# Runs real container engines with rind as their OCI runtime: podman (through conmon; as root,
# and rootless as an ordinary user),
# containerd (through ctr and the io.containerd.runc.v2 shim), Docker (dockerd, its own
# containerd and the same shim) and pods through containerd's CRI plugin (crictl; each CRI
# scenario also runs with runc as the shim's binary, for comparison).
#
#   scripts/engine-test.sh              all four groups
#   scripts/engine-test.sh podman       only podman
#   scripts/engine-test.sh podman-rootless  rootless podman as a throwaway user, with runc and
#                                       with rind (scripts/engines/podman-rootless.sh)
#   scripts/engine-test.sh containerd   only containerd
#   scripts/engine-test.sh docker       only docker
#   scripts/engine-test.sh cri          only the CRI scenarios (scripts/engines/cri.sh)
#
# Environment:
#   RIND=PATH            the rind binary (default: target/release/rind, built when missing)
#   ENGINE_TIMEOUT=SECS  limit for each engine command (default 60)
#   ENGINE_ONLY=REGEX    run only the scenarios whose name matches
#   ENGINE_VERBOSE=1     show every scenario's output, not only the failures'
#   ENGINE_KEEP=DIR      copy the log of every rind invocation, rind's last config.json, the
#                        results and the engine logs there
#
# Installs the engines from Debian when missing (scripts/engines/install.sh) and builds the
# busybox image fixtures. Every piece of engine state lives in one temp dir: podman's storage,
# run root and database, containerd's root, state and socket, dockerd's data root, exec root,
# pid file and socket (and those of the containerd it is given), rind's state. On exit (also on
# ^C) it stops what it started, by pid, unmounts what the engines left under the temp dir,
# removes the cgroups and the temp dir. Each scenario checks its result and cleans up after
# itself. Ends with "engines: N passed, M failed" (the form scripts/test.sh counts); exits 1
# when a scenario failed. Known gaps in rind are XFAIL, counted apart from both.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ENGINES_DIR=$ROOT/scripts/engines
FIXTURES=$ROOT/rootfs-fixtures/out
ENGINE_TIMEOUT=${ENGINE_TIMEOUT:-60}

what=${1:-all}
case $what in
    all | podman | podman-rootless | containerd | docker | cri) ;;
    *) echo "scripts/engine-test.sh: unknown engine '$what' (want: all, podman, podman-rootless, containerd, docker, cri)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "scripts/engine-test.sh: run as root (the engines create namespaces, mounts and cgroups)" >&2; exit 1; }

"$ENGINES_DIR/install.sh" || exit 1
rootfs-fixtures/busybox-rootfs.sh && rootfs-fixtures/images/build.sh || exit 1
if [ -z "${RIND:-}" ]; then
    cargo build --release --locked -q || exit 1
    RIND=$ROOT/target/release/rind
fi
[ -x "$RIND" ] || { echo "scripts/engine-test.sh: no rind binary at $RIND" >&2; exit 1; }

T=$(mktemp -d /tmp/rind-engines.XXXXXX)
# Searchable by anyone (not listable): the root of a user namespace (host uid 100000 in the
# --uidmap scenarios) must reach the container's rootfs below it to mount it.
chmod 711 "$T"
mkdir -p "$T/bin"
# conmon 2.1.6 writes an "oom" file into its working directory when a container is killed for
# memory (podman 4.3 passes it no --persist-dir): keep that litter in the temp dir.
cd "$T" || exit 1
. "$ENGINES_DIR/lib.sh"
. "$ENGINES_DIR/podman.sh"
. "$ENGINES_DIR/podman-scenarios.sh"
. "$ENGINES_DIR/podman-rootless.sh"
. "$ENGINES_DIR/containerd.sh"
. "$ENGINES_DIR/docker.sh"
. "$ENGINES_DIR/docker-scenarios.sh"
. "$ENGINES_DIR/cri.sh"
write_runtime_wrapper "$T/bin/rind"

base=$(own_cgroup_base)
[ "$base" != conflict ] || { echo "scripts/engine-test.sh: this process's cgroups do not nest; cannot pick a parent under them" >&2; exit 1; }
CGROUP_PARENT=${base%/}/rind-engines-$$
note_cgroup_dirs "$CGROUP_PARENT"

cleanup() {
    trap - EXIT INT TERM
    cd /
    podman_cleanup
    podman_rootless_cleanup
    containerd_cleanup
    docker_cleanup
    cri_cleanup
    if [ -n "${ENGINE_KEEP:-}" ]; then
        mkdir -p "$ENGINE_KEEP"
        cp "$T/runtime-all.log" "$T/configs/last-create.json" "$T/results" "$ENGINE_KEEP/" 2>/dev/null
        cp "$T/containerd/containerd.log" "$T/podman/events.log" "$ENGINE_KEEP/" 2>/dev/null
        cp "$T/docker/dockerd.log" "$ENGINE_KEEP/" 2>/dev/null
        cp "$T/docker/containerd/containerd.log" "$ENGINE_KEEP/docker-containerd.log" 2>/dev/null
        cp "$T/cri/containerd.log" "$ENGINE_KEEP/cri-containerd.log" 2>/dev/null
    fi
    kill_processes_under "$T"
    unmount_under "$T"
    remove_cgroups
    rm -rf --one-file-system "$T"
    [ ! -e "$T" ] || echo "engine-test: could not remove $T" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

suite_start=$(now_ms)
echo "rind: $RIND ($("$RIND" --version))"
echo "state: $T, cgroup parent: $CGROUP_PARENT"

# wants GROUP: the group was asked for (by name, or with all).
wants() { [ "$what" = all ] || [ "$what" = "$1" ]; }

# group NAME BANNER SETUP SCENARIOS CLEANUP: one engine's scenarios, after its setup (a failed
# setup fails the group and shows its output), and its cleanup whatever happened.
group() {
    ENGINE=$1
    echo "== $2"
    if $3 >"$T/setup.out" 2>&1; then
        $4
    else
        failed=$((failed + 1))
        failures="$failures
  $1 setup"
        echo "FAIL  $1 setup"
        sed 's/^/      | /' "$T/setup.out"
    fi
    $5
}

wants podman && group podman \
    "podman $(podman --version | awk '{ print $3 }'), conmon $(conmon --version | awk 'NR==1 { print $3 }')" \
    podman_setup podman_scenarios podman_cleanup
wants podman-rootless && group podman-rootless \
    "rootless podman $(podman --version | awk '{ print $3 }'), $(slirp4netns --version | head -n 1), runc and rind as an ordinary user" \
    prl_setup podman_rootless_scenarios podman_rootless_cleanup
wants containerd && group containerd \
    "containerd $(containerd --version | awk '{ print $3 }')" \
    containerd_setup containerd_scenarios containerd_cleanup
wants docker && group docker \
    "docker $(/usr/sbin/dockerd --version | awk '{ print $3 }' | tr -d ,) (dockerd, its own containerd, runc v2 shim)" \
    docker_setup docker_scenarios docker_cleanup
wants cri && group cri \
    "containerd $(containerd --version | awk '{ print $3 }') CRI plugin (crictl; handlers: $CRI_HANDLERS; runc v2 shim, cgroupfs)" \
    cri_setup cri_scenarios cri_cleanup

secs=$(awk -v ms=$(($(now_ms) - suite_start)) 'BEGIN { printf "%.0f", ms / 1000 }')
[ -z "$failures" ] || echo "failed:$failures"
echo "engine suite: ${secs}s; $xfailed known failures (XFAIL, counted neither passed nor failed), $skipped skipped"
echo "engines: $passed passed, $failed failed"
[ "$failed" = 0 ]
