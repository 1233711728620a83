#!/bin/sh
# Runs runtime-tools' validation programs against several runtimes, one program at a time, and
# scores them per assertion. Called by scripts/conformance.sh on the host and by the VM guest;
# written for busybox sh and awk as much as for dash and GNU tools.
#
#   suite.sh SUITE WORK NAME=RUNTIME... [-- PROGRAM...]
#
# SUITE is the built runtime-tools tree (runtimetest, rootfs-amd64.tar.gz and
# validation/<name>/<name>.t); WORK an empty directory for state, logs and results. Each
# NAME=RUNTIME is a runtime binary; the first is the reference, the last the one under test.
# Without PROGRAM, every validation program runs.
#
# Per program and runtime, in this order:
#   1. the program runs from SUITE with RUNTIME pointing at a wrapper that adds --root
#      WORK/state/NAME, with TMPDIR=WORK/tmp (0755: the user-namespace tests map to uid 1000),
#      under `timeout` (CONFORMANCE_TIMEOUT seconds, 120), in a tracking cgroup of its own in
#      every v1 controller hierarchy (the unified one on a pure cgroup v2 host), so that every
#      process it leaves behind can be found;
#   2. cleanup: every process left in the tracking cgroup is killed (the program, its
#      `unshare ... sleep` helpers, a hung runtime); every container in the runtime's root is
#      deleted with `delete --force`; the suite's fixed test cgroups (/cgrouptest and
#      testdir/cgrouptest/container below the runtime's own cgroup) and those named after
#      the ids the program created are thawed, emptied (kill by pid) and removed, in every
#      hierarchy, as is anything left below the tracking cgroup; the mounts under WORK/tmp are
#      detached and what is left there removed. The hierarchies themselves are never touched.
#      What had to be cleaned is written to WORK/out/PROGRAM.NAME.left.
#
# The whole run happens in a mount namespace of its own (private propagation): a runtime that
# mounts in "its" namespace, as runc does for a container without a mount namespace, mounts
# there and not on the host.
#
# Scoring (score.awk): every `ok`/`not ok` line of a top-level TAP document is an assertion,
# keyed by program, document and description (and the occurrence of that description), so that
# a missing or extra assertion does not shift the others. `# SKIP` and `# TODO` count as
# skipped. Each program adds one assertion of its own, "<program> runs to the end": passed when
# it exited 0 before its time-out and, if it printed no assertion, printed no "error" diagnostic
# (hooks, prestart, the *_fail programs report only that way).
#
# A program in which an assertion passed with the first runtime and not with the last runs once
# more with the last (some programs race the runtime, see below); the second run counts, and
# the script says which programs ran again. Not when more than five programs did: that is a
# broken runtime, not a race.
#
# Prints, per assertion, where the last runtime and the first differ, each runtime's totals,
# and ends with `conformance: N passed, M failed`: N assertions pass with the last runtime, M
# pass with the first and not with the last (missing counts as not passing). Exits 1 when M > 0.
set -eu

[ $# -ge 3 ] || {
    echo "usage: suite.sh SUITE WORK NAME=RUNTIME... [-- PROGRAM...]" >&2
    exit 2
}
suite=$(cd "$1" && pwd)
work=$2
shift 2
mkdir -p "$work"
work=$(cd "$work" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

runtimes=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in
        *=*) runtimes="$runtimes $1" ;;
        *) echo "suite.sh: want NAME=RUNTIME, got '$1'" >&2; exit 2 ;;
    esac
    shift
done
[ "${1:-}" = -- ] && shift
programs="$*"
if [ -z "$programs" ]; then
    programs=$(cd "$suite/validation" && for d in */; do
        d=${d%/}
        if [ -x "$d/$d.t" ]; then echo "$d"; fi
    done)
fi
limit=${CONFORMANCE_TIMEOUT:-120}

# A mount namespace of our own, with private propagation (see the top).
if [ "${RIND_CONFORMANCE_NS:-}" != 1 ]; then
    export RIND_CONFORMANCE_NS=1
    exec unshare --mount --propagation private -- "$0" "$suite" "$work" $runtimes -- $programs
fi

mkdir -p "$work/bin" "$work/out" "$work/tmp" "$work/state"
chmod 0755 "$work" "$work/tmp"
log() { echo "conformance: $*" >&2; }

# --- cgroups -------------------------------------------------------------------------------

