# containerd (through ctr and the io.containerd.runc.v2 shim) with rind as the runc binary
# (sourced by scripts/engine-test.sh).
#
# containerd runs on its own socket with its root and state under $T/containerd; the shim runs
# rind with --root $T/containerd/rind-state (ctr's --runc-root) and ctr's fifos go to
# $T/containerd/fifo. containerd 1.6 still puts each shim's socket in /run/containerd/s (a path
# compiled into it); the shim removes its socket when it exits, and cleanup removes the
# directories if this script created them.

CT_IMG=localhost/busybox:busybox # the OCI fixture: entrypoint sh -c, user tester

containerd_setup() {
    C=$T/containerd
    mkdir -p "$C/fifo" "$C/rind-state" "$C/bin"
    sed "s|@T@|$T|g" "$ENGINES_DIR/containerd.toml" >"$C/config.toml"
    [ -d /run/containerd ] && CT_HAD_RUN_DIR=1 || CT_HAD_RUN_DIR=0
    [ -d /run/containerd/runc ] && CT_HAD_RUNC_DIR=1 || CT_HAD_RUNC_DIR=0
    # With --uidmap, ctr 1.6 sends task options that carry only the io uid/gid, and the shim
    # then runs "runc" from its PATH with the default root (/run/containerd/runc/<namespace>)
    # instead of --runc-binary and --runc-root. rind is "runc" on containerd's PATH, so that
    # case runs rind too.
    ln -s "$T/bin/rind" "$C/bin/runc"
    PATH="$C/bin:$PATH" containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    CT="ctr --address $C/containerd.sock --namespace rind-engines"
    CT_RUN="run --runc-binary $T/bin/rind --runc-root $C/rind-state --fifo-dir $C/fifo"
    i=0
    until ct version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$CONTAINERD_PID" 2>/dev/null; then
            echo "containerd did not start:"
            tail -n 20 "$C/containerd.log"
            return 1
        fi
        sleep 0.1
    done
    ct images import --base-name localhost/busybox "$FIXTURES/images/busybox-oci.tar" >/dev/null
}

# ct ARGS: ctr on the private containerd, under a timeout.
ct() {
    # shellcheck disable=SC2086 # CT is a word list of paths without spaces
    timeout -k 5 "$ENGINE_TIMEOUT" $CT "$@"
}

# ct_run ARGS... IMAGE ID [COMMAND]: `ctr run` with rind, and a cgroup under the engines' parent
# (the id must come right after the image).
ct_run() {
    # shellcheck disable=SC2086
    timeout -k 5 "$ENGINE_TIMEOUT" $CT $CT_RUN "$@"
}

# ct_rm ID...: kills and deletes tasks and containers (scenario cleanup).
ct_rm() {
    for id in "$@"; do
        if [ -n "$(ct_status "$id")" ]; then
            ct task kill -s SIGKILL "$id" >/dev/null 2>&1
            i=0
            while [ $i -lt 50 ] && [ "$(ct_status "$id")" = RUNNING ]; do
                sleep 0.1
                i=$((i + 1))
            done
            ct task delete -f "$id" >/dev/null 2>&1
        fi
        ct container delete "$id" >/dev/null 2>&1
    done
    return 0
}

# ct_status ID: the task's status (RUNNING, PAUSED, STOPPED).
ct_status() {
    ct task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'
}

