# Pods through containerd's CRI plugin, driven with crictl, with rind as the binary of the
# io.containerd.runc.v2 shim (sourced by scripts/engine-test.sh). Every scenario runs once per
# runtime handler: "rind", and "runc" (the same shim with runc 1.1.5 as its binary), so that a
# failure with runc marks the scenario, not rind.
#
# A private containerd (Debian's 1.6) with the CRI plugin on runs from cri.toml with its root,
# state, sockets and the runtimes' state under $T/cri, in network and IPC namespaces of its own
# that this script makes (files under $T/cri bind-mounted by unshare; a pod with host IPC gets
# the private one): the CNI bridge ("rind-cri0", 10.88.213.0/24, host-local IPAM state under
# $T/cri) and the streaming server that exec, attach and port-forward use live there, so
# nothing is added to the host's network; crictl runs in that namespace too. Images are local: the busybox fixture and a sandbox ("pause")
# image built by cri-tools.sh, imported with ctr into the k8s.io namespace.
#
# Two cgroup drivers (CRI_CGROUP_DRIVER): "cgroupfs" (the default; the engine suite on the
# host), where pods get cgroup parents under the suite's $CGROUP_PARENT, and "systemd"
# (SystemdCgroup = true for both handlers; scripts/vm/systemd-cri.sh in the guest whose PID 1 is
# systemd), where each pod gets a slice below rindcri.slice and each container a
# cri-containerd-<id>.scope unit. The scenarios are the same for both: only cri_cgroup_parent,
# cri_pod_cgroup and cri_ctr_cgroup know the driver.
#
# Variables the caller sets: T, RIND (through the wrapper in $T/bin/rind), ENGINES_DIR,
# FIXTURES, ENGINE_TIMEOUT, CGROUP_PARENT (cgroupfs); CRI_TOOLS (crictl and pause-oci.tar;
# default: built by cri-tools.sh), BUSYBOX (a static busybox; default the fixture's).
#
# Left on the host by containerd itself, and checked by cri_cleanup: each pod's network
# namespace is a file under /var/run/netns (removed with the pod), the shim sockets go to
# /run/containerd/s (a compiled-in path), and libcni caches results under /var/lib/cni (removed
# with the pod); the directories are removed when this run made them.

CRI_IMG=localhost/busybox:busybox # the OCI fixture: entrypoint sh -c, user tester (uid 1000)
CRI_RT=rind                       # the runtime handler of the scenario being run
# The handlers each scenario runs with, in cri.toml; the runtime is the handler's name up to a
# dash (rind, runc).
CRI_HANDLERS=${CRI_HANDLERS:-rind runc}
CRI_CGROUP_DRIVER=${CRI_CGROUP_DRIVER:-cgroupfs}
BUSYBOX=${BUSYBOX:-$FIXTURES/busybox/rootfs/bin/busybox}
# A factor for the time limits of the checks that time a stop (4 in the TCG guest).
CRI_SLOW=${CRI_SLOW:-1}

