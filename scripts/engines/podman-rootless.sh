# Rootless podman with rind as its runtime, compared with runc (sourced by
# scripts/engine-test.sh).
#
# A throwaway user (useradd, which gives it ranges in /etc/subuid and /etc/subgid) runs podman
# through setpriv, with no capabilities: podman enters its own user namespace (newuidmap and
# newgidmap map the user to root and its ranges above), and runs its runtime there, as root of
# that namespace. Networking is slirp4netns (Debian's), podman's rootless default. The cgroup
# manager is cgroupfs: on a hybrid or v1 host rootless podman makes no cgroups and drops limits
# with a warning, whatever the runtime; on a v2 host with a delegated subtree it uses it.
#
# Every scenario runs twice, once with runc and once with rind (the scenario names say which),
# with the same expected results: rind's are runc's. State lives under $T/prl (the user's
# storage, run root, XDG_RUNTIME_DIR). Cleanup removes the user's containers, ends its
# processes by pid, and removes the user with its ranges.

PRL_IMG=localhost/rind-engines:busybox # the busybox rootfs, imported: root, CMD /bin/sh

prl_setup() {
    PRL=$T/prl
    PRL_USER=rindpod$$
    useradd -m -s /bin/sh "$PRL_USER" || return 1
    PRL_UID=$(id -u "$PRL_USER")
    PRL_SUB=$(awk -F: -v u="$PRL_USER" '$1 == u { print $2 " " $3 }' /etc/subuid)
    [ -n "$PRL_SUB" ] || { echo "useradd gave $PRL_USER no range in /etc/subuid"; return 1; }
    mkdir -p "$PRL/xdg" "$PRL/root" "$PRL/runroot" "$PRL/tmp" "$PRL/bin"
    chown -R "$PRL_USER:" "$PRL"
    chmod 700 "$PRL/xdg"
    # The wrappers run as the user (root of podman's user namespace): the logs they append to
    # are the user's for the duration.
    touch "$T/runtime.log" "$T/runtime-all.log"
    chown "$PRL_USER" "$T/runtime.log" "$T/runtime-all.log"
    write_runtime_wrapper "$PRL/bin/rind"
    cat >"$PRL/bin/runc" <<EOF
#!/bin/sh
echo "runc \$*" >>"$T/runtime.log"
exec runc "\$@"
EOF
    chmod 755 "$PRL/bin/runc" "$PRL/bin/rind"
    [ -f "$T/busybox-rootfs.tar" ] ||
        tar -C "$FIXTURES/busybox/rootfs" --exclude ./.complete -cf "$T/busybox-rootfs.tar" . || return 1
    chmod 644 "$T/busybox-rootfs.tar"
    PRL_RT=runc
    prl import -q --change 'CMD ["/bin/sh"]' "$T/busybox-rootfs.tar" "$PRL_IMG" >/dev/null
}

# prl_as COMMAND...: COMMAND as the test user, with a login-like environment and no
# capabilities.
prl_as() {
    setpriv --reuid="$PRL_USER" --regid="$PRL_USER" --init-groups -- \
        env -i HOME="/home/$PRL_USER" USER="$PRL_USER" LOGNAME="$PRL_USER" \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$PRL/xdg" "$@"
}

# The podman command line of the user, with runtime $PRL_RT.
prl_cmd() {
    echo "podman --root $PRL/root --runroot $PRL/runroot --tmpdir $PRL/tmp --storage-driver vfs" \
        "--cgroup-manager cgroupfs --events-backend file --runtime $PRL/bin/$PRL_RT"
}

# prl ARGS: podman as the user, under a timeout.
prl() {
    # shellcheck disable=SC2046 # prl_cmd is a word list of paths without spaces
    (cd /tmp && prl_as timeout -k 5 "$ENGINE_TIMEOUT" $(prl_cmd) "$@")
}

# prl_pty COMMAND-LINE: podman ARGS as the user on a pseudo-terminal (script(1) runs as root
# and opens it; the user's podman inherits it).
prl_pty() {
    timeout -k 5 "$ENGINE_TIMEOUT" script -qec \
        "setpriv --reuid=$PRL_USER --regid=$PRL_USER --init-groups -- env -i HOME=/home/$PRL_USER PATH=/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR=$PRL/xdg $(prl_cmd) $1" \
        /dev/null </dev/null | tr -d '\r'
}

