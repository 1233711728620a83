# Shared parts of scripts/engine-test.sh (sourced, POSIX sh): counting scenarios, checking
# results, the runtime wrapper that records what an engine asked of rind, and cleanup of the
# mounts, processes and cgroups the engines leave behind.
#
# Variables the caller sets before sourcing: T (the private temp dir), RIND (the rind binary).

passed=0
failed=0
xfailed=0
skipped=0
failures=""
# One line per scenario for docs/compatibility.md: "engine|name|result|seconds".
: >"$T/results"

now_ms() { date +%s%3N; }

# scenario NAME FUNCTION [ARGS...]: runs one scenario; the function returns 0 when every check
# held. Its output is shown only when it fails.
scenario() {
    _run_scenario "" "$@"
}

# xfail_scenario REASON NAME FUNCTION [ARGS...]: a scenario known to fail because of a gap in
# rind (REASON says which). It is counted apart: an XFAIL is neither a pass nor a failure, and
# an unexpected pass (XPASS) is a failure, so that the list of known gaps stays true.
xfail_scenario() {
    _run_scenario "$@"
}

_run_scenario() {
    reason=$1 name=$2
    shift 2
    if [ -n "${ENGINE_ONLY:-}" ] && ! printf '%s' "$name" | grep -Eq -- "$ENGINE_ONLY"; then
        return 0
    fi
    : >"$T/runtime.log"
    start=$(now_ms)
    if "$@" >"$T/scenario.out" 2>&1 </dev/null; then ok=1; else ok=0; fi
    # An engine that quietly ran another runtime would pass for the wrong reason. The CRI
    # scenarios also run with runc (SCENARIO_RUNTIME=runc), whose wrapper logs "runc ARGS".
    if ! grep -q "^${SCENARIO_RUNTIME:-rind} " "$T/runtime.log"; then
        echo "${SCENARIO_RUNTIME:-rind} was never invoked: the engine used another runtime" >>"$T/scenario.out"
        ok=0
    fi
    secs=$(awk -v ms=$(($(now_ms) - start)) 'BEGIN { printf "%.1f", ms / 1000 }')
    if [ -n "$reason" ]; then
        if [ $ok = 1 ]; then
            result=XPASS
            failed=$((failed + 1))
            failures="$failures
  $name (XPASS: remove the xfail)"
        else
            result=XFAIL
            xfailed=$((xfailed + 1))
        fi
    elif [ $ok = 1 ]; then
        result=PASS
        passed=$((passed + 1))
    else
        result=FAIL
        failed=$((failed + 1))
        failures="$failures
  $name"
    fi
    printf '%-5s %s (%ss)%s\n' "$result" "$name" "$secs" "${reason:+  [$reason]}"
    echo "$ENGINE|$name|$result|$secs|$reason" >>"$T/results"
    if [ "$result" = FAIL ] || [ "$result" = XPASS ] || [ -n "${ENGINE_VERBOSE:-}" ]; then
        sed 's/^/      | /' "$T/scenario.out"
        if [ -s "$T/runtime.log" ]; then
            echo "      | ${SCENARIO_RUNTIME:-rind} invocations:"
            tail -n 8 "$T/runtime.log" | cut -c1-400 | sed 's/^/      |   /'
        fi
    fi
}

# skip NAME REASON: a scenario this host cannot run. scripts/test.sh lists it, with its reason,
# among the run's skips (RIND_SKIP_LOG).
skip() {
    skipped=$((skipped + 1))
    printf 'SKIP  %s  [%s]\n' "$1" "$2"
    echo "$ENGINE|$1|SKIP|0|$2" >>"$T/results"
    [ -z "${RIND_SKIP_LOG:-}" ] || echo "engine scenario $1: $2" >>"$RIND_SKIP_LOG"
}

# expect WHAT EXPECTED GOT: prints a mismatch and fails.
expect() {
    if [ "$2" = "$3" ]; then
        return 0
    fi
    printf '%s: expected [%s], got [%s]\n' "$1" "$2" "$3"
    return 1
}

# expect_match WHAT REGEX GOT: GOT must match the extended regular expression.
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then
        return 0
    fi
    printf '%s: expected to match /%s/, got [%s]\n' "$1" "$2" "$3"
    return 1
}

# in_pty COMMAND: runs a shell command line with a pseudo-terminal as its stdin/stdout
# (util-linux script), so that -t works without a terminal; carriage returns are dropped.
in_pty() {
    timeout -k 5 "$ENGINE_TIMEOUT" script -qec "$1" /dev/null </dev/null | tr -d '\r'
}

# write_runtime_wrapper PATH [ROOT]: a shell script that records each invocation (argv, and
# the config.json of create and run) in $T, then execs rind, with --root ROOT added when the
# engine passes no --root of its own. Engines run it as their runtime; when a scenario fails,
# the script shows what rind was asked.
write_runtime_wrapper() {
    mkdir -p "$T/configs"
    cat >"$1" <<EOF
#!/bin/sh
echo "rind \$*" >>"$T/runtime.log"
echo "rind \$*" >>"$T/runtime-all.log"
root=${2:-}
prev=
for a in "\$@"; do
    case \$a in --root|--root=*) root= ;; esac
    case \$prev in --bundle|-b) cp "\$a/config.json" "$T/configs/last-create.json" 2>/dev/null ;; esac
    prev=\$a
done
exec "$RIND" \${root:+--root "\$root"} "\$@"
EOF
    chmod 755 "$1"
}

