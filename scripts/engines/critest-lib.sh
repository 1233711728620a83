# Kubernetes' CRI validation suite (critest v1.26.1) through the private containerd of
# scripts/engines/cri.sh (sourced after it): its images and registry, the runtime wrappers'
# cgroup rewrite, one run per handler, and the comparison of rind's specs with runc's. Shared
# by scripts/critest.sh (the host, cgroupfs driver) and scripts/vm/systemd-cri.sh (the systemd
# guest, SystemdCgroup = true).
#
# critest pulls fixed images by name; there is no network, so a Debian docker-registry on
# 127.0.0.1:5000 in containerd's network namespace serves images built from the busybox
# fixture, with the users, groups, tags and web servers the specs expect; containerd has it as
# the mirror of registry.k8s.io, gcr.io and docker.io (critest's -registry-prefix would drop
# every tag). The registry's storage is filled on the host (critest_build_images; for the guest
# by scripts/engines/critest-registry.sh) and served from a copy. One image cannot be made:
# test-image-digest is pulled by a fixed upstream digest.

# critest_build_images NETNS: an OCI layout with every tag critest pulls, made from the busybox
# rootfs with umoci (in $T/images), then pushed with skopeo to the registry on 127.0.0.1:5000
# in network namespace NETNS. Needs umoci, skopeo and Go: the host only.
critest_build_images() {
    L=$T/images/oci
    mkdir -p "$T/images"
    umoci init --layout "$L" && umoci new --image "$L:base" &&
        umoci unpack --image "$L:base" "$T/images/b" >/dev/null || return 1
    cp -a "$FIXTURES/busybox/rootfs/." "$T/images/b/rootfs/"
    rm -f "$T/images/b/rootfs/.complete"
    r=$T/images/b/rootfs
    cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/sh
default-user:x:1000:1000:default-user:/home/default-user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
EOF
    cat >"$r/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
default-user:x:1000:
group-defined-in-image:x:50000:default-user
nogroup:x:65534:
EOF
    mkdir -p "$r/www" "$r/root" "$r/var/www" "$r/var/run" "$r/home/default-user"
    echo '<html><body>Welcome to rind test web server</body></html>' >"$r/www/index.html"
    # Hard links, as in Docker's busybox, not symlinks: masking /bin/ls (MaskedPaths) must not
    # mask the busybox binary it points to.
    for f in "$r"/bin/* "$r"/sbin/* "$r"/usr/bin/* "$r"/usr/sbin/*; do
        [ -L "$f" ] && [ "$(basename "$(readlink "$f")")" = busybox ] && ln -f "$r/bin/busybox" "$f"
    done
    # Tools the specs call that Debian's busybox lacks.
    printf '#!/bin/sh\nfor p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = "$1" ] && echo ${p#/proc/} && f=1; done\n[ -n "$f" ]\n' >"$r/bin/pgrep"
    printf '#!/bin/sh\ncat /proc/sysvipc/shm\n' >"$r/bin/ipcs"
    # The "nginx" the namespace specs look for: a process named nginx (pidof), whose command
    # line says "master process", that writes /var/run/nginx.pid and serves port 80.
    printf '#!/bin/sh\necho $$ >/var/run/nginx.pid\nexec 0</dev/null\nhttpd -f -p 80 -h /www\n' >"$r/usr/sbin/nginx"
    chmod 755 "$r/bin/pgrep" "$r/bin/ipcs" "$r/usr/sbin/nginx"
    # nonewprivs: a setuid-root program that prints its effective uid.
    mkdir -p "$T/images/nnp"
    cat >"$T/images/nnp/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Printf("Effective uid: %d\n", os.Geteuid()) }
EOF
    (cd "$T/images/nnp" && GOFLAGS= GOCACHE="$T/images/gocache" GOPATH="$T/images/gopath" CGO_ENABLED=0 \
        "$("$ROOT/scripts/install-go.sh")" build -o "$r/usr/local/bin/nnp" main.go) || return 1
    chmod 4755 "$r/usr/local/bin/nnp"
    umoci repack --image "$L:base" "$T/images/b" >/dev/null || return 1
    cfg() { # TAG [umoci config options]
        t=$1
        shift
        umoci config --image "$L:base" --tag "$t" --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
    }
    cfg busybox --config.cmd sh &&
        cfg nginx --config.cmd /usr/sbin/nginx --config.cmd -g --config.cmd 'master process' \
            --config.exposedports 80/tcp &&
        cfg httpd --config.cmd sh --config.cmd -c --config.cmd 'echo httpd -D FOREGROUND; exec httpd -f -p 80 -h /www' &&
        cfg hostnet-nginx --config.cmd httpd --config.cmd -f --config.cmd -p --config.cmd 12003 --config.cmd -h --config.cmd /www &&
        cfg user-uid --config.cmd sh --config.user 1002 &&
        cfg user-username --config.cmd sh --config.user www-data &&
        cfg user-uid-group --config.cmd sh --config.user 1003:1003 &&
        cfg user-username-group --config.cmd sh --config.user www-data:www-data &&
        cfg predefined-group --config.cmd sh --config.user 1000 &&
        cfg nonewprivs --config.cmd /usr/local/bin/nnp &&
        cfg latest --config.cmd sh --config.label rind.test=latest &&
        cfg tag --config.cmd sh --config.label rind.test=tag &&
        cfg tags --config.cmd sh --config.label rind.test=tags &&
        cfg plain1 --config.cmd sh --config.label rind.test=1 &&
        cfg plain2 --config.cmd sh --config.label rind.test=2 &&
        cfg plain3 --config.cmd sh --config.label rind.test=3 || return 1
    reg=k8s-staging-cri-tools
    e2e=e2e-test-images
    while read -r tag dest; do
        nsenter --net="$1" skopeo copy -q --dest-tls-verify=false "oci:$L:$tag" \
            "docker://127.0.0.1:5000/$dest" || { echo "push of $dest failed"; return 1; }
    done <<EOF
busybox $e2e/busybox:1.29-2
busybox $e2e/busybox:1.28
nginx $e2e/nginx:1.14-2
httpd $e2e/httpd:2.4.39-4
hostnet-nginx $reg/hostnet-nginx-amd64:latest
user-uid $reg/test-image-user-uid:latest
user-username $reg/test-image-user-username:latest
user-uid-group $reg/test-image-user-uid-group:latest
user-username-group $reg/test-image-user-username-group:latest
predefined-group $reg/test-image-predefined-group:latest
nonewprivs $e2e/nonewprivs:1.3
latest $reg/test-image-latest:latest
tag $reg/test-image-tag:test
tag $reg/test-image-tag:all
plain1 $reg/test-image-1:latest
plain2 $reg/test-image-2:latest
plain3 $reg/test-image-3:latest
tags $reg/test-image-tags:1
tags $reg/test-image-tags:2
tags $reg/test-image-tags:3
EOF
}

# critest_serve_registry STORAGE: serves a registry storage directory on 127.0.0.1:5000 in
# containerd's network namespace; sets REGISTRY_PID.
critest_serve_registry() {
    cat >"$T/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $1
http:
  addr: 127.0.0.1:5000
EOF
    nsenter --net="$K/netns" docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
    REGISTRY_PID=$!
    i=0
    until nsenter --net="$K/netns" "$BUSYBOX" wget -qO- http://127.0.0.1:5000/v2/ >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 300 ] || { echo "the registry did not start:"; tail "$T/registry.log"; return 1; }
        sleep 0.1
    done
}

# critest_wrap_cgroups WRAPPER: puts a wrapper in front of a runtime wrapper that gives a
# bundle whose cgroupsPath is containerd's default /k8s.io/ID (critest sets no cgroup parent on
# its pods) a cgroup of this run's: $CGROUP_PARENT/k8s.io/ID on the cgroupfs driver (below this
# run's own cgroup, not at every hierarchy's root), rindcri-critest.slice:cri-containerd:ID on
# the systemd driver (a path is no systemd cgroupsPath: runc and rind both refuse it). The
# same wrapper goes in front of both runtimes; the shim finds the cgroup from the container's
# pid, so it follows.
critest_wrap_cgroups() {
    if [ "$CRI_CGROUP_DRIVER" = systemd ]; then
        to='"rindcri-critest.slice:cri-containerd:" + (.linux.cgroupsPath | ltrimstr("/k8s.io/"))'
    else
        to='$p + .linux.cgroupsPath'
    fi
    mv "$1" "$1.inner"
    cat >"$1" <<EOF
#!/bin/sh
prev=
for a in "\$@"; do
    case \$prev in
    --bundle | -b)
        f=\$a/config.json
        case \$(jq -r '.linux.cgroupsPath // ""' "\$f") in
        /k8s.io/*) jq --arg p "${CGROUP_PARENT:-}" '.linux.cgroupsPath = $to' "\$f" >"\$f.new" && mv "\$f.new" "\$f" ;;
        esac
        ;;
    esac
    prev=\$a
done
exec "$1.inner" "\$@"
EOF
    chmod 755 "$1"
}

# critest_run HANDLER...: critest once per handler (each under a timeout of CRITEST_TIMEOUT s,
# default 900); writes $T/specs-HANDLER (state TAB spec, sorted) and prints each handler's
# counts and failing specs.
critest_run() {
    for h in "$@"; do
        t0=$(now_ms)
        # shellcheck disable=SC2086
        timeout -k 10 "${CRITEST_TIMEOUT:-900}" nsenter --net="$K/netns" --ipc="$K/ipcns" "$CRI_TOOLS/critest" \
            -runtime-endpoint "unix://$K/containerd.sock" -image-endpoint "unix://$K/containerd.sock" \
            -runtime-handler "$h" \
            -ginkgo.no-color -ginkgo.json-report "$T/critest-$h.json" \
            ${CRITEST_FOCUS:+-ginkgo.focus "$CRITEST_FOCUS"} ${CRITEST_SKIP:+-ginkgo.skip "$CRITEST_SKIP"} \
            >"$T/critest-$h.out" 2>&1
        jq -r '.[0].SpecReports[] | select(.LeafNodeType == "It") | "\(.State)\t\(.ContainerHierarchyTexts | join(" ")) \(.LeafNodeText)"' \
            "$T/critest-$h.json" 2>/dev/null | sort -t "$(printf '\t')" -k2 >"$T/specs-$h"
        echo "critest/$h: $(grep -c '^passed' "$T/specs-$h") passed, $(grep -vc '^passed\|^skipped' "$T/specs-$h") failed, $(grep -c '^skipped' "$T/specs-$h") skipped ($((($(now_ms) - t0) / 1000))s)"
        grep -v '^passed\|^skipped' "$T/specs-$h" | sed "s/^/  $h: /"
    done
}

# critest_compare: the specs that pass with runc and fail with rind. Prints "critest: N
# passed, M failed" (N pass with both, M with runc only) and returns 1 when M > 0, or when a
# handler's run reported no passing spec at all.
critest_compare() {
    [ -f "$T/specs-rind" ] && [ -f "$T/specs-runc" ] || return 0
    if ! grep -q '^passed' "$T/specs-rind" || ! grep -q '^passed' "$T/specs-runc"; then
        echo "a critest run reported no passing spec (see critest-*.out)"
        echo "critest: 0 passed, 1 failed"
        return 1
    fi
    regressions=$(awk -F'\t' 'NR == FNR { if ($1 == "passed") ok[$2] = 1; next } ok[$2] && $1 != "passed" { print $2 }' \
        "$T/specs-runc" "$T/specs-rind")
    n_ok=$(awk -F'\t' 'NR == FNR { if ($1 == "passed") ok[$2] = 1; next } ok[$2] && $1 == "passed"' "$T/specs-runc" "$T/specs-rind" | wc -l)
    n_bad=$(printf '%s' "$regressions" | grep -c .)
    [ -z "$regressions" ] || { echo "passed with runc, failed with rind:"; echo "$regressions" | sed 's/^/  /'; }
    echo "critest: $n_ok passed, $n_bad failed"
    [ "$n_bad" = 0 ]
}

# critest_guest: critest in the systemd guest (scripts/vm/systemd-cri.sh, after cri_setup) for
# $CRI_HANDLERS, from the registry storage the host built (/rind/registry); the comparison
# counts as one scenario in the engine suite's results.
critest_guest() {
    critest_wrap_cgroups "$T/bin/rind"
    critest_wrap_cgroups "$T/bin/runc"
    cp -a /rind/registry "$T/registry-storage"
    if ! critest_serve_registry "$T/registry-storage"; then
        failed=$((failed + 1))
        echo "$ENGINE|critest registry|FAIL|0|" >>"$T/results"
        return
    fi
    # shellcheck disable=SC2086 # a word list
    critest_run $CRI_HANDLERS
    name="critest: every spec that passes with runc passes with rind"
    if critest_compare; then
        passed=$((passed + 1))
        echo "$ENGINE|$name|PASS|0|" >>"$T/results"
    else
        failed=$((failed + 1))
        echo "$ENGINE|$name|FAIL|0|" >>"$T/results"
    fi
    kill "$REGISTRY_PID" 2>/dev/null
    wait "$REGISTRY_PID" 2>/dev/null
}
