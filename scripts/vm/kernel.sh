# shellcheck shell=bash
# The VM's kernel and its cached base initramfs, built from Debian packages.
#
# Sourced by scripts/vm-test.sh and scripts/vm/boot-bench.sh. Needs bash, root (mknod), and the
# packages that scripts/install-deps.sh installs (linux-image-amd64, busybox-static, cpio,
# xz-utils). Everything it makes lives under $VM_CACHE/<kernel version>/ (default
# target/vm/<kernel version>), so a new kernel package gets a fresh cache and an unchanged one
# costs nothing on the next run.

VM_REPO=${VM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VM_CACHE=${VM_CACHE:-$VM_REPO/target/vm}

# Kernel modules the guest loads at boot, dependencies first. Everything cgroup-, namespace-
# and seccomp-related is built into Debian's kernel; these are the container features that are
# modules: overlayfs (image layers), veth and bridge (container networks), loop (image files),
# tun (rootless networking).
VM_MODULES=${VM_MODULES:-"overlay veth bridge loop tun"}
# Where the host keeps the kernel's modules (a variable only so that the .ko.xz path can be
# exercised against a scratch tree).
VM_MODULES_ROOT=${VM_MODULES_ROOT:-/lib/modules}

vm_die() {
    echo "vm: $*" >&2
    exit 1
}

# Prints the kernel release ("6.1.0-56-amd64") that linux-image-amd64 currently depends on, or
# $RIND_VM_KERNEL when set.
vm_kernel_release() {
    if [ -n "${RIND_VM_KERNEL:-}" ]; then
        echo "$RIND_VM_KERNEL"
        return
    fi
    local dep
    dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null) ||
        vm_die "linux-image-amd64 is not installed (run scripts/install-deps.sh)"
    dep=${dep%% *}
    dep=${dep%%,*}
    [ -n "$dep" ] || vm_die "cannot read the kernel package that linux-image-amd64 depends on"
    echo "${dep#linux-image-}"
}

# Extracts the uncompressed ELF vmlinux from the bzImage at $1 into $2.
#
# The bzImage header (boot protocol 2.08+) names the compressed payload: setup_sects at 0x1f1,
# payload_offset at 0x248 and payload_length at 0x24c, both relative to the protected-mode code
# that starts after the setup sectors. Debian compresses it with xz and appends the 4-byte
# uncompressed size, which --single-stream ignores. Booting the ELF through qemu's PVH entry
# saves the guest ~2.8 s of decompression under TCG (see docs/vm-tests.md).
vm_extract_vmlinux() {
    local bz=$1 out=$2 setup_sects poff plen start
    [ "$(dd if="$bz" bs=1 skip=514 count=4 status=none)" = HdrS ] ||
        vm_die "$bz: not a bzImage (no HdrS header)"
    setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
    [ "$setup_sects" = 0 ] && setup_sects=4
    poff=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
    plen=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
    start=$(((setup_sects + 1) * 512 + poff))
    dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count="$plen" bs=1M status=none |
        xz -dc --single-stream >"$out.tmp" ||
        vm_die "$bz: the payload at byte $start is not an xz stream"
    [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" = 177ELF ] ||
        vm_die "$bz: the decompressed payload is not an ELF vmlinux"
    mv "$out.tmp" "$out"
}

# Prints the Debian version of the package that ships kernel release $1 ("6.1.192-2"), so that
# a rebuilt package with the same release name still refreshes the cache.
vm_kernel_package_version() {
    dpkg-query -W -f='${Version}' "linux-image-$1" 2>/dev/null || echo unpackaged
}

# Prints the path of the cached ELF vmlinux for kernel release $1, extracting it first if needed.
vm_vmlinux() {
    local kver=$1 dir=$VM_CACHE/$1 key
    key="package=$(vm_kernel_package_version "$kver")"
    if [ ! -s "$dir/vmlinux" ] || [ "$(cat "$dir/vmlinux.key" 2>/dev/null)" != "$key" ]; then
        [ -r "/boot/vmlinuz-$kver" ] || vm_die "/boot/vmlinuz-$kver is missing (reinstall linux-image-$kver)"
        mkdir -p "$dir"
        echo "vm: extracting vmlinux from /boot/vmlinuz-$kver" >&2
        vm_extract_vmlinux "/boot/vmlinuz-$kver" "$dir/vmlinux"
        echo "$key" >"$dir/vmlinux.key"
    fi
    echo "$dir/vmlinux"
}

# Prints the modules.dep paths of module $2 of kernel $1 and of everything it needs,
# dependencies first, one per line (duplicates possible; the caller drops them).
vm_module_closure() {
    local kver=$1 name=$2 line path deps d
    line=$(grep -m 1 -E "/${name}\.ko(\.xz|\.zst|\.gz)?:" "$VM_MODULES_ROOT/$kver/modules.dep" || true)
    if [ -z "$line" ]; then
        grep -qE "/${name}\.ko" "$VM_MODULES_ROOT/$kver/modules.builtin" 2>/dev/null && return 0
        vm_die "kernel $kver has no module '$name'"
    fi
    path=${line%%:*}
    deps=${line#*:}
    # modules.dep lists the direct and indirect dependencies, the deepest last.
    for d in $(echo "$deps" | tr ' ' '\n' | tac); do echo "$d"; done
    echo "$path"
}

# Copies module $2 (a modules.dep path) of kernel $1 into the staging root $3, uncompressed,
# since busybox insmod reads only plain .ko files. Prints the guest path.
vm_stage_module() {
    local kver=$1 rel=$2 root=$3 src plain
    src=$VM_MODULES_ROOT/$kver/$rel
    plain=${rel%.xz}
    plain=${plain%.zst}
    plain=${plain%.gz}
    mkdir -p "$root/lib/modules/$kver/$(dirname "$plain")"
    case $rel in
        *.xz) xz -dc "$src" >"$root/lib/modules/$kver/$plain" ;;
        *.zst) zstd -qdc "$src" >"$root/lib/modules/$kver/$plain" ;;
        *.gz) gzip -dc "$src" >"$root/lib/modules/$kver/$plain" ;;
        *) cp "$src" "$root/lib/modules/$kver/$plain" ;;
    esac
    echo "/lib/modules/$kver/$plain"
}

