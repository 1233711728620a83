#!/bin/bash
# Tests rind's systemd cgroup driver (--systemd-cgroup) against a real systemd: boots the VM
# suite's kernel under qemu with an initramfs whose PID 1 is Debian's systemd (copied from this
# host's installed systemd package and the libraries it links), and runs scripts/vm/systemd-test.sh
# there as a service, twice: on pure cgroup v2 and on the hybrid layout
# (systemd.unified_cgroup_hierarchy=0). Prints the guests' "RIND-SD ok|FAIL" lines, each boot's
# wall time, "vm-systemd: N passed, M failed"; exits 0 only when every check passed.
#
# The systemd layer is cached in target/vm/<kernel>/systemd.cpio (rebuilt when the systemd
# package or this script changes); a second run only rebuilds rind and the small run layer.
# Environment: RIND_VM_ACCEL (kvm|tcg, default tcg here: see scripts/vm/qemu.sh),
# RIND_VM_SYSTEMD_TIMEOUT (each boot, seconds; 600, 3600 with critest),
# RIND_VM_SYSTEMD_PARTS (what runs, default "base cri"):
#   base     the driver's own checks and podman (scripts/vm/systemd-test.sh), on both boots
#   cri      the engine suite's CRI scenarios through containerd with SystemdCgroup = true
#            (scripts/vm/systemd-cri.sh, on the cgroup v2 boot)
#   critest  critest through the same containerd (slow under TCG: by hand)
# RIND_VM_SYSTEMD_CRI_HANDLERS: the handlers of both, "rind" by default (about 4 min of TCG for
# the scenarios), "rind runc" to compare with runc (twice that).
# docs/systemd.md and docs/kubernetes.md say what is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
VM_REPO=$(pwd)
# shellcheck source=scripts/vm/kernel.sh
. scripts/vm/kernel.sh
# shellcheck source=scripts/vm/qemu.sh
. scripts/vm/qemu.sh
[ "$(id -u)" = 0 ] || vm_die "run as root (the initramfs holds device nodes)"
t_start=$EPOCHREALTIME
parts=${RIND_VM_SYSTEMD_PARTS:-base cri}
for p in $parts; do
    case $p in base | cri | critest) ;; *) vm_die "RIND_VM_SYSTEMD_PARTS: unknown part '$p' (want base, cri, critest)" ;; esac
done
want() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }
# containerd, its shims and the containers need more than the 2 GiB the other guests get.
want cri || want critest && VM_MEM_MB=${RIND_VM_MEM:-4096}


triple=x86_64-unknown-linux-gnu
static_dir=$VM_REPO/target/static
mkdir -p "$VM_CACHE"
exec 9>"$VM_CACHE/systemd.lock"
flock 9

scripts/install-deps.sh
rootfs-fixtures/busybox-rootfs.sh
if want cri || want critest; then
    scripts/engines/install.sh
    rootfs-fixtures/images/build.sh
fi
if want critest && ! command -v docker-registry >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi
echo "vm-systemd: building a static rind in target/static" >&2
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$triple" --target-dir "$static_dir"
rind=$static_dir/$triple/release/rind

# Copies the host paths listed on stdin into staging root $1: symlinks as symlinks (systemd's
# unit aliases stay aliases), through the root's merged-/usr directory symlinks.
stage_paths() {
    tar -C / --no-recursion -cf - -T - 2>/dev/null | tar -C "$1" --keep-directory-symlink -xf -
}

# stage_packages ROOT PACKAGE...: the files of installed Debian packages (no docs, man pages
# or translations) into staging root ROOT.
stage_packages() {
    local root=$1 f
    shift
    dpkg -L "$@" | grep -vE '^/usr/share/(doc|man|locale|bash-completion|zsh|info)' | while read -r f; do
        [ -d "$f" ] && [ ! -L "$f" ] && continue
        echo "$f"
    done | stage_paths "$root"
}

