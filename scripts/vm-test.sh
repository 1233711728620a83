#!/bin/bash
# Runs rind's privileged test suite again inside a qemu VM: Debian's kernel with only cgroup2
# mounted (every controller on the unified hierarchy, no v1), booted from an initramfs.
#
#   scripts/vm-test.sh                  build static binaries, boot, run every test executable
#   scripts/vm-test.sh -- ARGS...       pass ARGS to each test executable instead of
#                                       --test-threads=2 (a name filter, --nocapture, ...)
#   scripts/vm-test.sh --run 'CMD'      run a guest shell command instead of the suite
#   scripts/vm-test.sh --shell          boot the same guest with an interactive shell
#
# Exits 0 only when the guest reported that every test passed. Prints one RIND-VM-RESULT line
# per test executable, one RIND-VM-SKIP line per test that skipped itself in the guest (its
# passes include them; scripts/test.sh moves them to the skipped count), "vm: N passed, M
# failed", and the suite's wall time. Environment:
# RIND_VM_ACCEL (kvm|tcg, default: probe), RIND_VM_MEM (MiB, 2048), RIND_VM_SMP (2),
# RIND_VM_TIMEOUT (whole VM, seconds, 900), RIND_VM_BOOT_TIMEOUT (launch to the suite's start, 60),
# RIND_VM_TEST_TIMEOUT (each executable, 600), RIND_VM_TESTS (names of the test executables to
# build and run, space-separated, e.g. "lib-rind rootless rootless_cgroup"; default: all),
# RIND_VM_APPEND (extra kernel command-line flags), RIND_VM_EXTRA (a directory added to the
# guest's root).
# How the VM is built and how to debug it: docs/vm-tests.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VM_REPO=$(pwd)
# shellcheck source=scripts/vm/kernel.sh
. scripts/vm/kernel.sh
# shellcheck source=scripts/vm/qemu.sh
. scripts/vm/qemu.sh

mode=tests
test_args=--test-threads=2
while [ $# -gt 0 ]; do
    case $1 in
        --shell) mode=shell ;;
        --run)
            [ $# -ge 2 ] || vm_die "--run needs a command"
            mode=$2
            shift
            ;;
        --)
            shift
            test_args="$*"
            break
            ;;
        *) vm_die "unknown argument '$1' (see the top of scripts/vm-test.sh)" ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || vm_die "run as root (the initramfs holds device nodes and root-owned fixtures)"

triple=x86_64-unknown-linux-gnu
static_dir=$VM_REPO/target/static
run_dir=$VM_CACHE/run
mkdir -p "$VM_CACHE"
# One run at a time per checkout: runs share target/vm/run (and a cold cache's staging trees).
exec 9>"$VM_CACHE/lock"
flock -n 9 || { echo "vm: waiting for another vm-test.sh in this checkout" >&2; flock 9; }
t_start=$EPOCHREALTIME

scripts/install-deps.sh
rootfs-fixtures/busybox-rootfs.sh
# The image fixtures and the engines' captured configs: the image-store, run-by-name and
# foreign-config tests read them in the guest too (each builder keeps a complete set).
rootfs-fixtures/images/build.sh
rootfs-fixtures/foreign/configs.sh

# Static binaries: the initramfs has no dynamic loader. A target dir of their own keeps them
# from invalidating the host build (the RUSTFLAGS differ).
echo "vm: building static binaries in target/static" >&2
export RUSTFLAGS='-C target-feature=+crt-static'
cargo build --release --locked --target "$triple" --target-dir "$static_dir"
# With RIND_VM_TESTS only the named executables are built (lib-rind: --lib, bin-rind: --bins,
# NAME: --test NAME), not all of them.
select=""
for label in ${RIND_VM_TESTS:-}; do
    case $label in
        lib-*) select="$select --lib" ;;
        bin-*) select="$select --bins" ;;
        *) select="$select --test $label" ;;
    esac
done
# One line per test executable: "<kind> <target name> <path>". cargo's JSON keeps the keys of a
# compiler-artifact in this order, and the profile object has no nested braces.
# shellcheck disable=SC2086 # a list of cargo arguments
cargo test --release --locked --no-run --target "$triple" --target-dir "$static_dir" --message-format=json $select |
    sed -n 's/.*"target":{"kind":\["\([a-z-]*\)"[^}]*"name":"\([^"]*\)".*"profile":{[^}]*"test":true[^}]*}.*"executable":"\([^"]*\)".*/\1 \2 \3/p' \
        >"$VM_CACHE/tests.txt"