cri_setup() {
    K=$T/cri
    mkdir -p "$K/cni" "$K/logs" "$K/ipam" "$K/rind-state" "$K/runc-state"
    [ -n "${CRI_TOOLS:-}" ] || CRI_TOOLS=$("$ENGINES_DIR/cri-tools.sh") || return 1
    CRICTL=$CRI_TOOLS/crictl
    [ -d /run/containerd ] && CRI_HAD_RUN_DIR=1 || CRI_HAD_RUN_DIR=0
    [ -d /var/run/netns ] && CRI_HAD_NETNS_DIR=1 || CRI_HAD_NETNS_DIR=0
    [ -d /var/lib/cni ] && CRI_HAD_CNI_DIR=1 || CRI_HAD_CNI_DIR=0
    ls /var/run/netns 2>/dev/null | sort >"$K/netns-before"
    sd=false
    [ "$CRI_CGROUP_DRIVER" = systemd ] && sd=true
    sed -e "s|@K@|$K|g" -e "s|@T@|$T|g" -e "s|@SYSTEMD_CGROUP@|$sd|g" "$ENGINES_DIR/cri.toml" >"$K/config.toml"
    # Host ports (iptables rules, in the private network namespace) only when asked for.
    portmap=
    [ -z "${CRI_PORTMAP:-}" ] || portmap=',
    { "type": "portmap", "capabilities": { "portMappings": true } }'
    cat >"$K/cni/10-rind-cri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "rind-cri",
  "plugins": [
    {
      "type": "bridge", "bridge": "rind-cri0", "isGateway": true, "ipMasq": false,
      "ipam": {
        "type": "host-local", "dataDir": "$K/ipam",
        "ranges": [[{ "subnet": "10.88.213.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }$portmap
  ]
}
EOF
    printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' \
        "$K/containerd.sock" "$K/containerd.sock" >"$K/crictl.yaml"
    # runc's wrapper records its invocations as rind's does (lib.sh checks the scenario's
    # runtime was the one invoked).
    cat >"$T/bin/runc" <<EOF
#!/bin/sh
echo "runc \$*" >>"$T/runtime.log"
exec $(command -v runc) "\$@"
EOF
    chmod 755 "$T/bin/runc"
    touch "$K/netns" "$K/ipcns"
    unshare --net="$K/netns" --ipc="$K/ipcns" true || { echo "could not make network and IPC namespaces"; return 1; }
    nsenter --net="$K/netns" ip link set lo up || return 1
    nsenter --net="$K/netns" --ipc="$K/ipcns" containerd --config "$K/config.toml" >"$K/containerd.log" 2>&1 &
    CRI_CONTAINERD_PID=$!
    i=0
    until cri version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 150 ] || ! kill -0 "$CRI_CONTAINERD_PID" 2>/dev/null; then
            echo "containerd's CRI plugin did not start:"
            tail -n 20 "$K/containerd.log"
            return 1
        fi
        sleep 0.1
    done
    CRI_CTR="ctr --address $K/containerd.sock --namespace k8s.io"
    # shellcheck disable=SC2086 # a word list of paths without spaces
    $CRI_CTR images import --base-name localhost/busybox "$FIXTURES/images/busybox-oci.tar" >/dev/null &&
        $CRI_CTR images import --base-name localhost/pause "$CRI_TOOLS/pause-oci.tar" >/dev/null || return 1
    cri images
}

# cri ARGS: crictl on the private containerd, in its network namespace, under a timeout.
cri() {
    timeout -k 5 "$ENGINE_TIMEOUT" nsenter --net="$K/netns" "$CRICTL" --config "$K/crictl.yaml" "$@"
}

# cri_pod NAME [SECURITY-CONTEXT-JSON]: writes a pod config (cgroup parent under the suite's,
# log directory under $K/logs) and prints its path. The name carries the handler, so that the
# rind and runc runs of a scenario never share a cgroup.
cri_pod() {
    pn=$CRI_RT-$1
    cgp=$(cri_cgroup_parent "$pn")
    sc=
    [ -z "${2:-}" ] || sc=", \"security_context\": $2"
    mkdir -p "$K/logs/$pn"
    cat >"$K/$pn.pod.json" <<EOF
{
  "metadata": { "name": "$pn", "namespace": "rind-cri", "uid": "$pn-$$", "attempt": 0 },
  "log_directory": "$K/logs/$pn",
  "linux": { "cgroup_parent": "$cgp"$sc }
}
EOF
    echo "$K/$pn.pod.json"
}

# cri_cgroup_parent POD-NAME: the pod's cgroup parent for the cgroup driver. cgroupfs: a path
# below the suite's cgroup. systemd: a slice, as the kubelet's systemd driver names them
# (kubepods-besteffort-pod<uid>.slice), below rindcri.slice, which nothing else uses; a dash
# in a slice name means nesting, so the pod name's dashes become underscores.
cri_cgroup_parent() {
    if [ "$CRI_CGROUP_DRIVER" = systemd ]; then
        echo "rindcri-pod$(echo "$1" | tr - _).slice"
    else
        echo "$CGROUP_PARENT/$1"
    fi
}

# cri_pod_cgroup POD-NAME: the pod's cgroup directory, relative to each hierarchy's root.
cri_pod_cgroup() {
    if [ "$CRI_CGROUP_DRIVER" = systemd ]; then
        echo "/rindcri.slice/$(cri_cgroup_parent "$1")"
    else
        cri_cgroup_parent "$1"
    fi
}

# cri_ctr_cgroup POD-NAME CID: a container's cgroup directory, relative to each hierarchy's
# root (systemd: the scope unit containerd names with the prefix cri-containerd).
cri_ctr_cgroup() {
    if [ "$CRI_CGROUP_DRIVER" = systemd ]; then
        echo "$(cri_pod_cgroup "$1")/cri-containerd-$2.scope"
    else
        echo "$(cri_pod_cgroup "$1")/$2"
    fi
}

# cri_units: the units of the suite's pods systemd knows (none on the cgroupfs driver).
cri_units() {
    [ "$CRI_CGROUP_DRIVER" = systemd ] || return 0
    systemctl list-units --all --plain --no-legend 'cri-containerd-*.scope' 2>&1 | awk 'NF { print $1 }'
}

# cri_ctr NAME COMMAND-JSON [LINUX-JSON [MORE-FIELDS]]: writes a container config of the
# busybox image and prints its path.
cri_ctr() {
    f=$K/$CRI_RT-$1.ctr.json
    lx=
    [ -z "${3:-}" ] || lx=", \"linux\": $3"
    more=
    [ -z "${4:-}" ] || more=", $4"
    cat >"$f" <<EOF
{
  "metadata": { "name": "$1" },
  "image": { "image": "$CRI_IMG" },
  "command": $2,
  "log_path": "$1.log"$lx$more
}
EOF
    echo "$f"
}

# cri_runp POD-JSON: runs a pod sandbox with the scenario's handler; prints its id.
cri_runp() {
    cri runp --runtime "$CRI_RT" "$1"
}

# cri_with_pod NAME SECURITY-CONTEXT-JSON FUNCTION: the skeleton of every scenario. Runs a pod
# (NAME, with the pod-level security context when not empty) with the scenario's handler, runs
# FUNCTION with $pod (its id) and $pj (its config) set, removes the pod whatever FUNCTION
# returned, and returns FUNCTION's status.
cri_with_pod() {
    pj=$(cri_pod "$1" "$2")
    pod=$(cri_runp "$pj") || { echo "runp of pod $1 failed"; return 1; }
    "$3"
    rc=$?
    cri_rm_pod "$pod"
    return $rc
}

# cri_start POD-ID CTR-JSON POD-JSON: creates and starts a container; prints its id.
cri_start() {
    cid=$(cri create "$1" "$2" "$3") || return 1
    cri start "$cid" >/dev/null || return 1
    echo "$cid"
}

# cri_field ID JQ-FILTER: a field of `crictl inspect` (containers) or `inspectp` (pods).
cri_field() {
    cri inspect "$1" 2>/dev/null | jq -r "$2"
}
cri_pod_field() {
    cri inspectp "$1" 2>/dev/null | jq -r "$2"
}

# cri_wait_state CID STATE: waits up to 20 s for CONTAINER_RUNNING, CONTAINER_EXITED...
cri_wait_state() {
    i=0
    while [ $i -lt 200 ]; do
        [ "$(cri_field "$1" .status.state)" = "$2" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "container $1 never reached $2 (now: $(cri_field "$1" .status.state))"
    return 1
}

# cri_rm_pod POD-ID: stops and removes a pod and its containers (scenario cleanup).
cri_rm_pod() {
    [ -n "$1" ] || return 0
    cri stopp "$1" >/dev/null 2>&1
    cri rmp -f "$1" >/dev/null 2>&1
    return 0
}

# cri_in CID COMMAND...: `crictl exec -s` (the synchronous ExecSync call).
cri_in() {
    c=$1
    shift
    cri exec -s "$c" "$@"
}

# --- scenarios ------------------------------------------------------------------------------
# Each is a function run by cri_with_pod inside a pod of $CRI_RT's (cri_scenarios names the
# pod), with $pod and $pj set; it returns 0 when every check held.

# Two containers in one pod share its network and IPC namespaces, and (by default, the
# POD mode) its PID namespace, where the sandbox process is PID 1. The pod gets an address
# from the bridge.
cri_shared_namespaces() {
    a=$(cri_start "$pod" "$(cri_ctr a '["sh", "-c", "httpd -f -p 8080 -h /etc"]')" "$pj") &&
        b=$(cri_start "$pod" "$(cri_ctr b '["sleep", "1000"]')" "$pj") || return 1
    r=0
    for ns in net ipc pid uts; do
        expect "$ns namespace of a and b" "$(cri_in "$a" readlink /proc/self/ns/$ns)" \
            "$(cri_in "$b" readlink /proc/self/ns/$ns)" || r=1
    done
    expect "PID 1 of the shared PID namespace" "/pause" "$(cri_in "$b" cat /proc/1/cmdline | tr '\0' ' ' | sed 's/ $//')" || r=1
    expect_match "a's httpd seen from b" "httpd -f -p 8080" "$(cri_in "$b" ps -o args)" || r=1
    expect_match "pod address" '^10\.88\.213\.[0-9]+$' "$(cri_pod_field "$pod" .status.network.ip)" || r=1
    expect_match "b reaches a's server over the pod's loopback" "^tester:" \
        "$(cri_in "$b" wget -qO- http://127.0.0.1:8080/passwd | grep '^tester:')" || r=1
    return $r
}

# A pod whose PID mode is CONTAINER (kubelet sets it in both the pod's and each container's
# security context) gives each container its own PID namespace, and still one network.
CRI_OWN_PID='{ "namespace_options": { "pid": 1 } }'
cri_own_pid() {
    own="{ \"security_context\": $CRI_OWN_PID }"
    a=$(cri_start "$pod" "$(cri_ctr a '["sleep", "1000"]' "$own")" "$pj") &&
        b=$(cri_start "$pod" "$(cri_ctr b '["sleep", "1000"]' "$own")" "$pj") || return 1
    r=0
    expect "net namespace (pid: CONTAINER)" "$(cri_in "$a" readlink /proc/self/ns/net)" \
        "$(cri_in "$b" readlink /proc/self/ns/net)" || r=1
    [ "$(cri_in "$a" readlink /proc/self/ns/pid)" != "$(cri_in "$b" readlink /proc/self/ns/pid)" ] ||
        { echo "pid: CONTAINER, yet a and b share a PID namespace"; r=1; }
    expect "PID 1 of a container's own PID namespace" "sleep 1000" \
        "$(cri_in "$b" cat /proc/1/cmdline | tr '\0' ' ' | sed 's/ $//')" || r=1
    return $r
}

# exec (streamed through containerd's server), exec -s (ExecSync), exec -i with stdin, an
# exec's exit code, and the container's log (stdout and stderr).
cri_exec_logs() {
    c=$(cri_start "$pod" "$(cri_ctr c '["sh", "-c", "echo to-stdout; echo to-stderr >&2; exec sleep 1000"]')" "$pj") || return 1
    r=0
    # crictl 1.26 exits 1 whatever the exec's code, and names the code in its message.
    out=$(cri exec "$c" sh -c 'echo streamed; id -un; exit 3' 2>"$K/exec.err")
    expect "exec output" "streamed
tester" "$out" || r=1
    expect_match "exec exit code" "exit code 3" "$(cat "$K/exec.err")" || r=1
    expect "exec -s output" "sync
tester" "$(cri exec -s "$c" sh -c 'echo sync; id -un')" || r=1
    expect_match "exec -s exit code" "exited with 4" "$(cri exec -s "$c" sh -c 'exit 4' 2>&1)" || r=1
    expect "exec -i" "from stdin" "$(echo 'from stdin' | cri exec -i "$c" cat)" || r=1
    sleep 0.3
    out=$(cri logs "$c" 2>&1)
    expect_match "logs (stdout)" "to-stdout" "$out" || r=1
    expect_match "logs (stderr)" "to-stderr" "$out" || r=1
    return $r
}

# attach to a container's stdin and read what it printed in its log.
cri_attach() {
    c=$(cri_start "$pod" "$(cri_ctr c '["sh", "-c", "while read l; do echo \"got $l\"; done"]' '' '"stdin": true')" "$pj") || return 1
    cri_wait_state "$c" CONTAINER_RUNNING || return 1
    r=0
    { echo ping; sleep 2; } | timeout 5 nsenter --net="$K/netns" "$CRICTL" --config "$K/crictl.yaml" attach -i "$c" >"$K/attach.out" 2>&1
    i=0
    while [ $i -lt 30 ] && ! cri logs "$c" 2>/dev/null | grep -q 'got ping'; do sleep 0.1; i=$((i + 1)); done
    expect_match "what the container read from the attached stdin (log)" "got ping" "$(cri logs "$c" 2>&1)" || r=1
    expect_match "attach's own output" "got ping" "$(cat "$K/attach.out")" || r=1
    return $r
}

# port-forward from a local port (in the suite's network namespace) to the pod's port 8080.
cri_port_forward() {
    c=$(cri_start "$pod" "$(cri_ctr c '["httpd", "-f", "-p", "8080", "-h", "/etc"]')" "$pj") || return 1
    port=$((20000 + $$ % 20000))
    timeout 20 nsenter --net="$K/netns" "$CRICTL" --config "$K/crictl.yaml" port-forward "$pod" "$port:8080" \
        >"$K/pf.out" 2>&1 &
    pf=$!
    i=0
    out=
    while [ $i -lt 100 ] && [ -z "$out" ]; do
        sleep 0.1
        out=$(nsenter --net="$K/netns" "$BUSYBOX" wget -qO- "http://127.0.0.1:$port/passwd" 2>/dev/null | grep '^tester:')
        i=$((i + 1))
    done
    kill "$pf" 2>/dev/null
    wait "$pf" 2>/dev/null
    expect_match "the pod's /etc/passwd over port-forward" "^tester:" "$out" || { cat "$K/pf.out"; return 1; }
}

# A container whose process exits on its own is reported exited, with its code; the shim's
# `kill --all` after init exits must have been accepted.
cri_exit_code() {
    c=$(cri_start "$pod" "$(cri_ctr c '["sh", "-c", "sleep 0.3; exit 7"]')" "$pj") || return 1
    cri_wait_state "$c" CONTAINER_EXITED || return 1
    r=0
    expect "exit code" 7 "$(cri_field "$c" .status.exitCode)" || r=1
    expect "reason (a non-zero code)" Error "$(cri_field "$c" .status.reason)" || r=1
    shim_kill_all_ok "$K/containerd.log" "$c" || r=1
    cri rm "$c" >/dev/null || { echo "rm of the exited container failed"; r=1; }
    return $r
}

# stop with a grace period: a container that ignores the stop signal is killed once the period
# is over (137), one that exits on it stops at once with its own code. The signal is the
# image's StopSignal, SIGQUIT (exit 9 below), not SIGTERM (exit 8).
cri_stop_grace() {
    deaf=$(cri_start "$pod" "$(cri_ctr deaf '["sh", "-c", "trap \"\" TERM QUIT; while :; do sleep 0.1; done"]')" "$pj") &&
        polite=$(cri_start "$pod" "$(cri_ctr polite '["sh", "-c", "trap \"exit 8\" TERM; trap \"exit 9\" QUIT; while :; do sleep 0.1; done"]')" "$pj") || return 1
    r=0
    sleep 0.5
    t0=$(now_ms)
    cri stop -t 2 "$deaf" >/dev/null || { echo "stop -t 2 failed"; r=1; }
    ms=$(($(now_ms) - t0))
    [ $ms -ge 1900 ] && [ $ms -lt $((CRI_SLOW * 8000)) ] || { echo "stop -t 2 of a container ignoring SIGTERM took ${ms} ms"; r=1; }
    expect "exit code after the grace period" 137 "$(cri_field "$deaf" .status.exitCode)" || r=1
    t0=$(now_ms)
    cri stop -t 20 "$polite" >/dev/null || { echo "stop -t 20 failed"; r=1; }
    ms=$(($(now_ms) - t0))
    [ $ms -lt $((CRI_SLOW * 5000)) ] || { echo "stop of a container exiting on its stop signal took ${ms} ms"; r=1; }
    expect "exit code of the container trapping SIGQUIT, the image's stop signal" 9 "$(cri_field "$polite" .status.exitCode)" || r=1
    return $r
}

# Removing a container (stop, rm) from a running pod, then the pod (stopp, rmp), leaves no
# process, cgroup (systemd: no unit), mount, network namespace or runtime state behind, also
# with a process left running in the background of a container.
cri_removal_leaves_nothing() {
    pn=$CRI_RT-rm
    a=$(cri_start "$pod" "$(cri_ctr a '["sh", "-c", "sleep 1001 & exec sleep 1002"]')" "$pj") &&
        b=$(cri_start "$pod" "$(cri_ctr b '["sleep", "1003"]')" "$pj") || return 1
    r=0
    sleep 0.3
    netns=$(cri_pod_field "$pod" '.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path')
    pids=""
    for id in "$pod" "$a" "$b"; do
        pid=$(cri_pod_field "$id" .info.pid 2>/dev/null)
        [ -n "$pid" ] && [ "$pid" != null ] || pid=$(cri_field "$id" .info.pid)
        pids="$pids $(container_pids "$pid")"
    done
    [ "$(echo $pids | wc -w)" -ge 4 ] || { echo "expected at least 4 processes, saw: $pids"; r=1; }
    # One container first, while its pod lives on.
    bpid=$(cri_field "$b" .info.pid)
    bcg=$(cri_ctr_cgroup "$pn" "$b")
    n=0
    for m in $(cgroup_roots); do [ -d "$m$bcg" ] && n=$((n + 1)); done
    [ $n -gt 0 ] || { echo "the container's cgroup is not where the check looks: $bcg"; r=1; }
    expect_match "the container's cgroup, from /proc/PID/cgroup" "$bcg\$" "$(cat "/proc/$bpid/cgroup")" || r=1
    if [ "$CRI_CGROUP_DRIVER" = systemd ]; then
        expect "units of the pod while it runs" 3 "$(cri_units | wc -l)" || r=1
    fi
    grep -qF -- "$b" /proc/self/mountinfo || { echo "no mount of the container's is where the check looks"; r=1; }
    cri stop -t 5 "$b" >/dev/null && cri rm "$b" >/dev/null || { echo "stop and rm of a container failed"; r=1; }
    sleep 0.2
    [ ! -d "/proc/$bpid" ] || { echo "the removed container's process $bpid lives on"; r=1; }
    for m in $(cgroup_roots); do
        [ ! -d "$m$bcg" ] || { echo "the removed container's cgroup is left in $m"; r=1; }
    done
    ! cri_units | grep -qF -- "$b" || { echo "the removed container's unit is left: $(cri_units | grep -F -- "$b")"; r=1; }
    ! grep -qF -- "$b" /proc/self/mountinfo || { echo "the removed container's mounts are left"; r=1; }
    [ ! -e "$K/${CRI_RT%%-*}-state/k8s.io/$b" ] || { echo "the removed container's runtime state is left"; r=1; }
    expect "containers left in the pod" "$a" "$(cri ps -a -q --pod "$pod")" || r=1
    cri stopp "$pod" >/dev/null || { echo "stopp failed"; r=1; }
    cri rmp "$pod" >/dev/null || { echo "rmp failed"; r=1; }
    sleep 0.3
    for p in $pids; do
        [ -d "/proc/$p" ] && { echo "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) outlived its pod"; r=1; }
    done
    for m in $(cgroup_roots); do
        left=$(find "$m$(cri_pod_cgroup "$pn")" -mindepth 1 -type d 2>/dev/null)
        [ -z "$left" ] || { echo "cgroups left: $left"; r=1; }
    done
    expect "units left" "" "$(cri_units)" || r=1
    left=$(grep -E -- "$pod|$a|$b" /proc/self/mountinfo)
    [ -z "$left" ] || { echo "mounts left: $left"; r=1; }
    [ -z "$netns" ] || [ ! -e "$netns" ] || { echo "network namespace left: $netns"; r=1; }
    expect "$CRI_RT state left" "" "$(ls "$K/${CRI_RT%%-*}-state/k8s.io" 2>/dev/null)" || r=1
    expect "pods left" "" "$(cri pods -q)" || r=1
    return $r
}

# A container over its memory limit is killed by the kernel and reported as OOMKilled, exit
# code 137 (the v1 memory controller on the hybrid host, memory.max on v2).
cri_oom() {
    c=$(cri_start "$pod" "$(cri_ctr c '["tail", "/dev/zero"]' '{ "resources": { "memory_limit_in_bytes": 33554432 } }')" "$pj") || return 1
    cri_wait_state "$c" CONTAINER_EXITED || return 1
    r=0
    expect "reason" OOMKilled "$(cri_field "$c" .status.reason)" || r=1
    expect "exit code" 137 "$(cri_field "$c" .status.exitCode)" || r=1
    return $r
}

# seccomp from the container's security context: RuntimeDefault (containerd's profile refuses
# unshare(CLONE_NEWUSER)), a Localhost profile that refuses mkdir, and none (unconfined).
cri_seccomp() {
    cat >"$K/no-mkdir.json" <<'EOS'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
}
EOS
    cmd='["sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true 2>/dev/null; echo unshare=$?; mkdir /tmp/d 2>/dev/null; echo mkdir=$?"]'
    def=$(cri_start "$pod" "$(cri_ctr def "$cmd" '{ "security_context": { "seccomp": { "profile_type": 0 } } }')" "$pj") &&
        loc=$(cri_start "$pod" "$(cri_ctr loc "$cmd" "{ \"security_context\": { \"seccomp\": { \"profile_type\": 2, \"localhost_ref\": \"$K/no-mkdir.json\" } } }")" "$pj") &&
        none=$(cri_start "$pod" "$(cri_ctr none "$cmd")" "$pj") || return 1
    r=0
    for c in "$def" "$loc" "$none"; do cri_wait_state "$c" CONTAINER_EXITED || r=1; done
    expect "RuntimeDefault" "Seccomp:	2
unshare=1
mkdir=0" "$(cri logs "$def" 2>&1)" || r=1
    expect "Localhost (mkdir refused)" "Seccomp:	2
unshare=0
mkdir=1" "$(cri logs "$loc" 2>&1)" || r=1
    expect "no profile" "Seccomp:	0
unshare=0
mkdir=0" "$(cri logs "$none" 2>&1)" || r=1
    return $r
}

# Capabilities added and dropped in the container's security context (as root in the
# container): NET_ADMIN (bit 12) added, CHOWN (bit 0) dropped, so chown fails.
cri_capabilities() {
    c=$(cri_start "$pod" "$(cri_ctr c '["sh", "-c", "grep ^CapEff: /proc/self/status; chown 1000 /tmp 2>/dev/null; echo chown=$?; ip link set lo mtu 1500 2>/dev/null; echo netadmin=$?"]' \
        '{ "security_context": { "run_as_user": { "value": 0 }, "capabilities": { "add_capabilities": ["NET_ADMIN"], "drop_capabilities": ["CHOWN"] } } }')" "$pj") || return 1
    cri_wait_state "$c" CONTAINER_EXITED || return 1
    r=0
    out=$(cri logs "$c" 2>&1)
    eff=$(echo "$out" | awk '/^CapEff:/ { print $2 }')
    [ -n "$eff" ] && [ $((0x$eff & 4096)) != 0 ] && [ $((0x$eff & 1)) = 0 ] ||
        { echo "CapEff $eff: want NET_ADMIN (0x1000) set and CHOWN (0x1) clear"; r=1; }
    expect_match "chown without CAP_CHOWN, a netlink change with CAP_NET_ADMIN" "chown=1.*netadmin=0" "$(echo $out)" || r=1
    echo "$CRI_RT: CapEff $eff" >>"$K/capeff"
    return $r
}

# A pod with its own user namespace (kubelet's hostUsers: false): the CRI's userns_options,
# mode POD, container root mapped to host uid and gid 100000. cri_userns_map prints the
# container's uid_map; cri_userns checks it.
CRI_USERNS='{ "namespace_options": { "userns_options": { "mode": 0, "uids": [{ "host_id": 100000, "container_id": 0, "length": 65536 }], "gids": [{ "host_id": 100000, "container_id": 0, "length": 65536 }] } } }'
cri_userns_map() {
    c=$(cri_start "$pod" "$(cri_ctr c '["cat", "/proc/self/uid_map"]' "{ \"security_context\": $CRI_USERNS }")" "$pj") &&
        cri_wait_state "$c" CONTAINER_EXITED >/dev/null && cri logs "$c" 2>&1 | awk '{ $1 = $1; print }'
}

cri_userns() {
    expect "the container's uid_map" "0 100000 65536" "$(cri_userns_map)"
}

# cri_scenario TITLE POD-NAME POD-SECURITY-CONTEXT FUNCTION: one scenario in its own pod.
cri_scenario() {
    scenario "$CRI_TAG/$CRI_RT: $1" cri_with_pod "$2" "$3" "$4"
}

cri_scenarios() {
    CRI_TAG=cri
    [ "$CRI_CGROUP_DRIVER" = cgroupfs ] || CRI_TAG=cri-$CRI_CGROUP_DRIVER
    for CRI_RT in $CRI_HANDLERS; do
        SCENARIO_RUNTIME=${CRI_RT%%-*}
        cri_scenario "pod with containers sharing network, IPC, PID" shared '' cri_shared_namespaces
        cri_scenario "pod with pid: CONTAINER" own-pid "$CRI_OWN_PID" cri_own_pid
        cri_scenario "exec, exec -s, exec -i, logs" exec '' cri_exec_logs
        cri_scenario "attach" attach '' cri_attach
        cri_scenario "port-forward" pf '' cri_port_forward
        cri_scenario "a container exiting on its own shows its exit code" exit '' cri_exit_code
        cri_scenario "stop with a grace period" stop '' cri_stop_grace
        cri_scenario "removal leaves no process, cgroup, mount, netns or state" rm '' cri_removal_leaves_nothing
        cri_scenario "OOM-killed container reported as OOMKilled" oom '' cri_oom
        cri_scenario "seccomp RuntimeDefault, Localhost, none" seccomp '' cri_seccomp
        cri_scenario "capabilities added and dropped" caps '' cri_capabilities
    done
    # containerd 1.6's CRI plugin has no user namespaces for pods (they came in 1.7): it
    # ignores userns_options, and the container gets the host's uid map. Run with runc first:
    # when even runc's container is not mapped, the scenario cannot apply here.
    CRI_RT=runc
    SCENARIO_RUNTIME=runc
    map=$(cri_with_pod userns "$CRI_USERNS" cri_userns_map 2>&1 | tail -n 1)
    if [ "$map" = "0 100000 65536" ]; then
        for CRI_RT in $CRI_HANDLERS; do
            SCENARIO_RUNTIME=${CRI_RT%%-*}
            cri_scenario "pod with a user namespace (userns_options)" userns "$CRI_USERNS" cri_userns
        done
    else
        skip "$CRI_TAG: pod with a user namespace (userns_options)" \
            "containerd $(containerd --version | awk '{ print $3 }') ignores userns_options: with runc too the container's uid_map is '$map'"
    fi
    SCENARIO_RUNTIME=rind
    CRI_RT=rind
}

cri_cleanup() {
    [ -n "${CRI_CONTAINERD_PID:-}" ] || return 0
    if kill -0 "$CRI_CONTAINERD_PID" 2>/dev/null; then
        for p in $(cri pods -q 2>/dev/null); do cri_rm_pod "$p"; done
        kill "$CRI_CONTAINERD_PID" 2>/dev/null
        i=0
        while kill -0 "$CRI_CONTAINERD_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$CRI_CONTAINERD_PID" 2>/dev/null || true
    fi
    wait "$CRI_CONTAINERD_PID" 2>/dev/null || true
    CRI_CONTAINERD_PID=
    # Pod network namespaces containerd made and did not remove (a pod it could not tear down).
    ls /var/run/netns 2>/dev/null | sort | comm -13 "$K/netns-before" - | while read -r n; do
        case $n in cni-*)
            echo "engine-test: removing the leftover pod network namespace /var/run/netns/$n" >&2
            umount "/var/run/netns/$n" 2>/dev/null
            rm -f "/var/run/netns/$n"
            ;;
        esac
    done
    umount "$K/netns" "$K/ipcns" 2>/dev/null
    # The pods' slices (systemd driver): empty by now, and used by nothing else.
    [ "$CRI_CGROUP_DRIVER" != systemd ] || systemctl stop rindcri.slice 2>/dev/null
    if [ "$CRI_HAD_RUN_DIR" = 0 ]; then
        rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    fi
    [ "$CRI_HAD_NETNS_DIR" = 1 ] || rmdir /var/run/netns 2>/dev/null || true
    [ "$CRI_HAD_CNI_DIR" = 1 ] || rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
}