ct_wait_status() {
    i=0
    while [ $i -lt 100 ]; do
        [ "$(ct_status "$1")" = "$2" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "task $1 never reached $2 (now: $(ct_status "$1"))"
    return 1
}

# host_limit PID V1_CONTROLLER V1_FILE V2_FILE: a limit file of the process's cgroup, read from
# the host (ctr's default spec has no /sys/fs/cgroup inside the container).
host_limit() {
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")
        cat "/sys/fs/cgroup$path/$4"
    else
        path=$(awk -F: -v c="$2" '{ n = split($2, cs, ","); for (i = 1; i <= n; i++) if (cs[i] == c) print $3 }' "/proc/$1/cgroup")
        cat "/sys/fs/cgroup/$2$path/$3"
    fi
}

cd_output_exit_code() {
    out=$(ct_run --rm --cgroup "$CGROUP_PARENT/ct-out" "$CT_IMG" ct-out)
    expect "image's default command" "hello from busybox" "$out" || return 1
    out=$(ct_run --rm --cgroup "$CGROUP_PARENT/ct-exit" "$CT_IMG" ct-exit sh -c 'id -un; pwd; exit 5')
    rc=$?
    ct_rm ct-exit
    expect "exit code" 5 $rc || return 1
    expect "user and workdir from the image" "tester
/home/tester" "$out"
}

cd_detached_exec_kill_delete() {
    id=ct-detached
    r=0
    ct_run -d --cgroup "$CGROUP_PARENT/$id" "$CT_IMG" $id sleep 1000 >/dev/null &&
        ct_wait_status $id RUNNING || r=1
    if [ $r = 0 ]; then
        out=$(ct task exec --fifo-dir "$T/containerd/fifo" --exec-id e1 $id sh -c 'echo in exec; exit 3')
        expect "exec exit code" 3 $? || r=1
        expect "exec output" "in exec" "$out" || r=1
        out=$(ct task exec --fifo-dir "$T/containerd/fifo" --exec-id e2 --user 0 --cwd /tmp $id sh -c 'id -u; pwd')
        expect "exec --user 0 --cwd /tmp" "0
/tmp" "$out" || r=1
        pid=$(ct task ls | awk -v id=$id '$1 == id { print $2 }')
        expect_match "task ps (rind ps --format json)" "^$pid( |$)" "$(ct task ps $id | sed -n 2p)" || r=1
        ct task kill -s SIGKILL $id >/dev/null || r=1
        ct_wait_status $id STOPPED || r=1
        ct task delete $id >/dev/null 2>&1
        ct container delete $id >/dev/null || r=1
        expect "tasks after delete" "" "$(ct task ls -q)" || r=1
        expect "rind state left" "" "$(ls "$T/containerd/rind-state/rind-engines" 2>/dev/null)" || r=1
    fi
    ct_rm $id
    return $r
}

cd_pause_resume() {
    id=ct-pause
    r=0
    ct_run -d --cgroup "$CGROUP_PARENT/$id" "$CT_IMG" $id sleep 1000 >/dev/null &&
        ct_wait_status $id RUNNING || r=1
    [ $r = 0 ] && { ct task pause $id && expect "after pause" PAUSED "$(ct_status $id)" || r=1; }
    [ $r = 0 ] && { ct task resume $id && expect "after resume" RUNNING "$(ct_status $id)" || r=1; }
    ct_rm $id
    return $r
}

cd_signal_exit_code() {
    id=ct-signal
    ct_run --cgroup "$CGROUP_PARENT/$id" --rm "$CT_IMG" $id \
        sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' >/dev/null &
    bg=$!
    r=0
    ct_wait_status $id RUNNING || r=1
    sleep 0.3
    [ $r = 0 ] && { ct task kill -s SIGTERM $id || r=1; }
    wait $bg
    rc=$?
    ct_rm $id
    [ $r = 0 ] && expect "ctr run's exit code after SIGTERM (trapped: exit 7)" 7 $rc
}

cd_tty() {
    out=$(in_pty "$CT $CT_RUN --rm -t --cgroup $CGROUP_PARENT/ct-tty $CT_IMG ct-tty sh -c 'tty; exit 2'; echo rc=\$?")
    ct_rm ct-tty
    # ctr itself writes a NUL before the first output when it sets up the console.
    expect_match "run -t" "^/dev/pts/[0-9]+
rc=2" "$(printf '%s' "$out" | tr -d '\000')" || return 1
    id=ct-exec-tty
    r=0
    ct_run -d --cgroup "$CGROUP_PARENT/$id" "$CT_IMG" $id sleep 1000 >/dev/null && ct_wait_status $id RUNNING || r=1
    if [ $r = 0 ]; then
        out=$(in_pty "$CT task exec -t --fifo-dir $T/containerd/fifo --exec-id t1 $id sh -c 'tty; exit 4'; echo rc=\$?")
        expect_match "task exec -t" "^/dev/pts/[0-9]+
rc=4" "$(printf '%s' "$out" | tr -d '\000')" || r=1
    fi
    ct_rm $id
    return $r
}

cd_limits() {
    id=ct-limits
    r=0
    ct_run -d --cgroup "$CGROUP_PARENT/$id" --memory-limit 67108864 --cpus 0.5 "$CT_IMG" $id sleep 1000 \
        >/dev/null && ct_wait_status $id RUNNING || r=1
    if [ $r = 0 ]; then
        pid=$(ct task ls | awk -v id=$id '$1 == id { print $2 }')
        expect "memory limit" 67108864 "$(host_limit "$pid" memory memory.limit_in_bytes memory.max)" || r=1
        expect "cpu quota" 50000 "$(host_limit "$pid" cpu cpu.cfs_quota_us cpu.max | cut -d' ' -f1)" || r=1
        expect_match "cgroup path" "$CGROUP_PARENT/$id\$" "$(awk -F: '{ print $3 }' /proc/$pid/cgroup | sort -u | tail -n 1)" || r=1
    fi
    ct_rm $id
    return $r
}

cd_seccomp_read_only() {
    out=$(ct_run --rm --seccomp --cgroup "$CGROUP_PARENT/ct-sec" "$CT_IMG" ct-sec sh -c 'unshare -U true 2>/dev/null; echo rc=$?')
    ct_rm ct-sec
    expect "unshare(CLONE_NEWUSER) under --seccomp" "rc=1" "$out" || return 1
    out=$(ct_run --rm --cgroup "$CGROUP_PARENT/ct-nosec" "$CT_IMG" ct-nosec sh -c 'unshare -U true; echo rc=$?')
    ct_rm ct-nosec
    expect "unshare(CLONE_NEWUSER) without a profile" "rc=0" "$out" || return 1
    out=$(ct_run --rm --read-only --cgroup "$CGROUP_PARENT/ct-ro" "$CT_IMG" ct-ro sh -c 'touch /home/tester/x 2>&1; echo rc=$?')
    ct_rm ct-ro
    expect "write under --read-only" "touch: /home/tester/x: Read-only file system
rc=1" "$out"
}

cd_not_found() {
    err=$(ct_run --rm --cgroup "$CGROUP_PARENT/ct-nf" "$CT_IMG" ct-nf nosuch-command 2>&1)
    rc=$?
    ct_rm ct-nf
    [ $rc != 0 ] || { echo "ctr run of a missing command exited 0"; return 1; }
    expect_match "error" "nosuch-command.*(not found|no such file)" "$err"
}

cd_userns() {
    out=$(ct_run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 --cgroup "$CGROUP_PARENT/ct-userns" \
        "$CT_IMG" ct-userns sh -c 'cat /proc/self/uid_map; id -u' 2>&1)
    ct_rm ct-userns
    expect "uid map and uid inside" "0 100000 65536
1000" "$(echo "$out" | awk '{ $1 = $1; print }')"
}

cd_env_cwd_mount_privileged() {
    src=$T/containerd/mount-src
    mkdir -p "$src" && echo from-host >"$src/file"
    out=$(ct_run --rm --env GREETING=hello --cwd /tmp --mount "type=bind,src=$src,dst=/data,options=rbind:ro" \
        --cgroup "$CGROUP_PARENT/ct-env" "$CT_IMG" ct-env sh -c 'echo $GREETING; pwd; cat /data/file; touch /data/x 2>/dev/null || echo ro')
    ct_rm ct-env
    expect "env, cwd, read-only bind mount" "hello
/tmp
from-host
ro" "$out" || return 1
    host_bnd=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
    out=$(ct_run --rm --privileged --cgroup "$CGROUP_PARENT/ct-priv" "$CT_IMG" ct-priv awk '/^CapBnd/ { print $2 }' /proc/self/status)
    ct_rm ct-priv
    expect "--privileged bounding set" "$host_bnd" "$out"
}

# In the host's PID namespace (any namespace the container does not own), the shim runs
# `kill --all ID SIGKILL` once init has exited, and counts an error as a failure unless it says
# "container not running": nothing the container started may outlive it.
cd_kill_all_after_exit() {
    id=ct-killall
    orphan_secs=8$$ # busybox's sleep takes no marker argument: an unusual duration marks the orphan
    ct_run -d --with-ns "pid:/proc/$$/ns/pid" --cgroup "$CGROUP_PARENT/$id" "$CT_IMG" $id \
        sh -c "sleep $orphan_secs & exit 0" >/dev/null || { ct_rm $id; return 1; }
    r=0
    ct_wait_status $id STOPPED || r=1
    sleep 0.5
    left=$(orphans_named "sleep $orphan_secs")
    # A leftover holds the task's stdio open, which would keep the shim waiting on delete.
    for p in $left; do
        echo "the container's background process $p outlived its init"
        kill -9 "$p" 2>/dev/null
        r=1
    done
    shim_kill_all_ok "$T/containerd/containerd.log" "$id" || r=1
    ct task delete $id >/dev/null 2>&1 || { echo "ctr task delete failed"; r=1; }
    ct_rm $id
    return $r
}

# A non-root container process reopens its own stdio (the shim's pipes). The image's user is
# tester (uid 1000); ctr 1.6 has no --user.
cd_stdio_non_root() {
    out=$(ct_run --rm --cgroup "$CGROUP_PARENT/ct-stdio" "$CT_IMG" ct-stdio \
        sh -c 'id -u; echo x > /dev/stdout; echo rc=$?' 2>&1)
    ct_rm ct-stdio
    expect "uid 1000: echo x > /dev/stdout" "1000
x
rc=0" "$out"
}

containerd_scenarios() {
    scenario "containerd: run with output, exit code, image user and workdir" cd_output_exit_code
    scenario "containerd: detached task, exec, ps, kill, delete" cd_detached_exec_kill_delete
    scenario "containerd: pause and resume" cd_pause_resume
    scenario "containerd: signal and exit code" cd_signal_exit_code
    scenario "containerd: tty run and tty exec" cd_tty
    scenario "containerd: memory and cpu limits" cd_limits
    scenario "containerd: env, cwd, bind mount, privileged" cd_env_cwd_mount_privileged
    if unshare -U true 2>/dev/null; then
        scenario "containerd: seccomp and read-only root" cd_seccomp_read_only
    else
        skip "containerd: seccomp and read-only root" "the host refuses user namespaces"
    fi
    scenario "containerd: not found" cd_not_found
    scenario "containerd: user namespace (--uidmap)" cd_userns
    scenario "containerd: shared PID namespace, the shim's kill --all after init exits" \
        cd_kill_all_after_exit
    xfail_scenario "non-root stdio: fixed on branch sec-exec" \
        "containerd: stdio reopened by a non-root user (the image's user, uid 1000)" cd_stdio_non_root
}

containerd_cleanup() {
    [ -n "${CONTAINERD_PID:-}" ] || return 0
    if kill -0 "$CONTAINERD_PID" 2>/dev/null; then
        for id in $(ct task ls -q 2>/dev/null); do ct_rm "$id"; done
        for id in $(ct container ls -q 2>/dev/null); do ct container delete "$id" >/dev/null 2>&1; done
        kill "$CONTAINERD_PID" 2>/dev/null
        i=0
        while kill -0 "$CONTAINERD_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$CONTAINERD_PID" 2>/dev/null || true
    fi
    wait "$CONTAINERD_PID" 2>/dev/null || true
    CONTAINERD_PID=
    if [ "$CT_HAD_RUNC_DIR" = 0 ]; then
        rmdir /run/containerd/runc/rind-engines /run/containerd/runc 2>/dev/null || true
    fi
    if [ "$CT_HAD_RUN_DIR" = 0 ]; then
        rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    fi
}
