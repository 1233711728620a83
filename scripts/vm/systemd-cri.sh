#!/bin/dash
# Pods through containerd's CRI plugin on the systemd cgroup driver, in the guest whose PID 1 is
# systemd (scripts/vm-systemd-test.sh puts this in /rind and scripts/vm/systemd-test.sh runs
# it on the cgroup v2 boot). The scenarios are the engine suite's (scripts/engines/cri.sh, with
# CRI_CGROUP_DRIVER=systemd: SystemdCgroup = true for both handlers, each pod in a slice, each
# container a cri-containerd-<id>.scope), for rind and for runc; with "critest" in
# /rind/parts, critest runs too (scripts/engines/critest-lib.sh), for both.
#
# dash, as the host's /bin/sh: busybox's sh runs its own applets (date, timeout) before coreutils'.
# Prints the engine suite's lines, then one "RIND-SD ok|FAIL <scenario>" line per scenario for
# the outer script's count; exits with the number of failures.
export PATH=/rind/bin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
ENGINES_DIR=/rind/engines
FIXTURES=/rind/fixtures
CRI_TOOLS=/rind/cri-tools
BUSYBOX=/rind/rootfs/bin/busybox
RIND=/rind/bin/rind
ENGINE=cri-systemd
# TCG runs everything 10-30 times slower than the host.
ENGINE_TIMEOUT=180
CRI_SLOW=4
# critest takes 90 s a handler on the host; under TCG 10 to 30 times that.
CRITEST_TIMEOUT=2400
CRI_CGROUP_DRIVER=systemd
# The handlers: rind (and runc) as vm-systemd-test.sh was asked (RIND_VM_SYSTEMD_CRI_HANDLERS).
CRI_HANDLERS=$(cat /rind/cri-handlers)
# What containerd copies into each pod, which the guest's minimal /etc lacks.
[ -e /etc/hosts ] || printf '127.0.0.1 localhost\n::1 localhost\n' >/etc/hosts
[ -e /etc/resolv.conf ] || : >/etc/resolv.conf
# The bridge, veth and overlay modules (the systemd layer loads none).
while read -r m; do insmod "$m" 2>/dev/null; done </lib/modules/load-order

T=$(mktemp -d /tmp/rind-cri.XXXXXX)
chmod 711 "$T"
mkdir -p "$T/bin"
cd "$T" || exit 1
. "$ENGINES_DIR/lib.sh"
. "$ENGINES_DIR/cri.sh"
write_runtime_wrapper "$T/bin/rind"

cri_t0=$(now_ms)
echo "== containerd $(containerd --version | awk '{ print $3 }') CRI plugin, SystemdCgroup = true (handlers: $CRI_HANDLERS)"
if cri_setup >"$T/setup.out" 2>&1; then
    echo "guest: CRI setup $((($(now_ms) - cri_t0) / 1000)) s"
    if grep -qw cri /rind/parts; then
        cri_scenarios
    fi
    if grep -qw critest /rind/parts; then
        . "$ENGINES_DIR/critest-lib.sh"
        critest_guest
    fi
else
    sed 's/^/  | /' "$T/setup.out"
    echo "$ENGINE|cri setup|FAIL|0|" >>"$T/results"
    failed=$((failed + 1))
fi
cri_cleanup
echo "engines: $passed passed, $failed failed ($((($(now_ms) - cri_t0) / 1000)) s)"
while IFS='|' read -r _ name result secs reason; do
    case $result in
        PASS) echo "RIND-SD ok $name (${secs} s)" ;;
        SKIP) echo "guest: skipped $name [$reason]" ;;
        *) echo "RIND-SD FAIL $name" ;;
    esac
done <"$T/results"
left=$(cri_units)
[ -z "$left" ] || { echo "RIND-SD FAIL units left after the CRI run: $left"; failed=$((failed + 1)); }
exit "$failed"
