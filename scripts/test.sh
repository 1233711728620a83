#!/bin/sh
# Runs rind's whole test suite as root: unit tests, then the privileged integration tests that
# drive the release binary on this host.
#
#   scripts/test.sh            everything
#   scripts/test.sh docs       only the check that every file and name the docs cite exists
#   scripts/test.sh host       only the host suite
#   scripts/test.sh vm         only the VM suite (scripts/vm-test.sh: a pure cgroup v2 guest)
#   scripts/test.sh systemd    only --systemd-cgroup in a guest whose PID 1 is systemd, and
#                              pods through containerd with SystemdCgroup = true there
#                              (scripts/vm-systemd-test.sh)
#   scripts/test.sh engines    only podman, containerd, docker and CRI pods with rind as runtime (scripts/engine-test.sh)
#   scripts/test.sh runc-suite only runc's own integration suite, against runc and rind
#                              (scripts/runc-suite.sh)
#   scripts/test.sh conformance  only the OCI runtime spec's validation suite, rind against runc
#                              (scripts/conformance.sh)
#   scripts/test.sh fuzz       only the fuzz targets, FUZZ_SECONDS each (scripts/fuzz.sh)
#   scripts/test.sh critest    only Kubernetes' CRI validation suite through containerd, with
#                              rind and with runc (scripts/critest.sh)
#
# Installs what it needs (Debian packages, fixtures) first. Ends with cargo's summary lines, the
# tests that skipped themselves because they cannot apply on this host (each with its reason;
# tests/common/skip.rs) or are marked #[ignore = "reason"], and a final "N passed, M failed,
# K skipped" line for the whole run.
set -eu
cd "$(dirname "$0")/.."

what=${1:-all}
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (the tests create namespaces, mounts and cgroups)" >&2; exit 1; }

scripts/install-deps.sh
rootfs-fixtures/busybox-rootfs.sh
rootfs-fixtures/images/build.sh
# The foreign-input corpus (tests/foreign_*.rs): images by umoci, GNU tar and skopeo, and the
# configs podman, ctr and dockerd hand a recording runtime (installs the engines when missing).
rootfs-fixtures/foreign/images.sh
rootfs-fixtures/foreign/configs.sh

