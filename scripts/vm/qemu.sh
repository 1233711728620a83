# shellcheck shell=bash
# How rind's test VM is launched: the qemu command line, the KVM probe, and a minimal
# "boot and say so" initramfs that the probe and scripts/vm/boot-bench.sh share.
#
# Sourced after scripts/vm/kernel.sh. Every qemu started here runs under `timeout`, and every
# background qemu is recorded in VM_QEMU_PIDS so that vm_stop_all can end it.

VM_MEM_MB=${RIND_VM_MEM:-2048}
VM_SMP=${RIND_VM_SMP:-2}
VM_BOOTED_MARKER=RIND-VM-BOOTED
VM_QEMU_PIDS=()

# Host TSC frequency in kHz. Under TCG, microvm has no device the kernel can calibrate the TSC
# against quickly; without tsc_early_khz, 2 boots in 5 hung at calibration (docs/vm-tests.md).
vm_host_khz() {
    awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000; exit }' /proc/cpuinfo
}

# Kernel command line. Each flag removes work the emulated CPU would otherwise do:
# quiet (console printing is slow over the emulated UART), mitigations=off (no speculation
# workarounds to patch in), nr_uarts=1 / i8042.* / pci=off (no probing of absent hardware),
# panic=-1 with qemu's -no-reboot (a crashed guest ends qemu at once instead of hanging).
vm_kernel_cmdline() {
    local accel=$1
    local cmdline="console=ttyS0 quiet panic=-1 mitigations=off 8250.nr_uarts=1 i8042.noaux i8042.nokbd i8042.nopnp pci=off"
    [ "$accel" = tcg ] && cmdline="$cmdline tsc_early_khz=$(vm_host_khz) tsc=reliable"
    # VM_APPEND_EXTRA: flags a caller adds (scripts/vm-test.sh: kernel warnings and stack
    # traces). RIND_VM_APPEND adds flags for debugging, e.g. "loglevel=7" to see every message.
    echo "$cmdline${VM_APPEND_EXTRA:+ $VM_APPEND_EXTRA}${RIND_VM_APPEND:+ $RIND_VM_APPEND}"
}

# Fills the array VM_QEMU with the qemu command line that boots kernel $2 with initramfs $3
# under accelerator $1 (kvm or tcg). The console is on stdio.
vm_qemu_cmd() {
    local accel=$1 kernel=$2 initrd=$3 cpu=qemu64
    # -cpu qemu64 boots 10-15% faster than -cpu max under TCG: fewer features to emulate.
    [ "$accel" = kvm ] && cpu=host
    # shellcheck disable=SC2054 # the commas belong to qemu's -M option
    VM_QEMU=(qemu-system-x86_64 -accel "$accel" -M microvm,pit=on,rtc=on -cpu "$cpu"
        -smp "$VM_SMP" -m "$VM_MEM_MB" -nodefaults -no-user-config -display none -no-reboot
        -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04
        -kernel "$kernel" -initrd "$initrd" -append "$(vm_kernel_cmdline "$accel")")
}

# Starts VM_QEMU under `timeout $1` in the background, console to file $2 (created before
# this returns), stdin from /dev/null; qemu's own messages go to $2.qemu. Sets VM_PID to the
# timeout process. setpriv's parent-death signal ends qemu whenever timeout ends, even by
# SIGKILL, so no qemu outlives its wrapper: a TERM that hit timeout while it was still starting
# once left an orphaned qemu behind.
vm_start() {
    local limit=$1 log=$2
    : >"$log"
    timeout -k 3 "$limit" setpriv --pdeathsig KILL "${VM_QEMU[@]}" </dev/null >"$log" 2>"$log.qemu" &
    VM_PID=$!
    VM_QEMU_PIDS+=("$VM_PID")
}

# Ends every qemu this shell started (through its timeout wrapper, which passes the signal on)
# and reaps it. Safe to call twice; meant for an EXIT trap.
vm_stop_all() {
    local pid
    for pid in "${VM_QEMU_PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    VM_QEMU_PIDS=()
}

