#!/bin/sh
# The systemd guest's test (scripts/vm-systemd-test.sh): PID 1 is Debian's systemd, and this runs
# as its service rind-systemd-test.service. rind --systemd-cgroup is checked against systemd's
# own view (`systemctl show`) and the cgroup files, limits are shown to take effect, and every
# lifecycle step must leave no unit behind.
#
# Console protocol as scripts/vm/init's: RIND-VM-BEGIN, one "RIND-SD ok|FAIL <check>" line per
# check, RIND-VM-END, RIND-VM-EXIT=<number of failed checks>; then the guest powers off.
export PATH=/rind/bin:/usr/bin:/usr/sbin:/bin:/sbin
B=/rind/bundles
CG=/sys/fs/cgroup
failed=0
R() { rind --systemd-cgroup "$@"; }
# Milliseconds since boot (busybox's date has no %N; /proc/uptime counts in 10 ms steps).
ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

ok() { echo "RIND-SD ok $*"; }
bad() {
    echo "RIND-SD FAIL $*"
    failed=$((failed + 1))
}
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1 = $3"; else bad "$1: want '$2', got '$3'"; fi
}
prop() { systemctl show -P "$2" "$1" 2>&1; }
units() { systemctl list-units --all --plain --no-legend 'rind-*.scope' 'cri-containerd-*.scope' 2>&1 | grep -v '^$'; }
power_off() {
    echo "RIND-VM-END"
    echo "RIND-VM-EXIT=$failed"
    stty -F /dev/console onlcr 2>/dev/null
    dd if=/dev/zero of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    systemctl poweroff -ff
}

