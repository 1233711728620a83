#!/bin/sh
# The validation suite inside the pure cgroup v2 VM (scripts/conformance.sh --vm).
#
#   scripts/conformance/vm.sh SUITE RUNC [PROGRAM...]
#
# SUITE is the built runtime-tools tree. Lays out, for RIND_VM_EXTRA: the programs, runtimetest
# and the root filesystem under /rind/conformance/suite, the scripts beside it, and the dynamic
# programs the guest's busybox cannot stand in for (runc, GNU tar, which the programs call to
# unpack a gzip archive, and util-linux unshare, whose --fork they use) in
# /rind/conformance/bin, with the shared libraries they load at their own paths. Then boots
# the guest with scripts/vm-test.sh --run, which runs scripts/conformance/suite.sh there
# against runc and the static rind. Without PROGRAM, every program but the linux_cgroups_*
# ones, which read cgroup v1 only ("cgroupv2 is not supported yet"). Ends with the guest's own
# `conformance: N passed, M failed` line.
set -eu
cd "$(dirname "$0")/../.."
suite=$1 runc=$2
shift 2
programs="$*"
if [ -z "$programs" ]; then
    programs=$(cd "$suite/validation" && for d in */; do
        d=${d%/}
        case $d in linux_cgroups_*) continue ;; esac
        if [ -x "$d/$d.t" ]; then echo "$d"; fi
    done | tr '\n' ' ')
fi

stage=$(pwd)/target/conformance/vm-extra
rm -rf "$stage"
guest=$stage/rind/conformance
mkdir -p "$guest/suite/validation" "$guest/bin"
cp "$suite/runtimetest" "$suite/rootfs-amd64.tar.gz" "$guest/suite/"
for p in $programs; do
    [ -x "$suite/validation/$p/$p.t" ] || { echo "conformance: no program $p" >&2; exit 2; }
    mkdir -p "$guest/suite/validation/$p"
    cp "$suite/validation/$p/$p.t" "$guest/suite/validation/$p/"
done
cp scripts/conformance/suite.sh scripts/conformance/score.awk scripts/conformance/compare.awk \
    scripts/conformance/deliberate.txt "$guest/"
for bin in "$runc" "$(command -v tar)" "$(command -v unshare)"; do
    cp -L "$bin" "$guest/bin/"
    # Each library at the path the loader looks for it (ldd's "=> /path" and the loader line).
    ldd "$bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | while read -r lib; do
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done
done
echo "conformance: in the VM: $(echo "$programs" | wc -w) programs, $(du -sm "$stage" | cut -f1) MiB added to the guest" >&2

log=target/vm/run/console.log
rc=0
RIND_VM_EXTRA=$stage RIND_VM_TIMEOUT=${RIND_VM_TIMEOUT:-3600} scripts/vm-test.sh --run \
    "PATH=/rind/conformance/bin:\$PATH CONFORMANCE_TIMEOUT=${CONFORMANCE_TIMEOUT:-300} sh /rind/conformance/suite.sh /rind/conformance/suite /tmp/conformance runc=/rind/conformance/bin/runc rind=/rind/bin/rind -- $programs" ||
    rc=$?
summary=$(tr -d '\r' <"$log" | grep -E '^conformance: [0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
if [ -z "$summary" ]; then
    echo "conformance: the guest reported no result (exit $rc); console in $log" >&2
    echo "conformance: 0 passed, 1 failed"
    exit 1
fi
echo "$summary"
exit "$rc"
