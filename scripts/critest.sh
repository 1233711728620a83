#!/bin/sh
# Kubernetes' CRI validation suite (critest v1.26.1) against containerd 1.6's CRI plugin, with
# rind and with runc as the binary of the io.containerd.runc.v2 shim (the runtime handlers
# "rind" and "runc" of one private containerd, cgroupfs driver), and the specs that pass with
# runc and fail with rind.
#
#   scripts/critest.sh [HANDLER...]      default: rind runc
#
# Environment: RIND (the binary; default target/release/rind, built when missing),
# CRITEST_FOCUS / CRITEST_SKIP (ginkgo regexes), CRITEST_KEEP=DIR (copy the reports and logs).
#
# The setup is the engine suite's CRI group (scripts/engines/cri.sh: containerd, the CNI
# bridge and the streaming server in a private network namespace); the images, the registry,
# the runs and the comparison are scripts/engines/critest-lib.sh's, which the systemd guest
# shares (RIND_VM_SYSTEMD_PARTS=critest scripts/vm-systemd-test.sh).
#
# The HostIpc specs make System V shared memory segments with ipcmk where critest runs:
# critest and containerd share a private IPC namespace (cri.sh), and the segments die with it.
# Host ports (portmap, iptables) are set up in the private network namespace.
#
# critest sets no cgroup parent on its pods, so containerd gives each container the cgroup
# /k8s.io/<id>, at the root of every hierarchy; critest_wrap_cgroups (for both runtimes alike)
# moves it below this run's own cgroup.
#
# Ends with "critest: N passed, M failed", where a failure is a spec that passes with runc and
# fails with rind; per handler, the counts ginkgo reports.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ENGINES_DIR=$ROOT/scripts/engines
FIXTURES=$ROOT/rootfs-fixtures/out
ENGINE_TIMEOUT=${ENGINE_TIMEOUT:-60}
handlers=${*:-rind runc}
[ "$(id -u)" = 0 ] || { echo "scripts/critest.sh: run as root" >&2; exit 1; }

"$ENGINES_DIR/install.sh" || exit 1
rootfs-fixtures/busybox-rootfs.sh && rootfs-fixtures/images/build.sh || exit 1
if [ -z "${RIND:-}" ]; then
    cargo build --release --locked -q || exit 1
    RIND=$ROOT/target/release/rind
fi
command -v docker-registry >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null || exit 1
}

T=$(mktemp -d /tmp/rind-critest.XXXXXX)
chmod 711 "$T"
mkdir -p "$T/bin"
cd "$T" || exit 1
. "$ENGINES_DIR/lib.sh"
. "$ENGINES_DIR/cri.sh"
. "$ENGINES_DIR/critest-lib.sh"
write_runtime_wrapper "$T/bin/rind"

base=$(own_cgroup_base)
[ "$base" != conflict ] || { echo "scripts/critest.sh: this process's cgroups do not nest" >&2; exit 1; }
CGROUP_PARENT=${base%/}/rind-critest-$$
note_cgroup_dirs "$CGROUP_PARENT"

cleanup() {
    trap - EXIT INT TERM
    cd /
    [ -z "${REGISTRY_PID:-}" ] || { kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null; }
    cri_cleanup
    if [ -n "${CRITEST_KEEP:-}" ]; then
        mkdir -p "$CRITEST_KEEP"
        cp "$T"/critest-*.json "$T"/critest-*.out "$T/cri/containerd.log" "$CRITEST_KEEP/" 2>/dev/null
    fi
    kill_processes_under "$T"
    unmount_under "$T"
    remove_cgroups
    rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(now_ms)
CRI_PORTMAP=1
cri_setup >"$T/setup.out" 2>&1 || { cat "$T/setup.out"; exit 1; }
critest_wrap_cgroups "$T/bin/rind"
critest_wrap_cgroups "$T/bin/runc"
mkdir -p "$T/registry"
critest_serve_registry "$T/registry" || exit 1
critest_build_images "$K/netns" >"$T/images.out" 2>&1 || { cat "$T/images.out"; exit 1; }
echo "critest setup: $((($(now_ms) - start) / 1000))s (containerd, registry, images)"

# shellcheck disable=SC2086 # a word list
critest_run $handlers
critest_compare