# A hybrid host (systemd.unified_cgroup_hierarchy=0): one scope, its directory in every v1
# hierarchy, the ones systemd does not manage (cpuset, freezer) made by rind.
v1_checks() {
    U=rind-v1.scope
    S=system.slice/$U
    R run -d --bundle $B/v1 v1 >/tmp/out 2>&1 || bad "run v1: $(cat /tmp/out)"
    check "v1 unit active" active "$(prop $U ActiveState)"
    check "v1 MemoryLimit" 67108864 "$(prop $U MemoryLimit)"
    check "v1 CPUShares" 512 "$(prop $U CPUShares)"
    check "v1 CPUQuotaPerSecUSec" 500ms "$(prop $U CPUQuotaPerSecUSec)"
    check "v1 TasksMax" 32 "$(prop $U TasksMax)"
    check "v1 memory.limit_in_bytes" 67108864 "$(cat $CG/memory/$S/memory.limit_in_bytes)"
    check "v1 cpu.shares" 512 "$(cat $CG/cpu/$S/cpu.shares)"
    check "v1 cpu.cfs_quota_us" 50000 "$(cat $CG/cpu/$S/cpu.cfs_quota_us)"
    check "v1 pids.max" 32 "$(cat $CG/pids/$S/pids.max)"
    check "v1 cpuset.cpus (rind's hierarchy)" 0 "$(cat $CG/cpuset/$S/cpuset.cpus)"
    pid=$(rind state v1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    for c in memory pids cpuset freezer; do
        check "v1 init in $c" "/$S" "$(sed -n "s/^[0-9]*:[^:]*$c[^:]*://p" /proc/"$pid"/cgroup)"
    done
    R update --memory 134217728 v1 >/tmp/out 2>&1 || bad "v1 update: $(cat /tmp/out)"
    check "v1 update MemoryLimit" 134217728 "$(prop $U MemoryLimit)"
    check "v1 update memory.limit_in_bytes" 134217728 "$(cat $CG/memory/$S/memory.limit_in_bytes)"
    R pause v1 || bad "v1 pause"
    check "v1 freezer.state" FROZEN "$(cat $CG/freezer/$S/freezer.state)"
    R resume v1 || bad "v1 resume"
    R delete -f v1 || bad "v1 delete"
    check "v1 after delete: unit" "" "$(units)"
    for c in memory pids cpuset freezer; do
        check "v1 after delete: $c directory" absent "$([ -e $CG/$c/$S ] && echo present || echo absent)"
    done
    R run -d --bundle $B/v1 v1 >/tmp/out 2>&1 || bad "run v1 again: $(cat /tmp/out)"
    pid=$(rind state v1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    kill -9 "$pid"
    i=0
    while [ -n "$(units)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    check "v1 after kill -9 of init: unit" "" "$(units)"
    R kill --all v1 KILL >/tmp/out 2>&1 && ok "v1 kill --all after the crash exits 0" || bad "v1 kill --all after crash: $(cat /tmp/out)"
    R delete v1 >/tmp/out 2>&1 || bad "v1 delete after crash: $(cat /tmp/out)"
    for c in memory cpuset freezer; do
        check "v1 after crash and delete: $c directory" absent "$([ -e $CG/$c/$S ] && echo present || echo absent)"
    done
}

echo RIND-VM-BEGIN
echo "guest: $(systemctl --version | head -n 1), PID 1 is $(cat /proc/1/comm), $(uname -r)"
if [ "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)" = tmpfs ]; then
    echo "guest: cgroup v1 (hybrid)"
    v1_checks
    power_off
    exit 0
fi
check "cgroup2 only" cgroup2 "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)"

# 0. Pods through containerd's CRI with SystemdCgroup = true (scripts/vm/systemd-cri.sh).
if grep -qwE 'cri|critest' /rind/parts; then
    t0=$(ms)
    /rind/systemd-cri.sh
    failed=$((failed + $?))
    echo "guest: the CRI part took $((($(ms) - t0) / 1000)) s"
fi
grep -qw base /rind/parts || { power_off; exit 0; }

# 1. A container with every resource systemd owns.
t0=$(ms)
R run -d --bundle $B/limits limits >/tmp/out 2>&1 || bad "run limits: $(cat /tmp/out)"
t1=$(ms)
echo "guest: rind --systemd-cgroup run -d: $((t1 - t0)) ms"
U=rind-limits.scope
D=$CG/system.slice/$U
check "limits unit active" active "$(prop $U ActiveState)"
check "limits unit Delegate" yes "$(prop $U Delegate)"
check "limits unit Slice" system.slice "$(prop $U Slice)"
check "limits MemoryMax" 67108864 "$(prop $U MemoryMax)"
check "limits MemoryHigh" 62914560 "$(prop $U MemoryHigh)"
check "limits MemorySwapMax" 0 "$(prop $U MemorySwapMax)"
check "limits TasksMax" 32 "$(prop $U TasksMax)"
check "limits CPUWeight" 100 "$(prop $U CPUWeight)"
check "limits CPUQuotaPerSecUSec" 500ms "$(prop $U CPUQuotaPerSecUSec)"
check "limits CPUQuotaPeriodUSec" 100ms "$(prop $U CPUQuotaPeriodUSec)"
check "limits AllowedCPUs" 0 "$(prop $U AllowedCPUs)"
check "limits AllowedMemoryNodes" 0 "$(prop $U AllowedMemoryNodes)"
check "limits DevicePolicy" strict "$(prop $U DevicePolicy)"
check "limits memory.max" 67108864 "$(cat $D/memory.max)"
check "limits memory.high" 62914560 "$(cat $D/memory.high)"
check "limits memory.swap.max" 0 "$(cat $D/memory.swap.max)"
check "limits pids.max" 32 "$(cat $D/pids.max)"
check "limits cpu.max" "50000 100000" "$(cat $D/cpu.max)"
check "limits cpu.weight" 100 "$(cat $D/cpu.weight)"
check "limits cpuset.cpus" 0 "$(cat $D/cpuset.cpus)"
pid=$(rind state limits | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
check "limits init's cgroup" "0::/system.slice/$U" "$(cat /proc/"$pid"/cgroup)"
check "limits unit's tasks" 1 "$(prop $U TasksCurrent)"
out=$(rind exec limits sh -c 'echo hi >/dev/null && cat /proc/self/cgroup' 2>&1)
check "exec in limits (device /dev/null allowed, cgroup namespace)" "0::/" "$out"
if rind exec limits sh -c 'mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda' >/dev/null 2>&1; then
    bad "limits: a block device not in the rules was readable"
else
    ok "limits: a device not in the rules is refused"
fi

# 2. update: unit properties and files.
R update --memory 134217728 --memory-swap 134217728 --pids-limit 64 --cpu-quota 25000 limits >/tmp/out 2>&1 || bad "update: $(cat /tmp/out)"
check "update MemoryMax" 134217728 "$(prop $U MemoryMax)"
check "update TasksMax" 64 "$(prop $U TasksMax)"
check "update CPUQuotaPerSecUSec" 250ms "$(prop $U CPUQuotaPerSecUSec)"
check "update memory.max" 134217728 "$(cat $D/memory.max)"
check "update pids.max" 64 "$(cat $D/pids.max)"
check "update cpu.max" "25000 100000" "$(cat $D/cpu.max)"
# A daemon-reload makes systemd write its properties to the cgroup again: they must agree.
systemctl daemon-reload
check "after daemon-reload memory.max" 134217728 "$(cat $D/memory.max)"
check "after daemon-reload pids.max" 64 "$(cat $D/pids.max)"

# 3. pause / resume through the freezer.
R pause limits || bad "pause"
check "paused status" paused "$(rind state limits | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')"
check "paused cgroup.freeze" 1 "$(cat $D/cgroup.freeze)"
R resume limits || bad "resume"
check "resumed status" running "$(rind state limits | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')"

# 4. delete stops the unit and leaves nothing.
R delete -f limits || bad "delete limits"
check "after delete: unit" "" "$(units)"
check "after delete: directory" absent "$([ -e $D ] && echo present || echo absent)"

# 5. memory.max kills: the OOM killer ends the container (exit 137), the scope goes.
R run --bundle $B/oom oom >/tmp/out 2>&1
status=$?
check "oom exit status" 137 "$status$(cat /tmp/out)"
check "after oom: unit" "" "$(units)"

# 6. pids.max refuses forks, in a nested slice (kubepods-besteffort-pod1.slice), then a crash:
# init killed with SIGKILL, and systemd collects the empty scope without rind.
R run -d --bundle $B/pids pids >/tmp/out 2>&1 || bad "run pids: $(cat /tmp/out)"
PD=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-pids.scope
check "nested slice directory" present "$([ -d $PD ] && echo present || echo absent)"
check "nested unit Slice" kubepods-besteffort-pod1.slice "$(prop cri-containerd-pids.scope Slice)"
out=$(timeout 30 rind exec pids sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1000 >/dev/null 2>&1 & done; echo all-forked' 2>&1)
case $out in *fork*) ok "pids: fork refused in the container: $out" ;; *) bad "pids: no fork refused: $out" ;; esac
check "pids.current within the limit" yes "$([ "$(cat $PD/pids.current)" -le 8 ] && echo yes || echo "no: $(cat $PD/pids.current)")"
max=$(sed -n 's/^max //p' $PD/pids.events)
if [ "${max:-0}" -gt 0 ]; then ok "pids.events max=$max"; else bad "pids.events: $(cat $PD/pids.events)"; fi
pid=$(rind state pids | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
kill -9 "$pid"
i=0
while [ -e $PD ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "after kill -9 of init: unit (before rind delete)" "" "$(systemctl list-units --all --plain --no-legend 'cri-containerd-*' | grep -v '^$')"
check "after kill -9 of init: directory" absent "$([ -e $PD ] && echo present || echo absent)"
# containerd's shim sends this after every exit: the cgroup systemd removed is no error.
R kill --all pids KILL >/tmp/out 2>&1 && ok "kill --all after the crash exits 0" || bad "kill --all after crash: $(cat /tmp/out)"
R delete pids >/tmp/out 2>&1 || bad "delete pids after crash: $(cat /tmp/out)"
check "after delete of crashed: state" absent "$([ -e /run/rind/pids ] && echo present || echo absent)"

# 7. A bad cgroupsPath names itself, in one line.
out=$(R run --bundle $B/badpath badpath 2>&1)
check "bad cgroupsPath lines" 1 "$(echo "$out" | wc -l)"
case $out in *'"/not/a/slice"'*slice:prefix:name*) ok "bad cgroupsPath: $out" ;; *) bad "bad cgroupsPath message: $out" ;; esac
check "after bad path: unit" "" "$(units)"

# 8. The cgroupfs driver still works next to systemd; times with and without the flag.
t0=$(ms)
rind run --bundle $B/plain plain >/tmp/out 2>&1 || bad "plain run: $(cat /tmp/out)"
t1=$(ms)
R run --bundle $B/true sdtrue >/tmp/out 2>&1 || bad "systemd run true: $(cat /tmp/out)"
t2=$(ms)
echo "guest: rind run true: $((t1 - t0)) ms without the flag, $((t2 - t1)) ms with --systemd-cgroup (TCG)"
check "after runs: unit" "" "$(units)"

# 9a. A cgroupsPath whose name is a slice ("system.slice:x:in.slice"): runc 1.1 asks systemd
# for a slice unit in.slice (Wants= the parent slice, and PIDs=[init]), which systemd refuses
# (PIDs is a scope's property). rind asks the same: both fail with systemd's message, and
# neither leaves a unit or a container.
for rt in runc rind; do
    out=$(timeout 60 $rt --systemd-cgroup run -d --bundle $B/slice "$rt-slice" 2>&1 </dev/null)
    status=$?
    check "$rt with a .slice name: exit status" 1 "$status"
    case $out in
        *'Cannot set property PIDs'*) ok "$rt with a .slice name: systemd refused the slice unit: $(echo "$out" | tail -n 1 | cut -c1-200)" ;;
        *) bad "$rt with a .slice name: $out" ;;
    esac
    check "$rt with a .slice name: in.slice" inactive "$(prop in.slice ActiveState)"
    check "$rt with a .slice name: container left" "" "$($rt list -q 2>/dev/null)"
done

# 9b. A user's own manager (user@1000.service, Delegate=pids memory cpu): rind --systemd-cgroup
# run by that user, rootless, talks to it on $XDG_RUNTIME_DIR/systemd/private, as runc does.
user_checks() {
    echo 'tester:x:1000:1000:tester:/home/tester:/bin/sh' >>/etc/passwd
    echo 'tester:x:1000:' >>/etc/group
    mkdir -p /home/tester /etc/pam.d
    chown 1000:1000 /home/tester
    # No logind, D-Bus daemon or PAM stack in this guest: user@.service's PAMName gets a
    # permissive one, and /run/user/1000 is made by a stand-in for user-runtime-dir@.service,
    # whose helper asks logind over the bus for the directory's size.
    printf '%s required pam_permit.so\n' auth account session >/etc/pam.d/systemd-user
    mkdir -p /etc/systemd/system/user-runtime-dir@1000.service.d
    printf '[Service]\nExecStart=\nExecStart=/bin/sh -c "mkdir -p /run/user/1000 && chown 1000:1000 /run/user/1000 && chmod 700 /run/user/1000"\nExecStop=\nExecStop=/bin/rm -rf /run/user/1000\n' \
        >/etc/systemd/system/user-runtime-dir@1000.service.d/stand-in.conf
    # pam_systemd would set XDG_RUNTIME_DIR for the manager.
    mkdir -p /etc/systemd/system/user@1000.service.d
    printf '[Service]\nEnvironment=XDG_RUNTIME_DIR=/run/user/1000\n' >/etc/systemd/system/user@1000.service.d/stand-in.conf
    systemctl daemon-reload
    systemctl start user@1000.service >/tmp/out 2>&1 ||
        bad "start user@1000.service: $(cat /tmp/out) $(systemctl status user@1000.service user-runtime-dir@1000.service 2>&1 | tail -n 20)"
    check "user manager active" active "$(prop user@1000.service ActiveState)"
    # The full path: busybox's sh runs its own setpriv applet, which cannot change ids.
    AS="/usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups env XDG_RUNTIME_DIR=/run/user/1000 HOME=/home/tester PATH=$PATH"
    UU=rind-user1.scope
    UD=$CG/user.slice/user-1000.slice/user@1000.service/user.slice/$UU
    # The same user and bundle (plus the cgroup mount rind spec --rootless writes) without
    # --systemd-cgroup, and runc 1.1.5 as rind is run below: shown, not checked, to tell a
    # rootless failure from the driver's.
    $AS systemd-run --user --quiet --collect --service-type=oneshot -p StandardOutput=file:/tmp/plain-user.out \
        -p StandardError=file:/tmp/plain-user.out /rind/bin/rind run --bundle $B/user-plain plain-user1 >/dev/null 2>&1 </dev/null
    echo "guest: rind rootless as uid 1000 without --systemd-cgroup: $(tail -n 2 /tmp/plain-user.out 2>&1 | cut -c1-300)"
    $AS systemd-run --user --quiet --collect --service-type=oneshot -p StandardOutput=file:/tmp/runc-user.out \
        -p StandardError=file:/tmp/runc-user.out /usr/sbin/runc --systemd-cgroup --root /run/user/1000/runc run -d \
        --bundle $B/user runc-user1 >/dev/null 2>&1 </dev/null
    echo "guest: runc as uid 1000 with the user's manager: $(tail -n 2 /tmp/runc-user.out 2>&1 | cut -c1-300)"
    $AS /usr/sbin/runc --root /run/user/1000/runc delete -f runc-user1 >/dev/null 2>&1
    # rind runs in a service of the user's manager (systemd-run --user, a oneshot: systemd-run
    # returns when it has exited): the manager moves init into the new scope, which it may do
    # only within its own delegated tree. From a login session outside that tree systemd
    # --user asks the system manager over the system bus (AttachProcessesToUnit), and this
    # guest has no D-Bus daemon (nor can systemd-run --wait or --pipe work without one).
    rm -f /tmp/user-run.out # made by the user's manager, as uid 1000
    $AS systemd-run --user --quiet --collect --service-type=oneshot -p StandardOutput=file:/tmp/user-run.out \
        -p StandardError=file:/tmp/user-run.out /rind/bin/rind --systemd-cgroup run -d --bundle $B/user user1 \
        >/tmp/out 2>&1 </dev/null
    status=$?
    [ $status = 0 ] || bad "rootless run with the user's manager: $(cat /tmp/out /tmp/user-run.out)"
    check "user unit active (systemctl --user)" active "$($AS systemctl --user show -P ActiveState $UU 2>&1)"
    check "user unit Delegate" yes "$($AS systemctl --user show -P Delegate $UU 2>&1)"
    check "user unit TasksMax" 16 "$($AS systemctl --user show -P TasksMax $UU 2>&1)"
    check "user unit's directory" present "$([ -d $UD ] && echo present || echo absent)"
    check "user unit pids.max" 16 "$(cat $UD/pids.max 2>&1)"
    check "user unit memory.max" 67108864 "$(cat $UD/memory.max 2>&1)"
    pid=$($AS rind state user1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    check "user container's init's cgroup" "0::/user.slice/user-1000.slice/user@1000.service/user.slice/$UU" "$(cat /proc/"$pid"/cgroup 2>&1)"
    check "user container's uid" "$(printf '0 1000 1')" "$(awk '{ print $1, $2, $3 }' /proc/"$pid"/uid_map 2>&1)"
    $AS rind --systemd-cgroup delete -f user1 >/tmp/out 2>&1 || bad "rootless delete: $(cat /tmp/out)"
    check "after delete: user unit" "" "$($AS systemctl --user list-units --all --plain --no-legend 'rind-*' 2>&1 | grep -v '^$')"
    check "after delete: user unit's directory" absent "$([ -d $UD ] && echo present || echo absent)"
    rootless_podman
    systemctl stop user@1000.service
}

# 9c. Rootless podman with rind as its runtime in the user's delegated subtree: podman runs in a
# service of the user's manager (whose cgroup the user owns), with the cgroupfs manager (the
# systemd one would need the user's D-Bus session bus), vfs storage and no network. rind, root
# of podman's user namespace, makes the container's cgroup in that subtree and applies the
# limits, which the container reads back.
rootless_podman() {
    if ! command -v podman >/dev/null || [ ! -u /usr/bin/newuidmap ]; then
        echo "guest: podman or a setuid newuidmap is not in the guest: the rootless podman check is skipped"
        return
    fi
    echo 'tester:100000:65536' >>/etc/subuid
    echo 'tester:100000:65536' >>/etc/subgid
    mkdir -p /home/tester/.config/containers /home/tester/rootfs
    printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >/home/tester/.config/containers/containers.conf
    printf '[storage]\ndriver = "vfs"\n' >/home/tester/.config/containers/storage.conf
    cp -a /rind/rootfs/. /home/tester/rootfs/
    chown -R 1000:1000 /home/tester
    rm -f /tmp/podman-user.out # made by the user's manager, as uid 1000
    t0=$(date +%s)
    $AS systemd-run --user --quiet --collect --service-type=oneshot -p RuntimeMaxSec=300 \
        -p StandardOutput=file:/tmp/podman-user.out -p StandardError=file:/tmp/podman-user.out \
        /usr/bin/podman --runtime /rind/bin/rind run --rm --network none --memory 64m --pids-limit 16 \
        --rootfs /home/tester/rootfs sh -c 'echo "limits $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/pids.max)"; echo map $(cat /proc/self/uid_map); echo rootless-podman-ok' \
        >/tmp/out 2>&1 </dev/null
    echo "guest: rootless podman run with rind: $(($(date +%s) - t0)) s (TCG)"
    out=$(cat /tmp/podman-user.out 2>&1)
    case $out in *rootless-podman-ok*) ok "rootless podman run with rind in the user's subtree" ;; *) bad "rootless podman run: $(cat /tmp/out) $out" ;; esac
    check "rootless podman: limits in the container's cgroup" "limits 67108864 16" "$(echo "$out" | grep '^limits')"
    check "rootless podman: podman's user namespace" "map 0 1000 1 1 100000 65536" "$(echo "$out" | grep '^map')"
    echo "guest: rootless podman: cgroups in the user's subtree afterwards: $(cd $CG/user.slice/user-1000.slice/user@1000.service && find . -type d | tr '\n' ' ')"
    check "rootless podman: no libpod cgroup left" "" "$(find $CG/user.slice/user-1000.slice/user@1000.service -type d -name 'libpod-*' 2>&1)"
}
user_checks

