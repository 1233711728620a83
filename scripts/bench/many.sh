#!/bin/bash
# Runs one command N times, in a row or all at once, and fails if any run failed. The
# startup benchmark times this whole script with hyperfine (crun's "100 containers in a row"
# and a 20-wide burst).
#
#   scripts/bench/many.sh seq|par N PREFIX CMD [ARGS...]
#
# Each run gets "PREFIX-<i>" appended as its last argument (the container id; /bin/true in the
# floor's command ignores it). Output goes to /dev/null; the first failure is reported on
# stderr and makes the exit status 1.
set -u
mode=$1 n=$2 prefix=$3
shift 3
fail=0
case $mode in
    seq)
        for i in $(seq 1 "$n"); do
            "$@" "$prefix-$i" >/dev/null 2>/tmp/bench-many.$$ || {
                echo "many: run $i failed: $(head -c 300 /tmp/bench-many.$$)" >&2
                fail=1
                break
            }
        done
        ;;
    par)
        pids=()
        for i in $(seq 1 "$n"); do
            "$@" "$prefix-$i" >/dev/null 2>&1 &
            pids+=($!)
        done
        for pid in "${pids[@]}"; do
            wait "$pid" || fail=1
        done
        [ "$fail" = 0 ] || echo "many: at least one of $n parallel runs failed" >&2
        ;;
    *)
        echo "many: mode must be seq or par, not '$mode'" >&2
        exit 2
        ;;
esac
rm -f /tmp/bench-many.$$
exit "$fail"
