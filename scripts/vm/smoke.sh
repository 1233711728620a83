#!/bin/sh
# Guest smoke test for rind's test VM (busybox sh): proves the guest is the pure cgroup v2 host
# rind's privileged tests need, before they run. Each check prints "test <name> ... ok" or
# "... FAILED" with the reason, and the run ends with a libtest-style summary line that
# scripts/vm/run-tests.sh counts like any test executable's.
passed=0
failed=0
work=/tmp/rind-smoke
cg=/sys/fs/cgroup/rind-smoke

check() {
    name=$1
    shift
    if out=$("$@" 2>&1); then
        echo "test $name ... ok"
        passed=$((passed + 1))
    else
        echo "test $name ... FAILED"
        echo "$out" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}

# Every controller is on the unified hierarchy and no v1 hierarchy is mounted.
cgroup_v2_only() {
    grep -q ' /sys/fs/cgroup cgroup2 rw,.*nsdelegate' /proc/mounts || { echo "no cgroup2 with nsdelegate on /sys/fs/cgroup"; cat /proc/mounts; return 1; }
    if grep -q ' cgroup ' /proc/mounts; then echo "a cgroup v1 hierarchy is mounted"; return 1; fi
    enabled=$(cat /sys/fs/cgroup/cgroup.subtree_control)
    for c in cpu cpuset io memory pids hugetlb; do
        case " $enabled " in *" $c "*) ;; *) echo "controller $c not enabled at the root: $enabled"; return 1 ;; esac
    done
}

# A child cgroup gets the controllers, takes limits, and enforces pids.max and memory.max.
cgroup_limits_enforced() {
    mkdir "$cg" || return 1
    echo "+memory +pids" >"$cg/cgroup.subtree_control" || return 1
    mkdir "$cg/leaf" || return 1
    echo 32M >"$cg/leaf/memory.max" || return 1
    [ "$(cat "$cg/leaf/memory.max")" = 33554432 ] || { echo "memory.max reads $(cat "$cg/leaf/memory.max")"; return 1; }
    echo 0 >"$cg/leaf/memory.swap.max" 2>/dev/null
    # dd allocates its whole block buffer: 64 MiB cannot fit under a 32 MiB limit.
    sh -c "echo \$\$ >$cg/leaf/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=64M count=1" 2>/dev/null
    status=$?
    [ "$status" = 137 ] || { echo "dd of 64 MiB under memory.max=32M exited $status, want 137 (OOM kill)"; return 1; }
    grep -q '^oom_kill [1-9]' "$cg/leaf/memory.events" || { echo "memory.events: $(cat "$cg/leaf/memory.events")"; return 1; }
    echo 1 >"$cg/leaf/pids.max" || return 1
    # /bin/true is not the last command, so sh must fork for it (no exec shortcut).
    forked=$(sh -c "echo \$\$ >$cg/leaf/cgroup.procs && /bin/true && echo forked" 2>/dev/null)
    [ -z "$forked" ] || { echo "a fork succeeded under pids.max=1"; return 1; }
    grep -q '^max [1-9]' "$cg/leaf/pids.events" || { echo "pids.events: $(cat "$cg/leaf/pids.events")"; return 1; }
}

# overlayfs (a module) mounts, copies up, and records a deletion as a whiteout.
overlay_whiteout() {
    mkdir -p "$work/lower/d" "$work/upper" "$work/work" "$work/merged" || return 1
    echo lower >"$work/lower/d/f"
    mount -t overlay overlay -o "lowerdir=$work/lower,upperdir=$work/upper,workdir=$work/work" "$work/merged" || return 1
    echo upper >"$work/merged/new" || return 1
    rm "$work/merged/d/f" || return 1
    [ "$(cat "$work/upper/new")" = upper ] || { echo "write did not reach the upper dir"; return 1; }
    [ -c "$work/upper/d/f" ] || { echo "no whiteout char device for d/f"; ls -la "$work/upper/d"; return 1; }
    [ "$(cat "$work/lower/d/f")" = lower ] || { echo "lower dir changed"; return 1; }
    umount "$work/merged"
}

# A process in new pid and mount namespaces pivot_roots into the busybox fixture (possible
# only because init moved / off the initramfs rootfs), sees itself as pid 1, and detaches the
# old root.
pid_mount_ns_pivot_root() {
    rootfs=$RIND_FIXTURES/busybox/rootfs
    [ -x "$rootfs/bin/busybox" ] || { echo "no fixture at $rootfs"; return 1; }
    # shellcheck disable=SC2016 # the inner script expands its own variables
    out=$(unshare --pid --mount --fork sh -c '
        set -e
        mount --bind "$1" "$1"
        cd "$1"
        mkdir -p .oldroot
        pivot_root . .oldroot
        cd /
        exec /bin/busybox sh -c "umount -l /.oldroot && rmdir /.oldroot && mount -t proc proc /proc &&
            echo pid=\$\$ && cat /etc/hostname && ls /proc | grep -c \"^[0-9]\" && ls -d /rind 2>&1"
    ' sh "$rootfs" 2>&1)
    echo "$out"
    echo "$out" | grep -qx 'pid=1' || { echo "want pid=1 inside the new pid namespace"; return 1; }
    echo "$out" | grep -qx 'rind-fixture' || { echo "the new root is not the fixture"; return 1; }
    echo "$out" | grep -q "/rind.*No such file" || { echo "the old root is still reachable"; return 1; }
}

# veth (a module) creates a pair, and a new network namespace starts with only lo. busybox ip
# ignores "peer name", so the kernel names the peer: find it by its "@rsmoke0" link.
veth_pair() {
    ip link add rsmoke0 type veth || return 1
    peer=$(ip -o link show | sed -n 's/^[0-9]*: \([^@:]*\)@rsmoke0:.*/\1/p')
    [ -n "$peer" ] || { echo "no veth peer of rsmoke0"; ip -o link show; return 1; }
    ip link del rsmoke0 || return 1
    if ip link show "$peer" >/dev/null 2>&1; then echo "deleting rsmoke0 left its peer $peer"; return 1; fi
    [ "$(unshare --net ip -o link show | wc -l)" = 1 ] || { echo "a new netns should hold only lo"; return 1; }
}

check guest::cgroup_v2_only cgroup_v2_only
check guest::cgroup_limits_enforced cgroup_limits_enforced
check guest::overlay_whiteout overlay_whiteout
check guest::pid_mount_ns_pivot_root pid_mount_ns_pivot_root
check guest::veth_pair veth_pair

umount "$work/merged" 2>/dev/null
rm -rf "$work"
rmdir "$cg/leaf" "$cg" 2>/dev/null

if [ "$failed" = 0 ]; then result=ok; else result=FAILED; fi
echo "test result: $result. $passed passed; $failed failed; 0 ignored; 0 measured; 0 filtered out"
[ "$failed" = 0 ]
