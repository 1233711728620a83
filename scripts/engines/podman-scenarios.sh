# The podman scenarios (sourced by scripts/engine-test.sh after podman.sh). Each function runs
# one scenario with rind as podman's runtime, checks what it saw, removes what it made, and
# returns non-zero when a check failed.

pd_image_config() {
    out=$(pm_run --rm "$PODMAN_CFG_IMG") || { echo "$out"; return 1; }
    expect "default command" "hello from busybox" "$out" || return 1
    out=$(pm_run --rm --entrypoint /bin/sh "$PODMAN_CFG_IMG" -c 'id -un; pwd; echo $GREETING')
    expect "user, workdir and env from the image config" "tester
/home/tester
hi" "$out"
}

pd_output() {
    out=$(pm_run --rm "$PODMAN_IMG" echo hello from rind)
    expect "stdout" "hello from rind" "$out"
}

pd_exit_codes() {
    for code in 0 3 255; do
        pm_run --rm "$PODMAN_IMG" sh -c "exit $code"
        expect "exit code of 'exit $code'" $code $? || return 1
    done
}

pd_not_executable() {
    err=$(pm_run --rm "$PODMAN_IMG" /etc/passwd 2>&1)
    rc=$?
    expect "exit code (podman maps 'permission denied')" 126 $rc || { echo "$err"; return 1; }
    expect_match "error" "permission denied" "$err"
}

pd_not_found() {
    err=$(pm_run --rm "$PODMAN_IMG" nosuch-command 2>&1)
    rc=$?
    expect "exit code (podman maps 'no such file or directory')" 127 $rc || { echo "$err"; return 1; }
    expect_match "error" "nosuch-command.*(not found|no such file)" "$err"
}

