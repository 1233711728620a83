#!/bin/sh
# Runs inside the benchmark VM (scripts/bench/vm.sh), as the payload of scripts/vm/init: a
# pure cgroup v2 guest, where crun runs. Times floor, rind, runc and crun on the same bundle
# with hyperfine, and samples their peak RSS with GNU time.
#
# Output, one line each (read by the host):
#   RIND-BENCH-ENV key=value
#   RIND-BENCH-FAIL <runner> <first line of its error>    the runner could not run here
#   RIND-BENCH-JSON <bench> <hyperfine's JSON on one line>
#   RIND-BENCH-RSS <runner> <peak RSS in kB>
# Debian's runc, crun, hyperfine, GNU time, util-linux unshare and coreutils chroot, with their
# libraries, are in /bench/bin (busybox's applets of the same names are not what we want).
export PATH="/bench/bin:$PATH"
B=/bench/bundle
S=/tmp/bench-state
mkdir -p $S/rind $S/runc $S/crun
runs=${BENCH_VM_RUNS:-8}

echo "RIND-BENCH-ENV kernel=$(uname -r)"
echo "RIND-BENCH-ENV cpus=$(nproc)"
echo "RIND-BENCH-ENV cgroups=$(cat /sys/fs/cgroup/cgroup.subtree_control)"

# Absolute paths: busybox ash runs its own applet of a name before looking at PATH.
floor="/bench/bin/unshare --fork --pid --mount --uts --ipc --net --cgroup /bench/bin/chroot $B/rootfs /bin/true"
cmd_run() { # runner id
    case $1 in
        floor) echo "$floor" ;;
        *) echo "$1 --root $S/$1 run -b $B $2" ;;
    esac
}
cmd_cycle() { # runner
    echo "$1 --root $S/$1 create -b $B cyc && $1 --root $S/$1 start cyc && $1 --root $S/$1 delete -f cyc"
}

ok=""
for r in floor rind runc crun; do
    # shellcheck disable=SC2046,SC2091 # run the command the function prints, split into words
    if err=$($(cmd_run $r check) 2>&1); then
        ok="$ok $r"
    else
        echo "RIND-BENCH-FAIL $r $(echo "$err" | head -n 1)"
    fi
done

json() { # bench file
    echo "RIND-BENCH-JSON $1 $(tr -d '\n' <"$2")"
}

set --
for r in $ok; do set -- "$@" -n "$r" "$(cmd_run "$r" hf)"; done
if hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json /tmp/run.json "$@" >/tmp/run.txt 2>&1; then
    json run /tmp/run.json
else
    echo "RIND-BENCH-FAIL hyperfine-run $(tail -n 3 /tmp/run.txt | tr '\n' ' ')"
fi

set --
for r in $ok; do [ "$r" = floor ] || set -- "$@" -n "$r" "$(cmd_cycle "$r")"; done
if hyperfine --style basic --warmup 1 --runs "$runs" --export-json /tmp/cycle.json "$@" >/tmp/cycle.txt 2>&1; then
    json cycle /tmp/cycle.json
else
    echo "RIND-BENCH-FAIL hyperfine-cycle $(tail -n 3 /tmp/cycle.txt | tr '\n' ' ')"
fi

for r in $ok; do
    for i in 1 2 3; do
        # shellcheck disable=SC2046
        /bench/bin/time -f "RIND-BENCH-RSS $r %M" -o /tmp/rss.txt $(cmd_run "$r" "rss$i") >/dev/null 2>&1 && cat /tmp/rss.txt
    done
done
echo "RIND-BENCH-DONE"
