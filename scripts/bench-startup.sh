#!/bin/bash
# rind's startup benchmark: rind against runc (and crun, in the VM), the kernel's own floor
# (unshare + chroot), and booting a VM, all measured in one run on this machine.
#
#   scripts/bench-startup.sh              everything (host, VM, density), then the report
#   scripts/bench-startup.sh host         only the host part, then the report
#   scripts/bench-startup.sh --no-report  everything, without rewriting docs/
#
# Writes the raw results (hyperfine JSON, RSS samples) to target/bench/results/, then the
# table in docs/benchmarks.md and the figures in docs/containers-vs-vms.md (each between its
# bench:begin/end markers), and the chart docs/benchmarks-startup.png. Took 6.5-7.7 minutes
# at load 6-9 on 2 cores once the static build existed (the first VM part builds it: 3 to 15
# more minutes). Not part of CI: times on a shared machine are noisy, so nothing here asserts
# a time; the report prints ratios measured in the same run. How to read it:
# docs/benchmarks.md.
#
# Environment: BENCH_RUNS (runs per command for `run`, default 40), BENCH_DROP_CACHES (1: the
# create/start/delete cycle drops the page cache before each run, as youki's recipe does; 0:
# it does not), BENCH_DENSITY (idle containers to start for the density figure, default 20),
# RIND_VM_* as for scripts/vm-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

what=all
report=1
for arg in "$@"; do
    case $arg in
        all | host) what=$arg ;;
        --no-report) report=0 ;;
        *) bench_die "unknown argument '$arg' (see the top of scripts/bench-startup.sh)" ;;
    esac
done
[ "$(id -u)" = 0 ] || bench_die "run as root (containers need namespaces, mounts and cgroups)"

runs=${BENCH_RUNS:-40}
drop_caches=${BENCH_DROP_CACHES:-1}
out=$repo/target/bench
results=$out/results
state=$out/state
bundle=$out/bundle
t_start=$EPOCHREALTIME

# Tools: hyperfine, GNU time (peak RSS), crun (VM only: it refuses hybrid cgroup hosts),
# util-linux unshare, matplotlib for the chart, lld for the production build.
scripts/install-deps.sh
need=""
for pkg in hyperfine time crun util-linux coreutils python3-matplotlib lld; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    bench_log "installing:$need"
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
rootfs-fixtures/busybox-rootfs.sh

# The binary as it is meant to be installed: static, LTO, its startup functions side by side
# (scripts/build-release.sh says why). The plain `cargo build --release` binary is measured
# too, as "rind (cargo release)", so the report shows what the production build is worth.
rind=$(scripts/build-release.sh)
cargo build --release --locked --quiet
rind_dev=$repo/target/release/rind
rm -rf "$results"
mkdir -p "$results" "$state"
# The state directories on a tmpfs of their own, as /run is on most hosts (it is not on the
# project's machines): on ext4, deleting a state.json that was just replaced by a rename waits
# for its writeback, about 10 ms per container here. Measured in one hyperfine run, 40 runs
# each: rind run 39.5 ms with its --root on ext4, 31.4 ms on tmpfs; runc 107.6 and 98.1 ms.
mountpoint -q "$state" && umount "$state"
mount -t tmpfs -o size=64m,mode=0700 rind-bench-state "$state"
cleanup() {
    local rt bin id
    for rt in rind runc; do
        bin=runc
        [ "$rt" = rind ] && bin=$rind
        for id in $("$bin" --root "$state/$rt" list -q 2>/dev/null); do
            "$bin" --root "$state/$rt" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    if mountpoint -q "$state"; then umount "$state"; fi
}
trap cleanup EXIT
mkdir -p "$state"/{rind,runc,density}
bench_make_bundle "$bundle" rootfs-fixtures/out/busybox/rootfs "$rind"

rind_run=("$rind" --root "$state/rind" run -b "$bundle")
rind_dev_run=("$rind_dev" --root "$state/rind" run -b "$bundle")
runc_run=(runc --root "$state/runc" run -b "$bundle")
# The floor: what the kernel itself costs for the same namespaces and the same /bin/true,
# with no runtime around it (no cgroup, no mounts beyond the namespace, no pivot_root).
floor_run=(unshare --fork --pid --mount --uts --ipc --net --cgroup chroot "$bundle/rootfs" /bin/true)
# The same, quoted for hyperfine's one-string commands.
q() { printf '%q ' "$@"; }


# Checks first: each command must run the container, or the timings mean nothing.
"${floor_run[@]}" || bench_die "the floor (unshare + chroot) failed"
"${rind_run[@]}" check-rind || bench_die "rind run failed on $bundle"
"${runc_run[@]}" check-runc || bench_die "runc run failed on $bundle"