# One line per cgroup hierarchy: "<mount point> <controllers or 'unified'> <own path>", where
# own path is this process's cgroup in it.
hierarchies() {
    awk '
        FNR == NR {
            n = index($0, ":"); rest = substr($0, n + 1)
            m = index(rest, ":"); ctl = substr(rest, 1, m - 1)
            own[ctl == "" ? "unified" : ctl] = substr(rest, m + 1)
            next
        }
        {
            sep = index($0, " - "); split(substr($0, 1, sep - 1), f, " ")
            split(substr($0, sep + 3), g, " ")
            if (g[1] == "cgroup2") { key = "unified" }
            else if (g[1] == "cgroup") {
                key = ""
                n = split(g[3], opt, ",")
                for (c in own) {
                    if (c == "unified") continue
                    k = split(c, want, ","); found = 0
                    for (i = 1; i <= k; i++) for (j = 1; j <= n; j++) if (want[i] == opt[j]) found++
                    if (found == k) key = c
                }
                if (key == "") next
            } else next
            path = own[key]
            if (f[4] != "/" && index(path, f[4]) == 1) path = substr(path, length(f[4]) + 1)
            if (path == "") path = "/"
            print f[5], key, path
        }
    ' /proc/self/cgroup /proc/self/mountinfo
}

tracking=rind-conformance-$$
hier=$(hierarchies)
[ -n "$hier" ] || { log "no cgroup hierarchy is mounted"; exit 1; }
v1=$(echo "$hier" | awk '$2 != "unified" && $2 !~ /^name=/' | wc -l)

# The tracking cgroups: "<dir>" per line. In every v1 controller hierarchy; on a host without
# any, in the unified one.
track_dirs=$(echo "$hier" | while read -r mnt key own; do
    if [ "$v1" -gt 0 ]; then
        case $key in unified | name=*) continue ;; esac
    fi
    echo "${mnt}${own%/}/$tracking"
done)

make_tracking() {
    for d in $track_dirs; do
        mkdir -p "$d"
        # A new v1 cpuset has no cpus and no mems: a process cannot join it until they are set.
        # (A v2 one inherits its parent's, and the root has no cpuset.cpus file.)
        if [ -f "$d/../cpuset.cpus" ] && [ -z "$(cat "$d/cpuset.cpus")" ]; then
            cat "$d/../cpuset.cpus" >"$d/cpuset.cpus"
            cat "$d/../cpuset.mems" >"$d/cpuset.mems"
        fi
    done
}

# The pids in cgroup DIR and every cgroup below it.
procs_below() {
    find "$1" -name cgroup.procs 2>/dev/null | while read -r f; do cat "$f" 2>/dev/null; done | sort -un
}

# Thaws, empties (SIGKILL, by pid) and removes cgroup DIR and every cgroup below it. Prints
# DIR when it existed.
clean_cgroup() {
    [ -d "$1" ] || return 0
    echo "cgroup $1"
    find "$1" -name freezer.state 2>/dev/null | while read -r f; do echo THAWED >"$f" 2>/dev/null || true; done
    find "$1" -name cgroup.freeze 2>/dev/null | while read -r f; do echo 0 >"$f" 2>/dev/null || true; done
    i=0
    while [ $i -lt 50 ]; do
        pids=$(procs_below "$1")
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null || true
        sleep 0.1
        i=$((i + 1))
    done
    find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ ! -d "$1" ] || echo "cgroup $1 could not be removed" >&2
}

# Kills every process left in the tracking cgroups (by pid), until none is left.
empty_tracking() {
    i=0
    while [ $i -lt 50 ]; do
        pids=$(for d in $track_dirs; do cat "$d/cgroup.procs"; done 2>/dev/null | sort -un)
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null || true
        sleep 0.1
        i=$((i + 1))
    done
    echo "processes still in the tracking cgroup: $pids" >&2
}

# --- one program ---------------------------------------------------------------------------