# 9. podman with its default systemd cgroup manager and rind as its runtime, when the host had
# podman to copy in.
if command -v podman >/dev/null; then
    mkdir -p /etc/containers /var/lib/containers /run/containers
    printf '[engine]\ncgroup_manager = "systemd"\nevents_logger = "file"\n' >/etc/containers/containers.conf
    printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' >/etc/containers/storage.conf
    out=$(timeout 120 podman --runtime /rind/bin/rind run --rm --network none --rootfs /rind/rootfs sh -c 'cat /proc/self/cgroup; echo podman-ok' 2>&1)
    case $out in *podman-ok*) ok "podman run with rind, cgroup_manager systemd: $(echo "$out" | head -n 1)" ;; *) bad "podman run: $out" ;; esac
    cid=$(timeout 120 podman --runtime /rind/bin/rind run -d --network none --rootfs /rind/rootfs sleep 1000 2>&1)
    u=$(systemctl list-units --plain --no-legend 'libpod-*.scope' | awk '{ print $1 }' | grep -v conmon)
    check "podman container's unit (made by rind)" "libpod-$cid.scope" "$u"
    check "podman unit's slice" machine.slice "$(prop "$u" Slice)"
    check "podman container's cgroup" present "$([ -d "$CG/machine.slice/libpod-$cid.scope" ] && echo present || echo absent)"
    timeout 120 podman --runtime /rind/bin/rind rm -f "$cid" >/tmp/out 2>&1 || bad "podman rm -f: $(cat /tmp/out)"
    check "after podman: libpod scopes" "" "$(systemctl list-units --all --plain --no-legend 'libpod-*.scope' | grep -v '^$')"
else
    echo "guest: podman is not installed on the host: the podman check is skipped"
fi

power_off
