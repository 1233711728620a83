#!/bin/sh
# Captures the config.json that real tools hand to an OCI runtime, for tests/foreign_configs.rs.
#
#   rootfs-fixtures/foreign/configs.sh [OUT_DIR]
#
# OUT_DIR defaults to rootfs-fixtures/out; the configs go to OUT_DIR/foreign/configs:
#   runc-spec.json, runc-spec-rootless.json   `runc spec` and `runc spec --rootless`
#   podman-*.json      podman 4.3 (through conmon), private storage, netns none
#   ctr-*.json         containerd 1.6's ctr run (runc v2 shim), private containerd
#   docker-*.json      dockerd 20.10 (runc v2 shim), private dockerd and containerd
# Each engine runs a throwaway container with a recording runtime: a wrapper that copies the
# bundle's config.json (and, in NAME.binds, whether each bind mount's source is a file or a
# directory, since those sources are gone when the tests run), then runs runc. The runtime never
# sees a config written by hand.
#
# Needs the engines (scripts/engines/install.sh installs them) and the busybox image fixture.
# Every daemon is started here, on sockets and state under a temp dir, and stopped by pid;
# everything they mounted is unmounted. Idempotent: a complete set is kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/../out}
dest=$out/foreign/configs
[ -f "$dest/.complete" ] && exit 0

"$repo/scripts/engines/install.sh"
"$here/../images/build.sh" "$out"
archive=$out/images/busybox-oci.tar

rm -rf "$dest"
mkdir -p "$dest"
T=$(mktemp -d /tmp/rind-foreign-configs.XXXXXX)
chmod 711 "$T"
pids=""
[ -d /run/containerd ] && had_run_dir=1 || had_run_dir=0
# The cgroups of the throwaway containers go below this process's own (shared-host rule).
base=$(awk -F: '{ p = $3; if (length(p) > length(b)) b = p } END { print b }' /proc/self/cgroup)
parent=${base%/}/rind-foreign-$$

cleanup() {
    set +e
    for p in $pids; do
        kill "$p" 2>/dev/null
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # Shims and conmon name the temp dir on their command lines; they are ours.
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$T" && kill -9 "$pid" 2>/dev/null
    done
    awk -v d="$T/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    if [ "$had_run_dir" = 0 ]; then rmdir /run/containerd/s /run/containerd 2>/dev/null; fi
    # The containers' cgroups went with them; their parent is ours to remove, in every hierarchy
    # and in the directories podman makes in the v1 tmpfs for controllers the host has not
    # mounted (hugetlb, net_cls...).
    roots=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup2?$/) print $5; break } }' /proc/self/mountinfo)
    [ -f /sys/fs/cgroup/cgroup.controllers ] || roots="$roots $(ls -d /sys/fs/cgroup/*/)"
    for m in $roots; do
        m=${m%/}
        [ -d "$m$parent" ] || continue
        if [ "$(stat -f -c %T "$m$parent")" = tmpfs ]; then
            rm -rf --one-file-system "$m$parent" # podman's "tasks" files are plain files there
            d=$(dirname "$m$parent")
            while [ "$d" != /sys/fs/cgroup ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
        else
            find "$m$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
        fi
    done
    rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The recording runtime. $T/capture holds the name of the config being captured.
cat >"$T/record-runtime" <<EOF
#!/bin/sh
prev=
for a in "\$@"; do
    case \$prev in --bundle|-b) python3 "$here/record-config.py" "\$a/config.json" "$dest/\$(cat "$T/capture")" ;; esac
    prev=\$a
done
exec runc "\$@"
EOF
chmod 755 "$T/record-runtime"
# take NAME COMMAND...: runs one engine command with the recording runtime, which must have
# captured NAME.
take() {
    echo "$1" >"$T/capture"
    name=$1
    shift
    "$@" >/dev/null || { echo "configs.sh: $name: $* failed" >&2; exit 1; }
    [ -f "$dest/$name.json" ] || { echo "configs.sh: $name was not captured" >&2; exit 1; }
}


# runc spec
(cd "$T" && runc spec && mv config.json "$dest/runc-spec.json")
(cd "$T" && runc spec --rootless && mv config.json "$dest/runc-spec-rootless.json")