# cleanup NAME BINARY PROGRAM: everything the program left behind, as described at the top.
cleanup() {
    name=$1 bin=$2 prog=$3
    root=$work/state/$name
    empty_tracking
    for c in "$root"/*; do
        [ -d "$c" ] || continue
        id=$(basename "$c")
        echo "container $id"
        timeout -k 5 30 "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
        [ ! -e "$c" ] || { echo "container $id: delete --force left its state" >&2; rm -rf "$c"; }
    done
    ids=$(sed -n 's/^create .* \([^ ]*\)$/\1/p' "$work/out/$prog.$name.calls" 2>/dev/null || true)
    echo "$hier" | while read -r mnt key own; do
        clean_cgroup "$mnt/cgrouptest"
        clean_cgroup "${mnt}${own%/}/testdir"
        for id in $ids; do clean_cgroup "${mnt}${own%/}/$id"; done
    done
    for d in $track_dirs; do
        for sub in "$d"/*/; do clean_cgroup "${sub%/}"; done
    done
    awk -v t="$work/tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do
            echo "mount $m"
            umount -l "$m" 2>/dev/null || true
        done
    for f in "$work/tmp"/* "$work/tmp"/.[!.]*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        rm -rf "$f"
    done
}

# run_one NAME BINARY PROGRAM: runs PROGRAM against one runtime and cleans up after it.
run_one() {
    name=$1 bin=$2 prog=$3
    base=$work/out/$prog.$name
    wrapper=$work/bin/$name
    : >"$base.calls"
    start=$(date +%s)
    set +e
    (
        for d in $track_dirs; do echo 0 >"$d/cgroup.procs"; done
        cd "$suite"
        export RUNTIME="$wrapper" TMPDIR="$work/tmp" CONFORMANCE_CALLS="$base.calls"
        exec timeout -k 5 "$limit" "./validation/$prog/$prog.t"
    ) >"$base.out" 2>"$base.err" </dev/null
    rc=$?
    set -e
    elapsed=$(($(date +%s) - start))
    timed_out=0
    if [ "$rc" != 0 ] && [ "$elapsed" -ge "$limit" ]; then timed_out=1; fi
    echo "$rc $elapsed $timed_out" >"$base.status"
    cleanup "$name" "$bin" "$prog" >"$base.left" 2>&1
    printf '%-34s %-5s exit %3s %4ss%s\n' "$prog" "$name" "$rc" "$elapsed" \
        "$([ "$timed_out" = 1 ] && echo ' TIMED OUT')"
}

# --- the run -------------------------------------------------------------------------------

for spec in $runtimes; do
    name=${spec%%=*} bin=${spec#*=}
    [ -x "$bin" ] || { log "runtime $name: $bin is not executable"; exit 1; }
    mkdir -p "$work/state/$name"
    # The programs call $RUNTIME with the verbs only; the wrapper adds a root of this run's own
    # and records each call (the ids of the containers a program created, for cleanup).
    cat >"$work/bin/$name" <<EOF
#!/bin/sh
echo "\$*" >>"\${CONFORMANCE_CALLS:-/dev/null}"
exec "$bin" --root "$work/state/$name" "\$@"
EOF
    chmod 0755 "$work/bin/$name"
done

# The suite's fixed cgroups, left by a run that was interrupted, are the suite's own names.
left=$(echo "$hier" | while read -r mnt key own; do
    for d in "$mnt/cgrouptest" "${mnt}${own%/}/testdir"; do [ ! -d "$d" ] || clean_cgroup "$d"; done
done)
[ -z "$left" ] || log "removed the suite's fixed test cgroups left by an earlier run: $(echo "$left" | tr '\n' ' ')"

make_tracking
trap 'empty_tracking; for d in $track_dirs; do rmdir "$d" 2>/dev/null || true; done' EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
for prog in $programs; do
    [ -x "$suite/validation/$prog/$prog.t" ] || { log "no program $prog in $suite/validation"; exit 2; }
    for spec in $runtimes; do
        run_one "${spec%%=*}" "${spec#*=}" "$prog"
    done
done

# --- scoring -------------------------------------------------------------------------------

names=$(for spec in $runtimes; do echo "${spec%%=*}"; done)
ref=$(echo "$names" | head -n 1)
under=$(echo "$names" | tail -n 1)
under_bin=$(for spec in $runtimes; do echo "${spec#*=}"; done | tail -n 1)
score() {
    for prog in $programs; do
        read -r rc elapsed timed_out <"$work/out/$prog.$1.status"
        awk -v prog="$prog" -v rc="$rc" -v timed_out="$timed_out" -f "$here/score.awk" \
            "$work/out/$prog.$1.out"
    done >"$work/$1.scores"
}
compare() {
    awk -v ref="$ref" -v under="$under" -v out="$work/out" -v deliberate="$here/deliberate.txt" \
        "$@" -f "$here/compare.awk" "$work/$ref.scores" "$work/$under.scores"
}
for name in $names; do score "$name"; done

# A program with an assertion that fails only with the runtime under test runs once more with
# it: some programs race the runtime (killsig signals a shell that may not have set its trap
# yet, and a signal the init of a PID namespace has no handler for is dropped). Both runs are
# reported; the second one counts.
again=$(compare -v list=1 | sort)
# More than a few such programs is a broken runtime, not a race: no second run then.
if [ -n "$again" ] && [ "$(echo "$again" | wc -l)" -le 5 ]; then
    for prog in $again; do
        for f in out status left calls err; do
            mv "$work/out/$prog.$under.$f" "$work/out/$prog.$under.first-$f"
        done
        run_one "$under" "$under_bin" "$prog"
    done
    score "$under"
    echo "conformance: run again with $under, after a first run in which assertions that pass" \
        "with $ref failed: $(echo "$again" | tr '\n' ' ')(first run: out/PROGRAM.$under.first-*)"
fi
echo "conformance: the programs ran in $(($(date +%s) - t0)) s;" \
    "wall time $(($(date +%s) - ${CONFORMANCE_T0:-$t0})) s"
compare