# True when the guest console $1 shows that its kernel locked up: a CPU stuck in the kernel
# (the soft lockup watchdog) or an RCU stall.
vm_locked_up() {
    tr -d '\r' <"$1" | grep -qE 'BUG: soft lockup|rcu: INFO: rcu_(preempt|sched) (self-)?detected stall'
}

# True when the guest console $1 shows that init started the payload (RIND-VM-BEGIN).
vm_began() {
    grep -q RIND-VM-BEGIN "$1"
}

# Ends the guest whose timeout wrapper is $2 when its console $1 shows that it will not
# recover: init has not started the payload $3 s after launch (a boot that hung; it takes about
# 5 s), or a CPU has been stuck in the kernel for 100 s or more (a stalled host does not stop a
# guest CPU that long). Meant to run in the background for as long as the guest does.
vm_watch_guest() {
    local log=$1 pid=$2 boot_limit=$3 start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if tr -d '\r' <"$log" | grep -qE 'soft lockup - CPU#[0-9]+ stuck for [0-9]{3,}s'; then
            echo "vm: a guest CPU has been stuck in the kernel for 100 s or more: ending the guest" >&2
            kill "$pid" 2>/dev/null
            return
        fi
        if ((SECONDS - start >= boot_limit)) && ! vm_began "$log"; then
            echo "vm: the guest has not started the suite ${boot_limit} s after launch (its boot hung): ending it" >&2
            kill "$pid" 2>/dev/null
            return
        fi
        # In the background, so that a TERM from the caller ends this loop at once.
        sleep 5 &
        wait $!
    done
}

# Prints the cached minimal initramfs for kernel $1: busybox and an /init that prints
# $VM_BOOTED_MARKER and powers the machine off at once.
vm_minimal_initramfs() {
    local kver=$1 dir=$VM_CACHE/$1 root key
    key="busybox=$(dpkg-query -W -f='${Version}' busybox-static) init=$(cksum <"$VM_REPO/scripts/vm/marker-init")"
    if [ -s "$dir/minimal.cpio" ] && [ "$(cat "$dir/minimal.key" 2>/dev/null)" = "$key" ]; then
        echo "$dir/minimal.cpio"
        return
    fi
    mkdir -p "$dir"
    root=$dir/minimal
    rm -rf "$root"
    vm_stage_userland "$root"
    install -m 755 "$VM_REPO/scripts/vm/marker-init" "$root/init"
    vm_cpio "$root" "$dir/minimal.cpio"
    rm -rf "$root"
    echo "$key" >"$dir/minimal.key"
    echo "$dir/minimal.cpio"
}

# Boots the minimal initramfs once under accelerator $1 with a limit of $2 seconds. Prints
# "<launch-to-marker seconds> <whole-run seconds>" and returns 0 when the marker came, else 1.
vm_boot_once() {
    local accel=$1 limit=$2 kver vmlinux initrd start marked="" line
    kver=$(vm_kernel_release)
    vmlinux=$(vm_vmlinux "$kver")
    initrd=$(vm_minimal_initramfs "$kver")
    vm_qemu_cmd "$accel" "$vmlinux" "$initrd"
    start=$EPOCHREALTIME
    while IFS= read -r line; do
        case $line in *"$VM_BOOTED_MARKER"*) marked=$EPOCHREALTIME ;; esac
    done < <(timeout -k 1 "$limit" setpriv --pdeathsig KILL "${VM_QEMU[@]}" </dev/null 2>/dev/null)
    [ -n "$marked" ] || return 1
    awk -v s="$start" -v m="$marked" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.3f %.3f\n", m - s, e - s }'
}

# Prints the accelerator to use: $RIND_VM_ACCEL when set, else kvm when a KVM guest actually
# reaches init within 4 s, else tcg. On the project's machines /dev/kvm exists but a KVM guest
# hangs (nested virtualization), so the probe costs 4 s there and TCG is used.
vm_pick_accel() {
    if [ -n "${RIND_VM_ACCEL:-}" ]; then
        echo "$RIND_VM_ACCEL"
        return
    fi
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && vm_boot_once kvm 4 >/dev/null; then
        echo kvm
    else
        echo tcg
    fi
}