prl_rm() {
    prl rm -f -t 0 --ignore "$@" >/dev/null 2>&1 || true
}

prl_wait_running() {
    i=0
    while [ $i -lt 100 ]; do
        [ "$(prl inspect -f '{{.State.Status}}' "$1" 2>/dev/null)" = running ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "$1 never reached running"
    return 1
}

# The ids: root is the user, 1.. its range.
prl_ids() {
    out=$(prl run --rm "$PRL_IMG" sh -c 'id -u; id -g; tr -s " " <"/proc/self/uid_map"; stat -c "%u %g" /etc/passwd; ls -ln /dev/null | cut -c1-10')
    set -- $PRL_SUB
    expect "ids, uid_map, image owners, /dev/null" "0
0
 0 $PRL_UID 1
 1 $1 $2
0 0
crw-rw-rw-" "$out"
}

prl_exit_codes() {
    for code in 0 3; do
        prl run --rm "$PRL_IMG" sh -c "exit $code"
        expect "exit code of 'exit $code'" $code $? || return 1
    done
    prl run --rm "$PRL_IMG" nosuch-command >/dev/null 2>&1
    expect "a missing command" 127 $? || return 1
    prl run --rm "$PRL_IMG" /etc/passwd >/dev/null 2>&1
    expect "a file that is not executable" 126 $?
}

prl_detached_exec_stop_rm() {
    n=prl-life
    r=0
    id=$(prl run -d --name $n "$PRL_IMG" sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done') &&
        prl_wait_running $n || r=1
    # rind keeps its state under the user's XDG_RUNTIME_DIR (runc: $XDG_RUNTIME_DIR/runc).
    [ $r = 0 ] && [ ! -f "$PRL/xdg/$PRL_RT/$id/state.json" ] && { echo "no state in $PRL/xdg/$PRL_RT/$id"; r=1; }
    [ $r = 0 ] && { expect_match "podman ps" "^Up" "$(prl ps --filter name=$n --format '{{.Status}}')" || r=1; }
    if [ $r = 0 ]; then
        out=$(prl exec $n sh -c 'echo in-exec; id -u; exit 4')
        expect "exec exit code" 4 $? || r=1
        expect "exec output" "in-exec
0" "$out" || r=1
        out=$(prl exec -u 1000:100 -w /tmp $n sh -c 'id -u; id -g; pwd')
        expect "exec -u 1000:100 -w /tmp" "1000
100
/tmp" "$out" || r=1
        # An exec'd process of a non-root user runs as a subordinate id on the host.
        set -- $PRL_SUB
        prl exec -d -u 1000 $n sleep 7 >/dev/null || r=1
        sleep 0.5
        expect "exec -u 1000: host uid of its sleep" "$(($1 + 999))" \
            "$(ps -o uid=,args= -C sleep | awk '$2 == "sleep" && $3 == 7 { print $1 }' | head -n 1)" || r=1
    fi
    [ $r = 0 ] && { prl stop -t 5 $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exit code after stop (TERM trapped)" 3 "$(prl inspect -f '{{.State.ExitCode}}' $n)" || r=1; }
    [ $r = 0 ] && { prl rm $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "podman ps -a after rm" "" "$(prl ps -a --filter name=$n --format '{{.Names}}')" || r=1; }
    [ $r = 0 ] && [ -e "$PRL/xdg/$PRL_RT/$id" ] && { echo "state left in $PRL/xdg/$PRL_RT/$id"; r=1; }
    prl_rm $n
    return $r
}

prl_signals_kill() {
    n=prl-signals
    r=0
    prl run -d --name $n "$PRL_IMG" sh -c \
        'trap "echo got USR1" USR1; trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' \
        >/dev/null && prl_wait_running $n || r=1
    sleep 0.3
    [ $r = 0 ] && { prl kill -s USR1 $n >/dev/null || r=1; }
    sleep 0.3
    [ $r = 0 ] && { prl kill -s TERM $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exit code from the TERM trap" 7 "$(prl wait $n)" || r=1; }
    [ $r = 0 ] && { expect "container output" "ready
got USR1
got TERM" "$(prl logs $n)" || r=1; }
    prl_rm $n
    n=prl-sigkill
    prl run -d --name $n "$PRL_IMG" sleep 1000 >/dev/null && prl_wait_running $n || r=1
    [ $r = 0 ] && { prl kill $n >/dev/null || r=1; }
    [ $r = 0 ] && { expect "exit code after podman kill (SIGKILL)" 137 "$(prl wait $n)" || r=1; }
    prl_rm $n
    return $r
}

prl_tty_stdin() {
    out=$(prl_pty "run --rm -t $PRL_IMG sh -c 'tty; test -t 0 && echo stdin-is-a-tty; exit 5'; echo rc=\$?")
    expect_match "run -t" "^/dev/pts/[0-9]+
stdin-is-a-tty
rc=5" "$out" || return 1
    out=$(printf 'a\nb\n' | prl run --rm -i "$PRL_IMG" wc -l)
    expect "run -i" 2 "$(echo $out)"
}

prl_keep_id() {
    # --userns=keep-id: podman maps the user to itself inside (a user namespace podman makes;
    # the spec has none).
    out=$(prl run --rm --userns=keep-id "$PRL_IMG" sh -c 'id -u; tr -s " " </proc/self/uid_map | head -n 2')
    set -- $PRL_SUB
    expect "keep-id" "$PRL_UID
 0 1 $PRL_UID
 $PRL_UID 0 1" "$out"
}

prl_network_and_limits() {
    # slirp4netns gives the container tap0 beside lo.
    out=$(prl run --rm "$PRL_IMG" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\n" " "')
    expect "interfaces" "lo tap0 " "$out" || return 1
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        return 0 # a v2 host: podman's own rootless cgroup handling (not tried here)
    fi
    # A hybrid host: podman drops the limits itself, with a warning, for any runtime.
    out=$(prl run --rm -m 64m --pids-limit 10 "$PRL_IMG" true 2>&1)
    expect_match "limits on a v1 host" "not supported and ignored on cgroups V1 rootless" "$out"
}

prl_volume_owner() {
    # A volume the user owns: root in the container is the user, and writes as it.
    d=$PRL/vol
    mkdir -p "$d" && chown "$PRL_USER:" "$d"
    out=$(prl run --rm -v "$d:/v" "$PRL_IMG" sh -c 'echo x > /v/f && stat -c "%u" /v/f; touch /etc/x 2>/dev/null && echo rootfs-writable')
    expect "a file written to a volume" "0
rootfs-writable" "$out" || return 1
    expect "its owner on the host" "$PRL_UID" "$(stat -c %u "$d/f")"
}

podman_rootless_scenarios() {
    for PRL_RT in runc rind; do
        SCENARIO_RUNTIME=$PRL_RT
        scenario "podman-rootless/$PRL_RT: ids, maps and image owners" prl_ids
        scenario "podman-rootless/$PRL_RT: exit codes, 126, 127" prl_exit_codes
        scenario "podman-rootless/$PRL_RT: run -d, exec, stop, rm" prl_detached_exec_stop_rm
        scenario "podman-rootless/$PRL_RT: kill with signals" prl_signals_kill
        scenario "podman-rootless/$PRL_RT: run -t, run -i" prl_tty_stdin
        scenario "podman-rootless/$PRL_RT: --userns=keep-id" prl_keep_id
        scenario "podman-rootless/$PRL_RT: slirp4netns, limits" prl_network_and_limits
        scenario "podman-rootless/$PRL_RT: a volume the user owns" prl_volume_owner
    done
    SCENARIO_RUNTIME=rind
}

podman_rootless_cleanup() {
    [ -n "${PRL_USER:-}" ] || return 0
    id "$PRL_USER" >/dev/null 2>&1 || return 0
    for PRL_RT in runc rind; do
        prl rm -a -f -t 0 >/dev/null 2>&1 || true
    done
    # podman's pause process, slirp4netns, conmon: everything left with the user's uid or one
    # of its subordinate uids, by pid.
    set -- $PRL_SUB
    for p in /proc/[0-9]*; do
        u=$(awk '/^Uid:/ { print $2 }' "$p/status" 2>/dev/null)
        [ -n "$u" ] || continue
        if [ "$u" = "$PRL_UID" ] || { [ "$u" -ge "$1" ] && [ "$u" -lt $(($1 + $2)) ]; }; then
            kill -9 "${p#/proc/}" 2>/dev/null || true
        fi
    done
    sleep 0.2
    # vfs layers hold files of subordinate ids: root removes them.
    rm -rf --one-file-system "$PRL"
    userdel -r "$PRL_USER" 2>/dev/null || echo "engine-test: userdel $PRL_USER failed" >&2
    PRL_USER=
}