# stage_libraries ROOT: the libraries every ELF file in ROOT links, copied with their names
# (dereferenced).
stage_libraries() {
    local root=$1 f lib
    find "$root" -type f -perm -u+x -o -type f -name '*.so*' | while read -r f; do
        ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'
    done | sort -u | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# The cached systemd layer: merged /usr, busybox for the applets systemd lacks, the systemd
# package, every library its binaries link, and a minimal /etc.
systemd_layer() {
    local kver=$1 dir=$VM_CACHE/$1 key root f lib pkgs
    # podman, when the host has it (scripts/engines/install.sh), goes in too.
    # util-linux: setpriv, to run the user manager's checks as that user; runc: the reference
    # the checks compare with.
    pkgs="systemd util-linux runc"
    # uidmap (newuidmap/newgidmap, setuid root) with it, for rootless podman.
    dpkg -s podman uidmap >/dev/null 2>&1 && pkgs="$pkgs podman conmon golang-github-containers-common uidmap"
    key="pkgs=$(dpkg-query -W -f='${Package}=${Version} ' $pkgs) busybox=$(dpkg-query -W -f='${Version}' busybox-static) script=$(cksum <"$0")"
    if [ -s "$dir/systemd.cpio" ] && [ "$(cat "$dir/systemd.key" 2>/dev/null)" = "$key" ]; then
        echo "$dir/systemd.cpio"
        return
    fi
    echo "vm-systemd: building the systemd layer" >&2
    mkdir -p "$dir"
    root=$dir/systemd-root
    rm -rf "$root"
    mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,etc,root,newroot,var}
    ln -s usr/bin "$root/bin"
    ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    ln -s ../run "$root/var/run"
    chmod 1777 "$root/tmp"
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
    # shellcheck disable=SC2086 # a list of package names
    stage_packages "$root" $pkgs
    stage_libraries "$root"
    # user@.service's PAM stack (the guest's /etc/pam.d/systemd-user) allows everything.
    mkdir -p "$root/usr/lib/x86_64-linux-gnu/security"
    cp /usr/lib/x86_64-linux-gnu/security/pam_permit.so "$root/usr/lib/x86_64-linux-gnu/security/"
    bb=$(vm_busybox)
    cp "$bb" "$root/usr/bin/busybox"
    for f in $("$root/usr/bin/busybox" --list-full); do
        [ -e "$root/$f" ] || [ -L "$root/$f" ] || ln -s /usr/bin/busybox "$root/$f"
    done
    cp /etc/os-release "$root/etc/os-release" 2>/dev/null || cp /usr/lib/os-release "$root/etc/os-release"
    : >"$root/etc/machine-id"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\nsystemd-journal:x:101:\n' >"$root/etc/group"
    vm_cpio "$root" "$dir/systemd.cpio"
    rm -rf "$root"
    echo "$key" >"$dir/systemd.key"
    echo "$dir/systemd.cpio"
}

# The cached CRI layer, appended after the systemd layer: containerd 1.6 with its runc shim and
# ctr, the CNI plugins the scenarios use, the tools cri.sh calls (jq, ip, coreutils'
# timeout and date over busybox's; dash, the host's sh, runs the scenarios: busybox's sh would
# run its own applets instead of coreutils'), crictl stripped, the overlay, veth and
# bridge modules with /lib/modules/load-order; with critest, critest and docker-registry too.
cri_layer() {
    local kver=$1 dir=$VM_CACHE/$1 key root tools pkgs name m rel
    tools=$(scripts/engines/cri-tools.sh)
    pkgs="containerd jq iproute2 coreutils dash"
    name=cri
    if want critest; then
        pkgs="$pkgs docker-registry"
        name=cri-critest
    fi
    # shellcheck disable=SC2086 # a list of package names
    key="pkgs=$(dpkg-query -W -f='${Package}=${Version} ' $pkgs containernetworking-plugins) tools=$(cat "$tools/crictl" "$tools/critest" | cksum) kernel=$(vm_kernel_package_version "$kver") script=$(cksum <"$0")"
    if [ -s "$dir/$name.cpio" ] && [ "$(cat "$dir/$name.key" 2>/dev/null)" = "$key" ]; then
        echo "$dir/$name.cpio"
        return
    fi
    echo "vm-systemd: building the $name layer" >&2
    root=$dir/$name-root
    rm -rf "$root"
    mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root/usr/lib/cni" "$root/rind/cri-tools" "$root/usr/lib/modules"
    ln -s usr/bin "$root/bin"
    ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    # shellcheck disable=SC2086 # a list of package names
    stage_packages "$root" $pkgs
    for m in bridge host-local loopback portmap; do cp /usr/lib/cni/$m "$root/usr/lib/cni/"; done
    stage_libraries "$root"
    strip -o "$root/rind/cri-tools/crictl" "$tools/crictl"
    want critest && strip -o "$root/rind/cri-tools/critest" "$tools/critest"
    cp "$tools/pause-oci.tar" "$root/rind/cri-tools/"
    for m in overlay veth bridge; do
        vm_module_closure "$kver" "$m"
    done | awk '!seen[$0]++' | while read -r rel; do
        vm_stage_module "$kver" "$rel" "$root"
    done >"$root/lib/modules/load-order"
    vm_cpio "$root" "$dir/$name.cpio"
    rm -rf "$root"
    echo "$key" >"$dir/$name.key"
    echo "$dir/$name.cpio"
}