unset RUSTFLAGS
[ -s "$VM_CACHE/tests.txt" ] || vm_die "cargo test --no-run listed no test executable"

# Per-run initramfs layer: the binaries, the fixtures, the guest scripts and the config. It is
# appended to the cached base layer; the kernel unpacks both, later files winning.
rm -rf "$run_dir"
mkdir -p "$run_dir/root/rind/bin" "$run_dir/root/rind/tests" "$run_dir/root/rind/fixtures"
root=$run_dir/root
install -m 755 scripts/vm/init "$root/init"
install -m 755 scripts/vm/run-tests.sh scripts/vm/smoke.sh "$root/rind/"
cp "$static_dir/$triple/release/rind" "$root/rind/bin/rind"
: >"$root/rind/tests.list"
while read -r kind name path; do
    label=$name
    [ "$kind" = test ] || label=$kind-$name
    # RIND_VM_TESTS: only the named executables (while iterating on a few tests).
    if [ -n "${RIND_VM_TESTS:-}" ] && ! printf ' %s ' "$RIND_VM_TESTS" | grep -qF " $label "; then
        continue
    fi
    cp "$path" "$root/rind/tests/$label"
    echo "$label /rind/tests/$label" >>"$root/rind/tests.list"
done <"$VM_CACHE/tests.txt"
for bin in "$root/rind/bin/rind" "$root"/rind/tests/*; do
    [ -e "$bin" ] || continue # RIND_VM_TESTS named none
    file -b "$bin" | grep -qE 'static(-pie)? linked|statically linked' ||
        vm_die "$bin is not statically linked: $(file -b "$bin")"
done
cp -a rootfs-fixtures/out/busybox rootfs-fixtures/out/images "$root/rind/fixtures/"
mkdir -p "$root/rind/fixtures/foreign"
cp -a rootfs-fixtures/out/foreign/configs "$root/rind/fixtures/foreign/"
# The rootless tests run rind as an ordinary user with subordinate ranges: newuidmap and
# newgidmap (Debian's uidmap), setuid root as installed, with the libraries they load at their
# own paths (the guest's busybox has no dynamic programs of its own).
for bin in /usr/bin/newuidmap /usr/bin/newgidmap; do
    [ -u "$bin" ] || vm_die "$bin is missing or not setuid (scripts/install-deps.sh installs uidmap)"
    mkdir -p "$root/usr/bin"
    cp -p "$bin" "$root/usr/bin/"
    ldd "$bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done
# tests/cve's attacker runs inside containers; the guest has no C compiler to build it.
cc -static -O2 -o "$root/rind/fixtures/cve-attacker" tests/cve/attacker.c
# RIND_VM_EXTRA: a directory laid over the guest's root (scripts/conformance.sh --vm puts the
# validation suite, runc and the libraries they need there).
[ -z "${RIND_VM_EXTRA:-}" ] || cp -a "$RIND_VM_EXTRA/." "$root/"
{
    printf 'export RIND_VM_MODE=%q\n' "$mode"
    printf 'export RIND_VM_TEST_ARGS=%q\n' "$test_args"
    printf 'export RIND_VM_TEST_TIMEOUT=%q\n' "${RIND_VM_TEST_TIMEOUT:-600}"
} >"$root/rind/config"
vm_cpio "$root" "$run_dir/run.cpio"

kver=$(vm_kernel_release)
vmlinux=$(vm_vmlinux "$kver")
base=$(vm_base_initramfs "$kver")
cat "$base" "$run_dir/run.cpio" >"$run_dir/initramfs.cpio"
accel=$(vm_pick_accel)
# Kernel warnings and stack traces reach the console ("quiet" alone keeps only errors): an OOM
# kill, a WARN, and a CPU stuck in the kernel show where they happened, on every CPU.
VM_APPEND_EXTRA="loglevel=5 softlockup_all_cpu_backtrace=1"
vm_qemu_cmd "$accel" "$vmlinux" "$run_dir/initramfs.cpio"
echo "vm: kernel $kver, accel $accel, ${VM_SMP} vCPUs, ${VM_MEM_MB} MiB," \
    "initramfs $(($(stat -c %s "$run_dir/initramfs.cpio") / 1024 / 1024)) MiB, prepared in" \
    "$(awk -v s="$t_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }') s" >&2

if [ "$mode" = shell ]; then
    # Interactive: the console is this terminal (Ctrl-A X quits qemu).
    VM_QEMU=("${VM_QEMU[@]/#stdio/mon:stdio}")
    exec timeout --foreground -k 3 "${RIND_VM_TIMEOUT:-3600}" "${VM_QEMU[@]}"
fi

log=$run_dir/console.log
trap vm_stop_all EXIT
trap 'exit 130' INT TERM

# boot_once: boots the guest once, shows its console as it arrives, and sets qemu_status, wall
# and exit_line ("RIND-VM-EXIT=<status>", or empty when the guest never reported one).
boot_once() {
    vm_start "${RIND_VM_TIMEOUT:-900}" "$log"
    local boot_start=$EPOCHREALTIME tail_pid watch_pid
    # Show the console as it arrives; tail ends shortly after qemu does. Both run in the
    # background so that bash's `wait` returns at once on INT or TERM and the traps end qemu.
    tail -s 0.2 --pid="$VM_PID" -n +1 -f "$log" | tr -d '\r' &
    tail_pid=$!
    # Without fd 9 (the checkout's lock), which its last sleep would otherwise hold a little
    # after this script has ended.
    vm_watch_guest "$log" "$VM_PID" "${RIND_VM_BOOT_TIMEOUT:-60}" 9>&- &
    watch_pid=$!
    set +e
    wait "$VM_PID"
    qemu_status=$?
    wait "$tail_pid"
    kill "$watch_pid" 2>/dev/null
    wait "$watch_pid"
    set -e
    VM_QEMU_PIDS=()
    wall=$(awk -v s="$boot_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')
    [ -s "$log.qemu" ] && sed 's/^/qemu: /' "$log.qemu" >&2
    exit_line=$(tr -d '\r' <"$log" | grep -o 'RIND-VM-EXIT=[0-9]*' | tail -n 1 || true)
}

boot_once
# A guest whose boot hung, or whose kernel locked up (both vCPUs spinning, docs/vm-tests.md),
# reports nothing: that is not a verdict on the tests, so the suite boots once more, and says so.
# A second such boot fails.
if [ -z "$exit_line" ] && [ "$mode" = tests ] && { vm_locked_up "$log" || ! vm_began "$log"; }; then
    cp "$log" "$log.lockup"
    if vm_began "$log"; then what="the guest kernel locked up"; else what="the guest's boot hung"; fi
    echo "vm: $what (its console is above, and in $log.lockup): booting the suite once more" >&2
    # The guest can tell the second boot by its command line (an unknown flag the kernel
    # ignores).
    VM_APPEND_EXTRA="$VM_APPEND_EXTRA rind.boot=2"
    vm_qemu_cmd "$accel" "$vmlinux" "$run_dir/initramfs.cpio"
    boot_once
fi
if [ -z "$exit_line" ]; then
    [ "$qemu_status" = 124 ] && echo "vm: killed after ${RIND_VM_TIMEOUT:-900} s (RIND_VM_TIMEOUT)" >&2
    vm_began "$log" || echo "vm: the guest's boot hung: init never started the suite" >&2
    vm_locked_up "$log" && echo "vm: the guest kernel locked up; its traces are in the console above" >&2
    echo "vm: the guest did not report an exit status (qemu exited $qemu_status); console in $log" >&2
    echo "vm: suite wall time ${wall} s ($accel)"
    echo "vm: 0 passed, 1 failed"
    exit 1
fi
guest_status=${exit_line#RIND-VM-EXIT=}
[ "$mode" = tests ] || exit "$guest_status"

# The guest's per-executable lines, and the totals summed from them.
results=$(tr -d '\r' <"$log" | sed -n '/RIND-VM-BEGIN/,/RIND-VM-END/p' | grep -o 'RIND-VM-RESULT .*' || true)
echo "vm: results"
echo "${results//RIND-VM-RESULT /  }"
# Tests that skipped themselves in the guest: scripts/test.sh counts these apart from the passes.
tr -d '\r' <"$log" | sed -n '/RIND-VM-BEGIN/,/RIND-VM-END/p' | grep -o 'RIND-VM-SKIP .*' || true
passed=$(echo "$results" | sed -n 's/.* passed=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
failed=$(echo "$results" | sed -n 's/.* failed=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
if [ "$guest_status" != 0 ] && [ "$failed" = 0 ]; then
    echo "vm: the guest suite exited $guest_status without a failed test; console in $log" >&2
    failed=1
fi
echo "vm: suite wall time ${wall} s ($accel, boot to power-off)"
[ -e "$log.lockup" ] && echo "vm: note: the first boot hung or its kernel locked up, and the suite ran again; console in $log.lockup"
echo "vm: $passed passed, $failed failed"
[ "$guest_status" = 0 ] && [ "$failed" = 0 ]