# Writes an uncompressed newc cpio of directory $1 to $2. Ownership and modes are kept, which is
# why the staging trees are built as root. Uncompressed on purpose: under TCG the guest unpacks
# a few MB of gzip more slowly than qemu copies the raw bytes.
vm_cpio() {
    local dir=$1 out=$2
    (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc) >"$out.tmp"
    mv "$out.tmp" "$out"
}

vm_busybox() {
    local bb
    bb=$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n 1)
    [ -x "$bb" ] || vm_die "busybox-static is not installed (run scripts/install-deps.sh)"
    echo "$bb"
}

# Lays out the guest's busybox userland in staging root $1: /bin/busybox, a symlink per applet,
# /dev/console (the kernel opens it for init's stdio before anything is mounted) and the mount
# points init uses.
vm_stage_userland() {
    local root=$1 bb applet
    bb=$(vm_busybox)
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,root,newroot,lib/modules}
    cp "$bb" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list-full); do
        [ "$applet" = bin/busybox ] && continue
        mkdir -p "$root/$(dirname "$applet")"
        [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
    done
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
    chmod 1777 "$root/tmp"
}

# Prints the path of the cached base initramfs for kernel release $1: busybox, the modules in
# $VM_MODULES with their dependencies, and /lib/modules/load-order (guest paths, in the order
# insmod must load them). Rebuilt when the kernel or busybox package or the module list changes.
vm_base_initramfs() {
    local kver=$1 dir=$VM_CACHE/$1 key root m rel
    key="kernel=$(vm_kernel_package_version "$kver") busybox=$(dpkg-query -W -f='${Version}' busybox-static) modules=$VM_MODULES format=1"
    if [ -s "$dir/base.cpio" ] && [ "$(cat "$dir/base.key" 2>/dev/null)" = "$key" ]; then
        echo "$dir/base.cpio"
        return
    fi
    [ -f "$VM_MODULES_ROOT/$kver/modules.dep" ] || vm_die "$VM_MODULES_ROOT/$kver is missing (reinstall linux-image-$kver)"
    echo "vm: building the base initramfs for $kver" >&2
    mkdir -p "$dir"
    root=$dir/base
    rm -rf "$root"
    vm_stage_userland "$root"
    for m in $VM_MODULES; do
        vm_module_closure "$kver" "$m"
    done | awk '!seen[$0]++' | while read -r rel; do
        vm_stage_module "$kver" "$rel" "$root"
    done >"$root/lib/modules/load-order"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    vm_cpio "$root" "$dir/base.cpio"
    rm -rf "$root"
    echo "$key" >"$dir/base.key"
    echo "$dir/base.cpio"
}