# Writes bundle $1 (config.json over the shared rootfs) from rind's default spec and jq filter $2.
bundle() {
    local dir=$run/root/rind/bundles/$1
    mkdir -p "$dir"
    (cd "$dir" && "$VM_REPO/target/static/$triple/release/rind" spec)
    jq --arg root /rind/rootfs '.root.path = $root | .process.terminal = false | '"$2" \
        "$dir/config.json" >"$dir/config.json.new"
    mv "$dir/config.json.new" "$dir/config.json"
}

kver=$(vm_kernel_release)
vmlinux=$(vm_vmlinux "$kver")
layer=$(systemd_layer "$kver")
layers=$layer
if want cri || want critest; then
    layers="$layers $(cri_layer "$kver")"
fi

run=$VM_CACHE/systemd-run
rm -rf "$run"
mkdir -p "$run/root/rind/bin" "$run/root/etc/systemd/system"
cp "$rind" "$run/root/rind/bin/rind"
install -m 755 scripts/vm/systemd-test.sh "$run/root/rind/systemd-test.sh"
cp -a rootfs-fixtures/out/busybox/rootfs "$run/root/rind/rootfs"
echo "$parts" >"$run/root/rind/parts"
echo "${RIND_VM_SYSTEMD_CRI_HANDLERS:-rind}" >"$run/root/rind/cri-handlers"
if want cri || want critest; then
    # The scenarios themselves are the engine suite's, read from this checkout.
    install -m 755 scripts/vm/systemd-cri.sh "$run/root/rind/systemd-cri.sh"
    mkdir -p "$run/root/rind/engines" "$run/root/rind/fixtures/images"
    cp scripts/engines/lib.sh scripts/engines/cri.sh scripts/engines/cri.toml "$run/root/rind/engines/"
    cp rootfs-fixtures/out/images/busybox-oci.tar "$run/root/rind/fixtures/images/"
fi
if want critest; then
    cp scripts/engines/critest-lib.sh "$run/root/rind/engines/"
    # The images critest pulls, in a registry's storage built on the host (the guest has no
    # umoci, skopeo or Go); cached until the script that makes them changes.
    key="lib=$(cksum <scripts/engines/critest-lib.sh) busybox=$(cksum <rootfs-fixtures/out/images/busybox-oci.tar)"
    if [ ! -d "$VM_CACHE/critest-registry" ] || [ "$(cat "$VM_CACHE/critest-registry.key" 2>/dev/null)" != "$key" ]; then
        echo "vm-systemd: building critest's images" >&2
        scripts/engines/critest-registry.sh "$VM_CACHE/critest-registry"
        echo "$key" >"$VM_CACHE/critest-registry.key"
    fi
    cp -a "$VM_CACHE/critest-registry" "$run/root/rind/registry"
fi
# PID 1: the bind-mount-and-chroot step of scripts/vm/init (pivot_root needs a root that is
# not the initramfs), then systemd itself.
cat >"$run/root/init" <<'EOF'
#!/usr/bin/busybox sh
mount --rbind / /newroot
cd /newroot || exit 1
mount --move . /
exec chroot . /lib/systemd/systemd
EOF
chmod 755 "$run/root/init"
cat >"$run/root/etc/systemd/system/rind-systemd-test.service" <<'EOF'
[Unit]
Description=rind --systemd-cgroup tests
DefaultDependencies=no
AllowIsolate=yes
# The guest ends when the test does, whatever its result.
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/rind/systemd-test.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
EOF
bundle limits '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:rind:limits" |
    .linux.resources += {memory: {limit: 67108864, swap: 67108864},
        cpu: {shares: 1024, quota: 50000, period: 100000, cpus: "0", mems: "0"},
        pids: {limit: 32}, unified: {"memory.high": "62914560"}}'
bundle oom '.process.args = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"] |
    .linux.resources += {memory: {limit: 16777216, swap: 16777216}}'
bundle pids '.process.args = ["sleep", "1000"] |
    .linux.cgroupsPath = "kubepods-besteffort-pod1.slice:cri-containerd:pids" |
    .linux.resources += {pids: {limit: 8}}'