# Machine and versions, for the report.
{
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "cores=$(nproc)"
    echo "mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "cgroups=$( [ -d /sys/fs/cgroup/memory ] && echo hybrid || echo unified)"
    echo "os=$(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)"
    echo "rind=$(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "runc=$(runc --version | awk 'NR == 1 { print $3 }')"
    echo "crun=$(crun --version | awk 'NR == 1 { print $3 }')"
    echo "hyperfine=$(hyperfine --version | awk '{ print $2 }')"
    echo "qemu=$(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }')"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/env.txt"

hf() {
    local name=$1
    shift
    bench_log "hyperfine: $name"
    hyperfine --style basic --export-json "$results/host-$name.json" "$@" >"$results/host-$name.txt"
    grep -E '^(Benchmark|  Time|  Range)' "$results/host-$name.txt" >&2 || true
}

# 1. One `run` of /bin/true, each runtime and the floor. No shell in between (-N).
hf run -N --warmup 5 --runs "$runs" \
    -n floor "$(q "${floor_run[@]}")" \
    -n rind "$(q "${rind_run[@]}" hf-rind)" \
    -n runc "$(q "${runc_run[@]}" hf-runc)"

# 1b. What the production build is worth: the same run, production binary against the plain
#     `cargo build --release` one.
hf build -N --warmup 5 --runs "$runs" \
    -n production "$(q "${rind_run[@]}" hf-prod)" \
    -n "cargo release" "$(q "${rind_dev_run[@]}" hf-dev)"

# 2. youki's published recipe: create, start and delete -f as one cycle, the page cache
#    dropped before each run, 10 warm-ups, at least 100 runs.
prepare=(--prepare true)
[ "$drop_caches" = 1 ] && prepare=(--prepare 'sync; echo 3 > /proc/sys/vm/drop_caches')
cycle() {
    local rt=$1
    echo "$rt --root $state/$rt create -b $bundle cyc && $rt --root $state/$rt start cyc && $rt --root $state/$rt delete -f cyc"
}
hf cycle "${prepare[@]}" --warmup 10 --min-runs 100 \
    -n rind "$(cycle "$rind")" -n runc "$(cycle runc)"

# 3. crun's published recipe: 100 containers of /bin/true in a row.
hf seq100 --warmup 1 --runs 3 \
    -n floor "$(q scripts/bench/many.sh seq 100 s "${floor_run[@]}")" \
    -n rind "$(q scripts/bench/many.sh seq 100 s "${rind_run[@]}")" \
    -n runc "$(q scripts/bench/many.sh seq 100 s "${runc_run[@]}")"

# 4. 20 at once, on 2 cores.
hf par20 --warmup 2 --runs 10 \
    -n floor "$(q scripts/bench/many.sh par 20 p "${floor_run[@]}")" \
    -n rind "$(q scripts/bench/many.sh par 20 p "${rind_run[@]}")" \
    -n runc "$(q scripts/bench/many.sh par 20 p "${runc_run[@]}")"

# 5. What --trace costs when on, and that off is the plain path: the same run both ways,
#    interleaved by hyperfine's order, in the same run.
hf trace -N --warmup 5 --runs "$runs" \
    -n "rind run" "$(q "${rind_run[@]}" tr-off)" \
    -n "rind --trace run" "$(q "$rind" --trace --root "$state/rind" run -b "$bundle" tr-on)"

# 6. The runtime binary alone: exec, dynamic loading, argument parsing, exit.
hf exec -N --warmup 5 --runs 50 \
    -n "rind --version" "$(q "$rind" --version)" \
    -n "runc --version" "$(q runc --version)"

# 7. Peak RSS per container start (GNU time's maximum resident set size: the largest of the
#    runtime and every child it waited for, including runc's re-executed init), 7 samples.
rss() {
    local name=$1 i
    shift
    for i in 1 2 3 4 5 6 7; do
        /usr/bin/time -f "$name %M" -a -o "$results/host-rss.txt" "$@" "rss-$i" >/dev/null 2>&1 ||
            bench_die "$name failed under /usr/bin/time"
    done
}
: >"$results/host-rss.txt"
rss floor "${floor_run[@]}"
rss rind "${rind_run[@]}"
rss rind-cargo-release "${rind_dev_run[@]}"
rss runc "${runc_run[@]}"

# 8. The trace of one start, kept for docs/containers-vs-vms.md, and the median time of each
#    traced step over 20 runs.
"$rind" --trace --root "$state/rind" run -b "$bundle" trace-sample 2>"$results/trace.txt"
/usr/bin/python3 scripts/bench/trace-steps.py "$rind" "$bundle" "$state/rind" 20 >"$results/trace-steps.md"

if [ "$what" = all ]; then
    # 9. Density: N idle `sleep` containers, their memory against one idle VM's.
    scripts/bench/density.sh "$bundle" "$rind" "${BENCH_DENSITY:-20}" "$state/density" >"$results/density.txt"
    # 10. The VM: boot time, qemu's RSS, and rind, runc and crun measured inside it.
    scripts/bench/vm.sh "$bundle" "$results"
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/env.txt"
echo "wall_s=$(awk -v s="$t_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }')" >>"$results/env.txt"
if [ "$report" = 1 ]; then
    /usr/bin/python3 scripts/bench/report.py "$results" docs/benchmarks.md docs/benchmarks-startup.png \
        docs/containers-vs-vms.md
fi
bench_log "done in $(awk -v s="$t_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }') s; results in $results"