passed=0
failed=0
skipped=0
skip_lines=""
broken_parts=""
logdir=$(mktemp -d /tmp/rind-testlog.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

# Runs one part, showing its output, and adds the tests it reports to the totals: cargo's
# "test result: ... N passed; M failed" lines, or a part's own "...: N passed, M failed" line.
# A part that fails without reporting a failed test counts as one failure.
run_part() {
    name=$1; shift
    echo "==> $name"
    log="$logdir/part.log"
    # Tests that cannot apply on this host record themselves here (tests/common/skip.rs).
    export RIND_SKIP_LOG="$logdir/skips-$name"
    : > "$RIND_SKIP_LOG"
    { rc=0; "$@" 2>&1 || rc=$?; echo "$rc" > "$logdir/rc"; } | tee "$log"
    rc=$(cat "$logdir/rc")
    # The VM suite reports its guest's skips as RIND-VM-SKIP lines: once in the guest's console
    # as it runs and once more in scripts/vm-test.sh's recap, so each distinct line counts once.
    sed -n 's/^.*RIND-VM-SKIP //p' "$log" | tr -d '\r' | awk '!seen[$0]++' >> "$RIND_SKIP_LOG"
    # A part's own summary line wins; otherwise cargo's lines are summed.
    summary=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    if [ -n "$summary" ]; then
        p=$(echo "$summary" | sed 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/')
        f=$(echo "$summary" | sed 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/')
    else
        p=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
        f=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
    fi
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    # A test marked #[ignore = "reason"] did not run: libtest counts it as ignored, neither
    # passed nor failed. It is a skip too, listed with its binary and reason.
    ignored=$(awk '
        /^ *Running / { bin = $NF; sub(/^.*\//, "", bin); sub(/-[0-9a-f]+\)$/, "", bin) }
        /^test .* \.\.\. ignored/ {
            name = $2; why = $0; sub(/^.* \.\.\. ignored,? */, "", why)
            if (why == "") why = "ignored, no reason given"
            print bin "::" name ": " why " (#[ignore])"
        }' "$log")
    i=0
    if [ -n "$ignored" ]; then
        i=$(echo "$ignored" | grep -c .)
        skipped=$((skipped + i))
        skip_lines="$skip_lines$(echo "$ignored" | sed "s/^/  $name: /")
"
        echo "==> $name: $i ignored (counted as skipped)"
    fi
    # A skipped test ran to its end, so libtest counted it as passed: move it. (A part with a
    # summary line of its own, like fuzz, reports no libtest results: none to move.)
    s=$(grep -c . "$RIND_SKIP_LOG" || true)
    if [ "$s" -gt 0 ]; then
        if grep -q '^test result:' "$log"; then p=$((p - s)); fi
        skipped=$((skipped + s))
        skip_lines="$skip_lines$(sed "s/^/  $name: /" "$RIND_SKIP_LOG")
"
        echo "==> $name: $s skipped (counted apart from the passes)"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" != 0 ]; then broken_parts="$broken_parts $name"; echo "==> $name FAILED"; fi
}

# What the host tests could leave behind: cgroup directories and mounts. Only names the tests
# make are looked at (`unique` in tests/common: "<name>-<pid>-<n>", or "rind" in the path), so
# that what other processes on the machine do meanwhile does not count.
host_traces() {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d 2>/dev/null |
        grep -E -- '-[0-9]+-[0-9]+(/|$)|rind' | sort > "$1.cgroups" || true
    awk '{ print $5 }' /proc/self/mountinfo | grep -E -- '-[0-9]+-[0-9]+(/|$)|rind' |
        sort > "$1.mounts" || true
}

# A part of its own: passes when the host tests left no cgroup directory and no mount that
# was not there before them.
left_behind() {
    host_traces "$1.after"
    cg=$(comm -13 "$1.cgroups" "$1.after.cgroups")
    mnt=$(comm -13 "$1.mounts" "$1.after.mounts")
    if [ -z "$cg$mnt" ]; then
        echo "cleanup: 1 passed, 0 failed"
        return 0
    fi
    [ -z "$cg" ] || echo "$cg" | sed 's/^/cleanup: a cgroup directory left behind: /'
    [ -z "$mnt" ] || echo "$mnt" | sed 's/^/cleanup: a mount left behind: /'
    echo "cleanup: 0 passed, 1 failed"
    return 1
}

case $what in
    all|docs) run_part "docs" scripts/check-docs.py ;;
esac
case $what in
    all|host)
        cargo build --release --locked
        host_traces "$logdir/before"
        run_part "host" cargo test --release --locked --no-fail-fast
        run_part "cleanup" left_behind "$logdir/before"
        ;;
    docs|vm|systemd|engines|runc-suite|conformance|fuzz|critest) ;;
    *) echo "scripts/test.sh: unknown part '$what' (want: all, docs, host, vm, systemd, engines, runc-suite, conformance, fuzz, critest)" >&2; exit 2 ;;
esac
case $what in
    all|vm) run_part "vm" scripts/vm-test.sh ;;
esac
case $what in
    all|systemd) run_part "systemd" scripts/vm-systemd-test.sh ;;
esac
case $what in
    all|engines) run_part "engines" scripts/engine-test.sh ;;
esac
case $what in
    all|runc-suite) run_part "runc-suite" scripts/runc-suite.sh ;;
esac
case $what in
    all|conformance) run_part "conformance" scripts/conformance.sh ;;
esac
case $what in
    all|fuzz) run_part "fuzz" scripts/fuzz.sh ;;
esac
case $what in
    all|critest) run_part "critest" scripts/critest.sh ;;
esac

[ -z "$broken_parts" ] || echo "failing parts:$broken_parts"
[ -z "$skip_lines" ] || printf 'skipped, because they cannot apply on this host:\n%s' "$skip_lines"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