# own_cgroup_base: the deepest cgroup path of this process such that its path in every
# hierarchy is a prefix of it. A cgroup parent below it lies under this process's own cgroup
# everywhere (the rule for tests on a shared host).
own_cgroup_base() {
    awk -F: '
        { p = $3; sub(/^\/\.\.(\/\.\.)*/, "", p); if (p == "") p = "/"; paths[NR] = p
          if (length(p) > length(best)) best = p }
        END {
            for (i in paths) {
                q = paths[i]
                if (q != "/" && q != best && index(best, q "/") != 1) { print "conflict"; exit }
            }
            print best
        }' /proc/self/cgroup
}

# cgroup_mounts: the mount points of every cgroup and cgroup2 hierarchy (in mountinfo the
# filesystem type follows the "-" separator, after a variable number of optional fields).
cgroup_mounts() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup2?$/) print $5; break } }' \
        /proc/self/mountinfo
}

# cgroup_roots: where the engines make cgroup directories: every hierarchy's mount point and,
# when /sys/fs/cgroup is the v1 tmpfs, every directory in it. podman's cgroupfs manager makes
# directories for controllers the host has not mounted (hugetlb, net_cls, perf_event...) as
# plain directories in that tmpfs.
cgroup_roots() {
    {
        cgroup_mounts
        if [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
            for d in /sys/fs/cgroup/*/; do [ -d "$d" ] && echo "${d%/}"; done
        fi
    } | sort -u
}

# note_cgroup_dirs PARENT: records PARENT's directory in every hierarchy, and the directories
# on its path that do not exist yet, so that cleanup removes exactly what the engines created.
note_cgroup_dirs() {
    : >"$T/cgroup-parents"
    : >"$T/cgroup-ancestors"
    for m in $(cgroup_roots); do
        echo "$m$1" >>"$T/cgroup-parents"
        d=$(dirname "$1")
        while [ "$d" != / ] && [ -n "$d" ]; do
            [ -d "$m$d" ] || echo "$m$d" >>"$T/cgroup-ancestors"
            d=$(dirname "$d")
        done
    done
}

# remove_cgroups: kills what is left in the engines' cgroups (processes the engines started:
# nothing else lives below the parent) and removes them, deepest first; then the ancestors
# this run created, when they are empty (rmdir refuses otherwise).
remove_cgroups() {
    [ -f "$T/cgroup-parents" ] || return 0
    while read -r top; do
        [ -d "$top" ] || continue
        # A frozen process takes its SIGKILL only once thawed.
        find "$top" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \; 2>/dev/null
        find "$top" -name cgroup.freeze -exec sh -c 'echo 0 >"$1"' _ {} \; 2>/dev/null
        find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null |
            while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
        # podman's directories for unmounted controllers are plain tmpfs directories, with
        # plain files (its "tasks") in them.
        if [ "$(stat -f -c %T "$top" 2>/dev/null)" = tmpfs ]; then
            rm -rf --one-file-system "$top"
        fi
        i=0
        while [ -d "$top" ] && [ $i -lt 30 ]; do
            find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
            [ -d "$top" ] && sleep 0.1
            i=$((i + 1))
        done
    done <"$T/cgroup-parents"
    sort -ru "$T/cgroup-ancestors" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    remove_ghost_cgroups "${CGROUP_PARENT:-}"
    left=$(while read -r d; do [ -d "$d" ] && echo "$d"; done <"$T/cgroup-parents")
    [ -z "$left" ] || echo "engine-test: cgroups left behind: $left" >&2
}

# remove_ghost_cgroups PARENT: on a v1 or hybrid host, podman's cgroupfs manager makes
# directories for controllers the host has not mounted (hugetlb, net_cls, perf_event...) as
# plain directories of the /sys/fs/cgroup tmpfs, with plain "tasks" files in them, and may do so
# during the run. Removes PARENT in each of them, then the directories on its path that are
# left empty (a directory someone else uses is not empty, and stays).
remove_ghost_cgroups() {
    [ -n "$1" ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ] || return 0
    for g in /sys/fs/cgroup/*/; do
        g=${g%/}
        [ "$(stat -f -c %T "$g" 2>/dev/null)" = tmpfs ] || continue # a mounted hierarchy
        [ -d "$g$1" ] || continue
        rm -rf --one-file-system "$g$1"
        d=$(dirname "$g$1")
        while [ "$d" != /sys/fs/cgroup ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
    done
}

# kill_processes_under DIR: ends every process whose command line names DIR (conmon,
# containerd, its shims: all started by this script with paths in its temp dir), by pid.
kill_processes_under() {
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$1"; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
}

# unmount_under DIR: lazily unmounts every mount point below DIR, deepest first.
unmount_under() {
    awk -v d="$1/" '{ if (index($5, d) == 1) print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# container_pids PID: PID and its descendants.
container_pids() {
    echo "$1"
    for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do container_pids "$c"; done
}

# orphans_named COMMAND-LINE: pids of live processes whose command line is exactly that.
orphans_named() {
    for p in /proc/[0-9]*; do
        [ "$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" = "$1 " ] && echo "${p#/proc/}"
    done
}

# shim_kill_all_ok LOG ID: the containerd log (where the runc v2 shim's messages go) has no
# "failed to kill init's children" for container ID: the runtime accepted the shim's
# `kill --all ID SIGKILL` after init exited.
shim_kill_all_ok() {
    line=$(grep "failed to kill init's children" "$1" | grep -F -- "$2" | tail -n 1)
    [ -z "$line" ] || { echo "the shim's kill --all failed: $line" | cut -c1-400; return 1; }
}