pd_detached_ps_stop_rm() {
    n=eng-detached
    r=0
    id=$(pm_run -d --name $n "$PODMAN_IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done') &&
        pm_wait_running $n || r=1
    [ $r = 0 ] && [ ! -f "$T/podman/rind-state/$id/state.json" ] && { echo "no rind state in $T/podman/rind-state/$id"; r=1; }
    [ $r = 0 ] && { expect_match "podman ps" "^Up" "$(pm ps --filter name=$n --format '{{.Status}}')" || r=1; }
    [ $r = 0 ] && { pm stop -t 5 $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exit code after stop (SIGTERM trapped)" 0 "$(pm inspect -f '{{.State.ExitCode}}' $n)" || r=1; }
    [ $r = 0 ] && { pm rm $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "podman ps -a after rm" "" "$(pm ps -a --filter name=$n --format '{{.Names}}')" || r=1; }
    [ $r = 0 ] && [ -e "$T/podman/rind-state/$id" ] && { echo "rind state left in $T/podman/rind-state/$id"; r=1; }
    pm_rm $n
    return $r
}

pd_exec() {
    n=eng-exec
    r=0
    pm_run -d --name $n "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    if [ $r = 0 ]; then
        out=$(pm exec $n sh -c 'echo in exec; exit 4')
        expect "exec exit code" 4 $? || r=1
        expect "exec output" "in exec" "$out" || r=1
        out=$(pm exec -u 1000:100 -w /tmp -e X=1 $n sh -c 'id -u; id -g; pwd; echo $X')
        expect "exec user, workdir, env" "1000
100
/tmp
1" "$out" || r=1
        out=$(printf 'one\ntwo\n' | pm exec -i $n wc -l)
        expect "exec -i stdin" 2 "$(echo $out)" || r=1
        out=$(in_pty "$PM exec -t $n sh -c 'tty; test -t 0 && echo stdin-is-a-tty'")
        expect_match "exec -t" "^/dev/pts/[0-9]+
stdin-is-a-tty" "$out" || r=1
        pm exec $n nosuch-command 2>/dev/null
        expect "exec of a missing command" 127 $? || r=1
    fi
    pm_rm $n
    return $r
}

pd_run_tty() {
    out=$(in_pty "$PM $PM_RUN --rm -t $PODMAN_IMG sh -c 'tty; test -t 0 && echo stdin-is-a-tty; exit 5'; echo rc=\$?")
    expect_match "run -t" "^/dev/pts/[0-9]+
stdin-is-a-tty
rc=5" "$out"
}

pd_run_interactive_tty() {
    # script(1) forwards its stdin to the pty: a shell reads commands from the terminal.
    out=$(printf 'echo typed-$((6 * 7))\nexit 4\n' |
        timeout -k 5 "$ENGINE_TIMEOUT" script -qec "$PM $PM_RUN --rm -it $PODMAN_IMG sh; echo rc=\$?" /dev/null |
        tr -d '\r')
    expect_match "shell output" "typed-42" "$out" || return 1
    expect_match "exit code" "rc=4" "$out"
}

pd_stdin() {
    out=$(printf 'a\nb\nc\n' | pm_run --rm -i "$PODMAN_IMG" sh -c 'wc -l; echo done')
    expect "run -i" "3
done" "$(echo "$out" | sed 's/^ *//')"
}

pd_env_workdir_user() {
    out=$(pm_run --rm -e FOO=bar -w /var/tmp -u 1000:100 --group-add 5 "$PODMAN_IMG" \
        sh -c 'echo $FOO; pwd; id')
    expect "env, workdir, user" "bar
/var/tmp
uid=1000(tester) gid=100(users) groups=5(tty),100(users)" "$out"
}

pd_read_only() {
    out=$(pm_run --rm --read-only "$PODMAN_IMG" sh -c \
        'touch /x 2>/dev/null && echo root-writable; touch /tmp/y /run/y /var/tmp/y && echo tmpfs-writable; stat -c %a /run')
    # /run, /tmp and /var/tmp are tmpfs mounts with tmpcopyup; /run keeps the image's mode.
    expect "read-only root" "tmpfs-writable
755" "$out"
}

pd_limits() {
    out=$(pm_run --rm -m 64m --pids-limit 50 --cpus 0.5 "$PODMAN_IMG" sh -c '
        if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
            cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cut -d" " -f1 /sys/fs/cgroup/cpu.max
        else
            cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
                /sys/fs/cgroup/cpu/cpu.cfs_quota_us
        fi')
    expect "memory, pids and cpu limits seen inside" "67108864
50
50000" "$out" || return 1
    out=$(pm_run --rm --pids-limit 10 "$PODMAN_IMG" sh -c \
        'i=0; while [ $i -lt 20 ]; do sleep 1 & i=$((i + 1)); done 2>&1; wait')
    expect_match "the pids limit stops forks" "fork" "$out"
}

pd_oom() {
    pm_run --rm -m 16m --memory-swap 16m "$PODMAN_IMG" sh -c \
        'x=$(head -c 64000000 /dev/zero | tr "\0" a); echo survived'
    expect "exit code of a container over its memory limit" 137 $?
}

pd_pause_unpause() {
    n=eng-pause
    r=0
    pm_run -d --name $n "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    [ $r = 0 ] && { pm pause $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "status after pause" paused "$(pm inspect -f '{{.State.Status}}' $n)" || r=1; }
    [ $r = 0 ] && { pm unpause $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exec after unpause" ok "$(pm exec $n echo ok)" || r=1; }
    pm_rm $n
    return $r
}

pd_signals() {
    n=eng-signals
    r=0
    pm_run -d --name $n "$PODMAN_IMG" sh -c \
        'trap "echo got USR1" USR1; trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' \
        >/dev/null && pm_wait_running $n || r=1
    sleep 0.3
    [ $r = 0 ] && { pm kill -s USR1 $n >/dev/null || r=1; }
    sleep 0.3
    [ $r = 0 ] && { pm kill -s TERM $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exit code from the TERM trap" 7 "$(pm wait $n)" || r=1; }
    [ $r = 0 ] && { expect "container output" "ready
got USR1
got TERM" "$(pm logs $n)" || r=1; }
    pm_rm $n
    n=eng-sigkill
    pm_run -d --name $n "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    [ $r = 0 ] && { pm kill $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exit code after podman kill (SIGKILL)" 137 "$(pm wait $n)" || r=1; }
    pm_rm $n
    return $r
}

pd_capabilities() {
    out=$(pm_run --rm --cap-drop all --cap-add NET_ADMIN "$PODMAN_IMG" grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status)
    expect "--cap-drop all --cap-add NET_ADMIN" "CapPrm:	0000000000001000
CapEff:	0000000000001000
CapBnd:	0000000000001000" "$out" || return 1
    out=$(pm_run --rm "$PODMAN_IMG" sh -c 'chown 1 /tmp && echo chown-ok; grep ^CapEff /proc/self/status')
    eff=$(echo "$out" | awk '/CapEff/ { print $2 }')
    expect "CAP_CHOWN in the default set" chown-ok "$(echo "$out" | head -n 1)" || return 1
    # CAP_SYS_ADMIN is bit 21.
    expect "CAP_SYS_ADMIN absent by default" 0 $(((0x$eff >> 21) & 1)) || return 1
    host_bnd=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
    out=$(pm_run --rm --privileged "$PODMAN_IMG" awk '/^CapEff/ { print $2 }' /proc/self/status)
    expect "--privileged gets the host's bounding set" "$host_bnd" "$out"
}

pd_seccomp() {
    # podman's default profile (containers-common) refuses swapoff even with CAP_SYS_ADMIN:
    # EPERM from seccomp, where the kernel itself would say ENOENT for a missing file.
    out=$(pm_run --rm --cap-add SYS_ADMIN "$PODMAN_IMG" swapoff /nonexistent 2>&1)
    expect "swapoff under the default profile" "swapoff: /nonexistent: Operation not permitted" "$out" || return 1
    out=$(pm_run --rm --cap-add SYS_ADMIN --security-opt seccomp=unconfined "$PODMAN_IMG" swapoff /nonexistent 2>&1)
    expect "swapoff unconfined" "swapoff: /nonexistent: No such file or directory" "$out" || return 1
    out=$(pm_run --rm "$PODMAN_IMG" sh -c 'mount -t tmpfs none /tmp 2>&1; echo rc=$?')
    expect_match "mount as root without CAP_SYS_ADMIN" "rc=[1-9]" "$out" || return 1
    # A profile of podman's own with a flag runc 1.1 refuses, and an errno of its own.
    cat >"$T/podman/seccomp-getcwd.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
 "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
EOF
    out=$(pm_run --rm --security-opt seccomp="$T/podman/seccomp-getcwd.json" "$PODMAN_IMG" \
        sh -c '/bin/pwd 2>&1; echo rc=$?')
    expect "getcwd denied with EACCES by a custom profile" "pwd: getcwd: Permission denied
rc=1" "$out"
}

pd_masked_paths() {
    out=$(pm_run --rm "$PODMAN_IMG" sh -c '
        [ -e /proc/timer_list ] && echo "timer_list $(wc -c < /proc/timer_list)"
        [ -e /proc/keys ] && echo "keys $(wc -c < /proc/keys)"
        echo "firmware $(ls /sys/firmware | wc -l)"
        echo x > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-read-only
        grep " /proc/sys " /proc/self/mountinfo | cut -d" " -f6')
    want=""
    [ -e /proc/timer_list ] && want="timer_list 0
"
    [ -e /proc/keys ] && want="${want}keys 0
"
    expect "masked and readonly paths" "${want}firmware 0
proc-sys-read-only
ro,nosuid,nodev,noexec,relatime" "$out"
}

pd_volumes_tmpfs() {
    v=$T/podman/volume-src
    mkdir -p "$v" && echo from-host >"$v/file"
    out=$(pm_run --rm -v "$v:/data" -v "$v:/ro:ro" --tmpfs /scratch:size=1m,mode=1777 --tmpfs /etc \
        "$PODMAN_IMG" sh -c 'cat /data/file; echo from-container > /data/new; echo x > /ro/x 2>/dev/null || echo ro-refused
            df -k /scratch | awk "NR==2 { print \$2 }"; stat -c %a /scratch; head -n 1 /etc/passwd')
    expect "bind, read-only bind, tmpfs, tmpfs copy-up" "from-host
ro-refused
1024
1777
root:x:0:0:root:/root:/bin/sh" "$out" || return 1
    expect "write through the bind mount" from-container "$(cat "$v/new")" || return 1
    pm volume create eng-vol >/dev/null || return 1
    pm_run --rm -v eng-vol:/v "$PODMAN_IMG" sh -c 'echo kept > /v/f' &&
        out=$(pm_run --rm -v eng-vol:/v "$PODMAN_IMG" cat /v/f)
    r=$?
    pm volume rm -f eng-vol >/dev/null 2>&1
    [ $r = 0 ] && expect "named volume across containers" kept "$out"
}

pd_devices() {
    out=$(pm_run --rm --device /dev/null:/dev/mynull --device /dev/zero "$PODMAN_IMG" sh -c '
        stat -c "%t:%T" /dev/mynull; echo x > /dev/mynull && echo write-ok; head -c 3 /dev/zero | wc -c
        mknod /tmp/blk b 8 0 && (head -c 1 /tmp/blk >/dev/null 2>&1 || echo block-device-denied)')
    expect "--device and the device cgroup" "1:3
write-ok
3
block-device-denied" "$out"
}

pd_userns() {
    n=eng-userns
    r=0
    pm_run -d --name $n --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$PODMAN_IMG" \
        sh -c 'cat /proc/self/uid_map; id -u; touch /owned; sleep 1000' >/dev/null &&
        pm_wait_running $n || r=1
    if [ $r = 0 ]; then
        sleep 0.3
        expect "inside" "0 100000 65536
0" "$(pm logs $n | awk '{ $1 = $1; print }')" || r=1
        pid=$(pm inspect -f '{{.State.Pid}}' $n)
        expect "host uid of the container's root" 100000 "$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)" || r=1
    fi
    pm_rm $n
    return $r
}

pd_hooks() {
    cat >"$T/podman/hooks/prestart.json" <<EOF
{"version": "1.0.0", "hook": {"path": "/bin/sh", "args": ["sh", "-c", "cat > $T/podman/hook-state.json"]},
 "when": {"annotations": {"rind.engine-test": "hook"}}, "stages": ["prestart"]}
EOF
    out=$(pm_run --rm --annotation rind.engine-test=hook --name eng-hooks "$PODMAN_IMG" echo ran)
    r=$?
    rm -f "$T/podman/hooks/prestart.json"
    [ $r = 0 ] || { echo "$out"; return 1; }
    state=$(cat "$T/podman/hook-state.json" 2>/dev/null)
    expect_match "state on the prestart hook's stdin" '"status": ?"creating"' "$state" || return 1
    expect_match "state has the pid" '"pid": ?[1-9]' "$state" || return 1
    expect_match "state has the annotation" '"rind.engine-test": ?"hook"' "$state"
}

pd_init() {
    out=$(pm_run --rm --init "$PODMAN_IMG" ps -o pid,comm)
    expect_match "--init runs catatonit as pid 1" "^ *1 (podman-init|catatonit)" "$(echo "$out" | sed -n 2p)"
}

pd_update() {
    n=eng-update
    r=0
    pm_run -d --name $n -m 64m "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    [ $r = 0 ] && { pm update --memory 128m $n >/dev/null || r=1; }
    [ $r = 0 ] && { out=$(pm exec $n sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes')
        expect "memory limit after podman update" 134217728 "$out" || r=1; }
    pm_rm $n
    return $r
}

pd_preserve_fds() {
    echo passed-fd >"$T/podman/fd3"
    out=$(pm_run --rm --preserve-fds 1 "$PODMAN_IMG" sh -c 'cat <&3' 3<"$T/podman/fd3")
    expect "--preserve-fds 1" passed-fd "$out"
}

pd_ulimits() {
    out=$(pm_run --rm "$PODMAN_IMG" sh -c 'ulimit -n')
    expect "default_ulimits nofile" "$PODMAN_NOFILE" "$out" || return 1
    out=$(pm_run --rm --ulimit nofile=100:200 --ulimit nproc=500:500 "$PODMAN_IMG" sh -c 'ulimit -Sn; ulimit -Hn; ulimit -u')
    expect "--ulimit" "100
200
500" "$out"
}

pd_restart() {
    n=eng-restart
    r=0
    pm_run -d --name $n "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    pid1=$(pm inspect -f '{{.State.Pid}}' $n)
    [ $r = 0 ] && { pm restart -t 0 $n >/dev/null || r=1; }
    [ $r = 0 ] && { pm_wait_running $n || r=1; }
    pid2=$(pm inspect -f '{{.State.Pid}}' $n)
    [ $r = 0 ] && [ "$pid1" = "$pid2" ] && { echo "same pid $pid1 after restart"; r=1; }
    [ $r = 0 ] && { expect "exec after restart" ok "$(pm exec $n echo ok)" || r=1; }
    pm_rm $n
    return $r
}

pd_namespaces() {
    out=$(pm_run --rm --hostname box1 --sysctl kernel.shm_rmid_forced=1 --security-opt no-new-privileges \
        "$PODMAN_IMG" sh -c 'hostname; cat /proc/sys/kernel/shm_rmid_forced; grep ^NoNewPrivs /proc/self/status')
    expect "hostname, sysctl, no-new-privileges" "box1
1
NoNewPrivs:	1" "$out" || return 1
    out=$(pm_run --rm --pid host --ipc host --network host --uts host "$PODMAN_IMG" sh -c \
        'cat /proc/1/comm; readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; hostname')
    expect "host pid, ipc, network and uts namespaces" "$(cat /proc/1/comm)
$(readlink /proc/self/ns/ipc)
$(readlink /proc/self/ns/net)
$(hostname)" "$out"
}

pd_own_session() {
    # runc makes every container process (init and exec) the leader of a new session. Without
    # that, the process shares conmon's process group, and kill(0) from inside the container
    # reaches conmon, outside the container's pid namespace.
    # A shorter limit than ENGINE_TIMEOUT: when conmon dies, podman waits about 20 s for an
    # exit code that never comes.
    # shellcheck disable=SC2086
    out=$(timeout -k 2 8 $PM $PM_RUN --rm "$PODMAN_IMG" sh -c 'trap "" USR2; kill -USR2 0; echo survived; exit 3' 2>&1)
    rc=$?
    expect "run: kill -USR2 0 inside the container" "survived" "$out" || return 1
    expect "run: exit code" 3 $rc || return 1
    n=eng-session
    r=0
    pm_run -d --name $n "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    if [ $r = 0 ]; then
        # shellcheck disable=SC2086
        out=$(timeout -k 2 8 $PM exec $n sh -c 'trap "" USR2; kill -USR2 0; echo survived; exit 3' 2>&1)
        rc=$?
        expect "exec: kill -USR2 0 inside the container" "survived" "$out" || r=1
        expect "exec: exit code" 3 $rc || r=1
    fi
    pm_rm $n
    return $r
}

pd_run_timeout() {
    # conmon ends a container that outlives --timeout with SIGKILL to the process group of the
    # container's init, which must be a group of its own.
    start=$(now_ms)
    # shellcheck disable=SC2086
    timeout -k 2 10 $PM $PM_RUN --rm --name eng-timeout --timeout 2 "$PODMAN_IMG" sleep 30 >/dev/null 2>&1
    rc=$?
    took=$(($(now_ms) - start))
    left=$(pm ps -a --filter name=eng-timeout --format '{{.Names}}')
    pm_rm eng-timeout
    [ $rc != 0 ] || { echo "exit code 0 after --timeout"; return 1; }
    [ $took -lt 8000 ] || { echo "took ${took}ms: the container outlived --timeout 2"; return 1; }
    expect "containers left" "" "$left"
}

pd_idmapped_mount() {
    v=$T/podman/idmap-src
    mkdir -p "$v" && echo mapped >"$v/file"
    out=$(pm_run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
        --mount "type=bind,src=$v,dst=/data,idmap" "$PODMAN_IMG" \
        sh -c 'stat -c %u /data/file; cat /data/file; touch /data/made-inside' 2>&1)
    expect "an id-mapped bind mount: host root shows as the container's root" "0
mapped" "$out" || return 1
    # Written through the mapping: the container's root is stored as host root, not 100000.
    expect "owner on the host of a file the container made" 0 "$(stat -c %u "$v/made-inside" 2>&1)"
}

pd_personality() {
    out=$(pm_run --rm --personality LINUX32 "$PODMAN_IMG" uname -m 2>&1)
    expect "uname -m with --personality LINUX32" i686 "$out"
}

pd_join_namespaces() {
    n=eng-ns-owner
    r=0
    pm_run -d --name $n --hostname owner "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    if [ $r = 0 ]; then
        out=$(pm_run --rm --pid container:$n --uts container:$n --ipc container:$n --network container:$n \
            "$PODMAN_IMG" sh -c 'hostname; ps -o comm | grep -c sleep')
        expect "namespaces joined by path (/proc/PID/ns/*)" "owner
1" "$out" || r=1
    fi
    pm_rm $n
    return $r
}

pd_pod() {
    p=eng-pod
    r=0
    pm pod create --name $p --cgroup-parent "$CGROUP_PARENT" --share pid,ipc,uts >/dev/null || r=1
    [ $r = 0 ] && { pm_run -d --pod $p --name eng-pod-a "$PODMAN_IMG" sleep 1000 >/dev/null || r=1; }
    [ $r = 0 ] && { out=$(pm_run --rm --pod $p "$PODMAN_IMG" sh -c 'ps -o comm | grep -E "sleep|catatonit|pause" | sort | tr "\n" " "')
        expect_match "a pod's containers share the infra container's pid namespace" "sleep" "$out" || r=1; }
    pm pod rm -f -t 0 $p >/dev/null 2>&1
    return $r
}

# --tmpfs: podman adds tmpcopyup; the mount's source must still read "tmpfs" in /proc/mounts, as
# with every other runtime (tools match on it).
pd_tmpfs_source() {
    out=$(pm_run --rm --tmpfs /scratch "$PODMAN_IMG" sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f1,3')
    expect "source and type of a --tmpfs mount" "tmpfs tmpfs" "$out"
}

# A non-root container process reopens its own stdio (run and exec).
pd_stdio_non_root() {
    out=$(pm_run --rm -u 1000 "$PODMAN_IMG" sh -c 'echo x > /dev/stdout; echo rc=$?' 2>&1)
    expect "run -u 1000: echo x > /dev/stdout" "x
rc=0" "$out" || return 1
    n=eng-stdio
    r=0
    pm_run -d --name $n "$PODMAN_IMG" sleep 1000 >/dev/null && pm_wait_running $n || r=1
    if [ $r = 0 ]; then
        out=$(pm exec -u 1000 $n sh -c 'echo y > /dev/stdout; echo rc=$?' 2>&1)
        expect "exec -u 1000: echo y > /dev/stdout" "y
rc=0" "$out" || r=1
    fi
    pm_rm $n
    return $r
}

# --device HOST:CONTAINER:r must not allow writes.
pd_device_permissions() {
    out=$(pm_run --rm --device /dev/fuse:/dev/x:r "$PODMAN_IMG" sh -c \
        ': </dev/x && echo read-open-ok; (: >/dev/x) 2>/dev/null && echo write-open-allowed || echo write-open-denied' 2>&1)
    expect "--device /dev/fuse:/dev/x:r" "read-open-ok
write-open-denied" "$out"
}

podman_scenarios() {
    scenario "podman: image config (entrypoint, cmd, user, workdir, env)" pd_image_config
    scenario "podman: run with output" pd_output
    scenario "podman: exit codes (0, 3, 255)" pd_exit_codes
    scenario "podman: not executable -> 126" pd_not_executable
    scenario "podman: not found -> 127" pd_not_found
    scenario "podman: detached run, ps, stop, rm" pd_detached_ps_stop_rm
    scenario "podman: exec (output, exit code, user, -i, -t, 127)" pd_exec
    scenario "podman: run -t" pd_run_tty
    scenario "podman: run -it (interactive shell on a tty)" pd_run_interactive_tty
    scenario "podman: run -i (stdin)" pd_stdin
    scenario "podman: env, workdir, user, group-add" pd_env_workdir_user
    scenario "podman: --read-only" pd_read_only
    scenario "podman: memory, pids, cpu limits" pd_limits
    scenario "podman: out of memory -> 137" pd_oom
    scenario "podman: pause and unpause" pd_pause_unpause
    scenario "podman: kill with signals" pd_signals
    scenario "podman: capabilities" pd_capabilities
    scenario "podman: seccomp (default profile, unconfined, custom with flags)" pd_seccomp
    scenario "podman: masked and readonly paths" pd_masked_paths
    scenario "podman: volumes and tmpfs" pd_volumes_tmpfs
    scenario "podman: devices" pd_devices
    scenario "podman: user namespace (--uidmap)" pd_userns
    scenario "podman: OCI hooks (prestart)" pd_hooks
    scenario "podman: --init" pd_init
    scenario "podman: update" pd_update
    scenario "podman: --preserve-fds" pd_preserve_fds
    scenario "podman: ulimits" pd_ulimits
    scenario "podman: restart" pd_restart
    scenario "podman: hostname, sysctl, no-new-privileges, host namespaces" pd_namespaces
    scenario "podman: joining another container's namespaces" pd_join_namespaces
    scenario "podman: pod (infra container, shared namespaces)" pd_pod
    scenario "podman: container processes in a session of their own (kill 0)" pd_own_session
    scenario "podman: run --timeout" pd_run_timeout
    scenario "podman: id-mapped bind mount (--mount ...,idmap)" pd_idmapped_mount
    scenario "podman: --personality LINUX32" pd_personality
    scenario "podman: --tmpfs source is tmpfs in /proc/mounts" pd_tmpfs_source
    scenario "podman: stdio reopened by a non-root user (run and exec)" pd_stdio_non_root
    scenario "podman: --device permissions (:r forbids writes)" pd_device_permissions
}
