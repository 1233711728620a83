#!/bin/sh
# Runs inside rind's test VM (busybox sh): the guest smoke test, then every test executable in
# /rind/tests.list, one after another, each under a time limit.
#
# For each executable it prints the executable's own output, then one line
#   RIND-VM-RESULT <name> status=<exit status> passed=<N> failed=<M>
# where N and M are summed from the libtest summary lines ("test result: ... N passed; M
# failed; ..."). An executable that exits non-zero without reporting a failed test (a crash, a
# time-out, a panic outside a test) counts as one failed test. Ends with "N passed, M failed"
# and exits 1 when anything failed.
#
# Tests find the runtime through RIND_BIN and the fixtures through RIND_FIXTURES, which
# /init exports (see docs/vm-tests.md).
export RUST_BACKTRACE=1
# Tests that cannot apply in the guest record themselves here (tests/common/skip.rs); they are
# printed as RIND-VM-SKIP lines at the end, for the host to count apart from the passes.
export RIND_SKIP_LOG=/tmp/rind-skips
: >"$RIND_SKIP_LOG"
limit=${RIND_VM_TEST_TIMEOUT:-600}
args=${RIND_VM_TEST_ARGS:---test-threads=2}

total_passed=0
total_failed=0

# run_one NAME COMMAND...: runs one test executable and records its result.
run_one() {
    name=$1
    shift
    echo "---- $name"
    log=/tmp/rind-vm-test.log
    start=$(date +%s)
    # The status comes back through a file because busybox sh pipelines report only the
    # status of their last command.
    { (cd /tmp && timeout "$limit" "$@"); echo $? >/tmp/rind-vm-test.status; } 2>&1 | tee "$log"
    status=$(cat /tmp/rind-vm-test.status)
    passed=$(sed -n 's/^test result: .* \([0-9][0-9]*\) passed; \([0-9][0-9]*\) failed;.*/\1/p' "$log" |
        awk '{ s += $1 } END { print s + 0 }')
    failed=$(sed -n 's/^test result: .* \([0-9][0-9]*\) passed; \([0-9][0-9]*\) failed;.*/\2/p' "$log" |
        awk '{ s += $1 } END { print s + 0 }')
    if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
        [ "$status" = 143 ] && echo "$name: killed after ${limit}s (RIND_VM_TEST_TIMEOUT)"
        failed=1
    fi
    echo "RIND-VM-RESULT $name status=$status passed=$passed failed=$failed time=$(($(date +%s) - start))s"
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
}

run_one guest-smoke sh /rind/smoke.sh
while read -r name path; do
    # $args is split on purpose: it holds several libtest flags.
    # shellcheck disable=SC2086
    run_one "$name" "$path" $args
done </rind/tests.list

echo "rind-vm: suite done $(cut -d' ' -f1 /proc/uptime) s after boot," \
    "$(awk '/MemTotal/ { t = $2 } /MemAvailable/ { a = $2 } END { print int((t - a) / 1024) }' /proc/meminfo) MiB in use"
sed 's/^/RIND-VM-SKIP /' "$RIND_SKIP_LOG"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
