#!/bin/bash
# Memory of N idle containers: starts N detached `sleep` containers with rind from the
# benchmark bundle's rootfs, measures them, and removes them.
#
#   scripts/bench/density.sh BUNDLE RIND N [STATE_DIR]
#
# Prints key=value lines (kB):
#   containers=N
#   rss_kb=...      sum of VmRSS of every container process (each counts busybox's pages again)
#   pss_kb=...      sum of Pss (shared pages divided among the processes that map them)
#   cgroup_kb=...   sum of each container's memory cgroup usage (v1 memory.usage_in_bytes, v2
#                   memory.current): the process's pages plus the kernel memory charged to it
#   runtime_kb=0    rind leaves no process behind a detached container (no shim, no monitor)
#   start_s=...     wall time to start all N, one after another
# Every container is killed and deleted on exit, whatever happened.
set -euo pipefail
bundle=$1 rind=$2 n=$3 state_dir=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$here/lib.sh"

work=$(mktemp -d /tmp/rind-density.XXXXXX)
root=${state_dir:-$work/state}
cleanup() {
    local id
    for id in $("$rind" --root "$root" list -q 2>/dev/null); do
        "$rind" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The same rootfs, read-only (the default spec's root.readonly), shared by every container.
mkdir -p "$work/bundle"
/usr/bin/python3 - "$bundle" "$work/bundle/config.json" <<'PY' || bench_die "density: could not write the bundle"
import json, sys
bundle, out = sys.argv[1:3]
with open(bundle + "/config.json") as f:
    config = json.load(f)
config["process"]["args"] = ["sleep", "3600"]
config["root"]["path"] = bundle + "/rootfs"
with open(out, "w") as f:
    json.dump(config, f, indent=2)
PY

start=$EPOCHREALTIME
for i in $(seq 1 "$n"); do
    "$rind" --root "$root" run -d -b "$work/bundle" "idle-$i" </dev/null >/dev/null ||
        bench_die "density: rind run -d idle-$i failed"
done
start_s=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.3f", e - s }')
sleep 1

rss=0 pss=0 cg=0
for i in $(seq 1 "$n"); do
    pid=$("$rind" --root "$root" state "idle-$i" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
    if [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; then
        bench_die "density: idle-$i has no running process"
    fi
    rss=$((rss + $(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")))
    pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")))
    v1=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
    if [ -n "$v1" ]; then
        bytes=$(cat "/sys/fs/cgroup/memory$v1/memory.usage_in_bytes")
    else
        bytes=$(cat "/sys/fs/cgroup$(awk -F: '$1 == 0 { print $3 }' "/proc/$pid/cgroup")/memory.current")
    fi
    cg=$((cg + bytes / 1024))
done
echo "containers=$n"
echo "rss_kb=$rss"
echo "pss_kb=$pss"
echo "cgroup_kb=$cg"
echo "runtime_kb=0"
echo "start_s=$start_s"