# podman
P=$T/podman
mkdir -p "$P/tmp" "$P/networks"
# podman's default rlimits (1048576) are above what a host without CAP_SYS_RESOURCE grants;
# the host's hard limits, as in scripts/engines/podman.sh.
nofile=$(awk '/^Max open files/ { print $5 }' /proc/self/limits)
nproc=$(awk '/^Max processes/ { print $4 }' /proc/self/limits)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=32768
[ "$nproc" -gt 32768 ] && nproc=32768
cat >"$P/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[network]
network_config_dir = "$P/networks"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
runtime = "record"
[engine.runtimes]
record = ["$T/record-runtime"]
EOF
printf '[storage]\ndriver = "vfs"\nrunroot = "%s/runroot"\ngraphroot = "%s/root"\n' "$P" "$P" >"$P/storage.conf"
printf 'unqualified-search-registries = []\n' >"$P/registries.conf"
export CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$P/registries.conf"
pm() { timeout -k 5 120 podman --root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" "$@"; }
pm load -q -i "$archive" >/dev/null
pmrun() { pm run --rm --pull never --cgroup-parent "$parent" "$@"; }
take podman-default pmrun localhost/busybox:latest
take podman-restricted pmrun --read-only --tmpfs /scratch:size=1m,mode=1777 --cap-drop all \
    --cap-add NET_ADMIN -m 64m --pids-limit 50 --cpus 0.5 -u 1000:100 --hostname box \
    --sysctl kernel.shm_rmid_forced=1 --security-opt no-new-privileges -e FOO=bar -w /tmp \
    localhost/busybox:latest
take podman-privileged pmrun --privileged localhost/busybox:latest
pm rm -a -f >/dev/null 2>&1 || true
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF

# containerd (ctr)
C=$T/containerd
mkdir -p "$C"
sed "s|@T@|$T|g" "$repo/scripts/engines/containerd.toml" >"$C/config.toml"
containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
pids="$! $pids"
ct() { timeout -k 5 120 ctr --address "$C/containerd.sock" --namespace rind-foreign "$@"; }
i=0
until ct version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { tail "$C/containerd.log" >&2; exit 1; }; sleep 0.1
done
ct images import --base-name localhost/busybox "$archive" >/dev/null
img=localhost/busybox:busybox
ctrun() { ct run --rm --runc-binary "$T/record-runtime" --runc-root "$C/runc" --fifo-dir "$C/fifo" "$@"; }
take ctr-default ctrun --cgroup "$parent/ctr-default" "$img" ctr-default true
take ctr-seccomp-limits ctrun --seccomp --read-only --memory-limit 67108864 --cpus 0.5 \
    --cap-drop CAP_NET_RAW --env FOO=bar --cwd /tmp --cgroup "$parent/ctr-limits" "$img" ctr-limits true
take ctr-privileged ctrun --privileged --cgroup "$parent/ctr-privileged" "$img" ctr-privileged true

# docker (its own containerd, given to it, so that the host's socket is never used)
D=$T/docker
mkdir -p "$D/containerd"
echo '{}' >"$D/daemon.json"
sed "s|@T@/containerd|$D/containerd|g" "$repo/scripts/engines/containerd.toml" >"$D/containerd/config.toml"
containerd --config "$D/containerd/config.toml" >"$D/containerd/containerd.log" 2>&1 &
pids="$! $pids"
i=0
until [ -S "$D/containerd/containerd.sock" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { tail "$D/containerd/containerd.log" >&2; exit 1; }; sleep 0.1
done
/usr/sbin/dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
    --pidfile "$D/docker.pid" --host "unix://$D/docker.sock" --containerd "$D/containerd/containerd.sock" \
    --bridge none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
    --storage-driver vfs --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$parent" \
    --add-runtime "record=$T/record-runtime" --default-runtime record >"$D/dockerd.log" 2>&1 &
pids="$! $pids"
dk() { timeout -k 5 120 /usr/bin/docker --host "unix://$D/docker.sock" --config "$D/cli" "$@"; }
i=0
until dk version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 200 ] || { tail "$D/dockerd.log" >&2; exit 1; }; sleep 0.1
done
skopeo copy -q "oci-archive:$archive:busybox" "docker-archive:$D/busybox.tar:$img"
dk load -q -i "$D/busybox.tar" >/dev/null
dkrun() { dk run --rm --network none "$@"; }
take docker-default dkrun "$img"
take docker-restricted dkrun --read-only --tmpfs /run --cap-drop ALL --cap-add CHOWN -m 64m \
    --memory-swap 64m --pids-limit 50 --cpus 0.5 -u 1000:100 --hostname box \
    --security-opt no-new-privileges --device /dev/null:/dev/mynull:r --ulimit nofile=100:200 "$img"
take docker-privileged dkrun --privileged "$img"

touch "$dest/.complete"
echo "foreign configs in $dest" >&2
