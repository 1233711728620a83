#!/bin/bash
# Times booting rind's test VM: the same kernel, machine and flags as scripts/vm-test.sh, with
# a minimal initramfs whose init prints a marker and powers off at once.
#
#   scripts/vm/boot-bench.sh [RUNS]        RUNS defaults to 5
#
# Prints one line per run, then the medians:
#   launch-to-marker   from starting qemu to the guest's init printing its first line
#   whole run          from starting qemu to qemu having exited
# and a last line for scripts to read:
#   boot-bench: accel=<kvm|tcg> runs=<N> failed=<F> marker_median_s=<s> total_median_s=<s>
# The accelerator is probed as in vm-test.sh (RIND_VM_ACCEL overrides it). A boot that shows no
# marker within 30 s counts as failed and is left out of the medians; any failure makes the
# script exit 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
VM_REPO=$(pwd)
# shellcheck source=scripts/vm/kernel.sh
. scripts/vm/kernel.sh
# shellcheck source=scripts/vm/qemu.sh
. scripts/vm/qemu.sh

runs=${1:-5}
case $runs in '' | *[!0-9]* | 0) vm_die "RUNS must be a positive integer, not '$runs'" ;; esac
[ "$(id -u)" = 0 ] || vm_die "run as root (the initramfs holds device nodes)"
scripts/install-deps.sh

kver=$(vm_kernel_release)
vm_vmlinux "$kver" >/dev/null
vm_minimal_initramfs "$kver" >/dev/null
accel=$(vm_pick_accel)

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "kernel $kver, accel $accel, machine microvm, ${VM_SMP} vCPUs, ${VM_MEM_MB} MiB"
printf '%-5s %18s %12s\n' run launch-to-marker "whole run"
markers=()
totals=()
failed=0
for i in $(seq 1 "$runs"); do
    if times=$(vm_boot_once "$accel" 30); then
        read -r marker total <<<"$times"
        markers+=("$marker")
        totals+=("$total")
        printf '%-5s %16s s %10s s\n' "$i" "$marker" "$total"
    else
        failed=$((failed + 1))
        printf '%-5s %18s\n' "$i" "no marker in 30 s"
    fi
done
marker_median=$(printf '%s\n' "${markers[@]}" | median)
total_median=$(printf '%s\n' "${totals[@]}" | median)
printf '%-5s %16s s %10s s\n' median "$marker_median" "$total_median"
echo "boot-bench: accel=$accel runs=$runs failed=$failed marker_median_s=$marker_median total_median_s=$total_median"
[ "$failed" = 0 ]