bundle badpath '.process.args = ["true"] | .linux.cgroupsPath = "/not/a/slice"'
bundle plain '.process.args = ["true"]'
bundle true '.process.args = ["true"]'
bundle v1 '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:rind:v1" |
    .linux.resources += {memory: {limit: 67108864},
        cpu: {shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0"}, pids: {limit: 32}}'
bundle slice '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:x:in.slice"'
# Rootless bundles for the user manager's checks: rind spec --rootless (a user namespace
# mapping one id to root) for the guest's uid 1000. "user" leaves out the cgroup2 mount, which
# fails for a rootless container in this guest with or without --systemd-cgroup
# (docs/systemd.md): the driver's checks need the container running; "user-plain" keeps it.
userbundle() {
    local dir=$run/root/rind/bundles/$1
    mkdir -p "$dir"
    (cd "$dir" && "$rind" spec --rootless)
    jq --arg root /rind/rootfs '.root.path = $root | .process.terminal = false |
        .linux.uidMappings[0].hostID = 1000 | .linux.gidMappings[0].hostID = 1000 | '"$2" \
        "$dir/config.json" >"$dir/config.json.new"
    mv "$dir/config.json.new" "$dir/config.json"
}
userbundle user '.process.args = ["sleep", "1000"] | .linux.resources = {pids: {limit: 16}, memory: {limit: 67108864}} |
    .mounts |= map(select(.destination != "/sys/fs/cgroup"))'
userbundle user-plain '.process.args = ["echo", "rootless-ok"]'
vm_cpio "$run/root" "$run/run.cpio"
# shellcheck disable=SC2086 # a list of paths without spaces
cat $layers "$run/run.cpio" >"$run/initramfs.cpio"

accel=${RIND_VM_ACCEL:-tcg}
echo "vm-systemd: kernel $kver, accel $accel, initramfs $(($(stat -c %s "$run/initramfs.cpio") / 1024 / 1024)) MiB," \
    "prepared in $(awk -v s="$t_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }') s" >&2
trap vm_stop_all EXIT
passed=0
failed=0

# boot NAME EXTRA-KERNEL-FLAGS: boots the guest once, shows its console, adds its checks to
# the totals. A guest that reports no exit status counts as one failure.
boot() {
    local name=$1 log=$run/console-$1.log start tail_pid qemu_status wall exit_line p f
    VM_APPEND_EXTRA="systemd.unit=rind-systemd-test.service systemd.show_status=false systemd.log_level=warning $2"
    vm_qemu_cmd "$accel" "$vmlinux" "$run/initramfs.cpio"
    start=$EPOCHREALTIME
    vm_start "$boot_timeout" "$log"
    tail -s 0.2 --pid="$VM_PID" -n +1 -f "$log" | tr -d '\r' &
    tail_pid=$!
    set +e
    wait "$VM_PID"
    qemu_status=$?
    wait "$tail_pid"
    set -e
    VM_QEMU_PIDS=()
    wall=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')
    exit_line=$(tr -d '\r' <"$log" | grep -o 'RIND-VM-EXIT=[0-9]*' | tail -n 1 || true)
    p=$(tr -d '\r' <"$log" | grep -c '^RIND-SD ok' || true)
    f=$(tr -d '\r' <"$log" | grep -c '^RIND-SD FAIL' || true)
    if [ -z "$exit_line" ]; then
        echo "vm-systemd: the $name guest did not report an exit status (qemu exited $qemu_status); console in $log" >&2
        f=$((f + 1))
    elif [ "${exit_line#*=}" -gt "$f" ]; then
        # Failures the guest counted without a FAIL line of their own (a part that stopped early).
        f=${exit_line#*=}
    fi
    echo "vm-systemd: $name guest: $p passed, $f failed, wall time ${wall} s ($accel, boot to power-off)"
    passed=$((passed + p))
    failed=$((failed + f))
}

# Pure cgroup v2 (systemd 252's default), then the hybrid layout (v1 controllers, cgroup2 at
# /sys/fs/cgroup/unified), which systemd 252 still makes when asked.
boot_timeout=${RIND_VM_SYSTEMD_TIMEOUT:-600}
want critest && boot_timeout=${RIND_VM_SYSTEMD_TIMEOUT:-3600}
boot v2 ""
want base && boot hybrid "systemd.unified_cgroup_hierarchy=0"
echo "vm-systemd: whole run $(awk -v s="$t_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }') s"
echo "vm-systemd: $passed passed, $failed failed"
[ "$failed" = 0 ]
