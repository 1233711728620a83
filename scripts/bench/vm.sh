#!/bin/bash
# The VM half of the startup benchmark (called by scripts/bench-startup.sh):
#   1. boot time: scripts/vm/boot-bench.sh (launch to init's marker, and the whole run);
#   2. an idle VM's memory: qemu's RSS while a minimal guest sleeps;
#   3. rind, runc and crun in one guest: crun refuses hybrid cgroup hosts, so the three are
#      compared in a pure cgroup v2 guest (scripts/vm/init), on the same bundle, with
#      hyperfine (scripts/bench/guest.sh).
#
#   scripts/bench/vm.sh BUNDLE RESULTS_DIR
#
# Writes into RESULTS_DIR: vm-boot.txt, vm-idle.txt, vm-env.txt, vm-fail.txt, vm-rss.txt and
# vm-<bench>.json (hyperfine's JSON). The VM is the one scripts/vm-test.sh boots (same kernel,
# machine, flags and accelerator probe; see docs/vm-tests.md).
set -euo pipefail
bundle=$1 results=$2
cd "$(dirname "$0")/../.."
VM_REPO=$(pwd)
# shellcheck source=scripts/vm/kernel.sh
. scripts/vm/kernel.sh
# shellcheck source=scripts/vm/qemu.sh
. scripts/vm/qemu.sh
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

work=$VM_CACHE/bench
mkdir -p "$work"
trap vm_stop_all EXIT
trap 'exit 130' INT TERM

kver=$(vm_kernel_release)
vmlinux=$(vm_vmlinux "$kver")
accel=$(vm_pick_accel)
export RIND_VM_ACCEL=$accel
bench_log "vm: kernel $kver, accel $accel"

# 1. Boot time, 5 boots.
scripts/vm/boot-bench.sh 5 | tee "$work/boot.log" >&2
tail -n 1 "$work/boot.log" >"$results/vm-boot.txt"

# 2. An idle VM: busybox only, an init that prints the kernel's uptime and sleeps. qemu's
#    VmRSS is read 2 s after the guest says it has booted, at two guest memory sizes.
idle_root=$work/idle
rm -rf "$idle_root"
vm_stage_userland "$idle_root"
install -m 755 scripts/bench/idle-init "$idle_root/init"
vm_cpio "$idle_root" "$work/idle.cpio"
rm -rf "$idle_root"
: >"$results/vm-idle.txt"
for mem in 256 2048; do
    VM_MEM_MB=$mem
    vm_qemu_cmd "$accel" "$vmlinux" "$work/idle.cpio"
    vm_start 30 "$work/idle.log"
    for _ in $(seq 1 150); do
        grep -q "$VM_BOOTED_MARKER" "$work/idle.log" && break
        sleep 0.1
    done
    grep -q "$VM_BOOTED_MARKER" "$work/idle.log" || bench_die "vm: the idle guest did not boot"
    sleep 2
    # timeout -> qemu (setpriv execs qemu in place).
    qpid=$(pgrep -P "$VM_PID" | head -n 1)
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$qpid/status")
    # The guest's uptime when init ran: the kernel's part of the boot; the rest of
    # launch-to-marker is qemu starting and the firmware.
    uptime=$(tr -d '\r' <"$work/idle.log" | sed -n 's/^RIND-BENCH-UPTIME //p')
    echo "mem_mb=$mem qemu_rss_kb=$rss kernel_to_init_s=${uptime:-nan}" >>"$results/vm-idle.txt"
    wait "$VM_PID" || true
    VM_QEMU_PIDS=()
done
VM_MEM_MB=${RIND_VM_MEM:-2048}

# 3. The runtimes in one guest. Static rind (the initramfs has no loader for it to need);
#    runc, crun, hyperfine, GNU time, util-linux unshare and coreutils chroot are Debian's
#    dynamically linked binaries, copied with the libraries ldd names.
bench_log "vm: building the production rind (scripts/build-release.sh: static, LTO, ordered)"
rind_static=$(scripts/build-release.sh)
root=$work/root
rm -rf "$root"
mkdir -p "$root/rind/bin" "$root/bench"
install -m 755 scripts/vm/init "$root/init"
install -m 755 scripts/bench/guest.sh "$root/bench/guest.sh"
cp "$rind_static" "$root/rind/bin/rind"
file -b "$root/rind/bin/rind" | grep -qE 'static(-pie)? linked|statically linked' ||
    bench_die "vm: the production rind is not statically linked"
for prog in "$(command -v runc)" "$(command -v crun)" "$(command -v hyperfine)" /usr/bin/time \
    /usr/bin/unshare /usr/sbin/chroot; do
    bench_stage_dynamic "$prog" "$root" /bench/bin
done
cp -a "$bundle" "$root/bench/bundle"
{
    printf 'export RIND_VM_MODE=%q\n' "sh /bench/guest.sh"
    printf 'export RIND_VM_TEST_ARGS=\n'
    printf 'export RIND_VM_TEST_TIMEOUT=600\n'
} >"$root/rind/config"
vm_cpio "$root" "$work/run.cpio"
cat "$(vm_base_initramfs "$kver")" "$work/run.cpio" >"$work/initramfs.cpio"
rm -rf "$root"

vm_qemu_cmd "$accel" "$vmlinux" "$work/initramfs.cpio"
log=$work/console.log
bench_log "vm: running the runtimes in the guest (console in $log)"
limit=${RIND_VM_TIMEOUT:-900}
vm_start "$limit" "$log"
wait "$VM_PID" || true
VM_QEMU_PIDS=()
tr -d '\r' <"$log" >"$log.txt"
{
    sed -n 's/^RIND-BENCH-ENV //p' "$log.txt"
    echo "accel=$accel"
    echo "mem_mb=$VM_MEM_MB"
    echo "smp=$VM_SMP"
} >"$results/vm-env.txt"
sed -n 's/^RIND-BENCH-FAIL //p' "$log.txt" >"$results/vm-fail.txt"
# A guest that ran out of time leaves what it measured so far; the report shows the rest as
# missing, with this line as the reason.
if ! grep -q RIND-BENCH-DONE "$log.txt"; then
    echo "guest did not finish within $limit s (RIND_VM_TIMEOUT); console in $log" >>"$results/vm-fail.txt"
fi
sed -n 's/^RIND-BENCH-RSS //p' "$log.txt" >"$results/vm-rss.txt"
grep '^RIND-BENCH-JSON ' "$log.txt" | while read -r _ name json; do
    printf '%s\n' "$json" >"$results/vm-$name.json"
done
cat "$results/vm-fail.txt" >&2
