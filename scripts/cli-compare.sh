#!/bin/bash
# Runs the same command lines against two rind binaries and diffs what each prints (stdout,
# stderr) and its exit code: a check that a change to the parsing (src/cli.rs, a clap
# upgrade) changes nothing a user or an engine sees.
#
#   scripts/cli-compare.sh OLD_RIND NEW_RIND
#
# Both binaries must be named `rind` (clap prints the name it was started as). Every command
# line runs with RIND_ROOT and RIND_STORE in a fresh temporary directory, in an empty working
# directory, and names only containers that do not exist, so nothing here creates or touches a
# container; the verbs that would reach the network are given local references that fail.
# Prints each command line that differs, with the diff, and a count; exits 1 if any differ.
set -euo pipefail
[ $# = 2 ] || { echo "usage: $0 OLD_RIND NEW_RIND" >&2; exit 2; }
old=$(realpath "$1")
new=$(realpath "$2")
for bin in "$old" "$new"; do
    [ "$(basename "$bin")" = rind ] || { echo "$0: $bin: must be named rind" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/rind-cli-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cwd" "$tmp/out"
export RIND_ROOT=$tmp/root RIND_STORE=$tmp/store

verbs="create start run state kill delete list ls spec features pause resume ps events update
exec stop rm logs inspect image"
image_verbs="pull import ls inspect rm prune mount unmount"
id=clapdiff-none

# One command line per line; `$rind` is the binary under test. Lines are run with eval, so
# they may set or unset environment variables.
cases() {
    cat <<'EOF'
$rind
$rind --help
$rind -h
$rind --version
$rind -V
$rind help
$rind help help
$rind help nope
$rind help image pull
$rind nope
$rind stat nope
$rind --root
$rind --root /x
$rind --root /x --help
$rind --root /x -h state nope
$rind --root /x --version state nope
$rind --bogus state nope
$rind --roo /x state nope
$rind --forc delete clapdiff-none
$rind --log-format bad state nope
$rind --log-format=bad state nope
$rind --log-format json --debug --store /s --trace-format json state nope
$rind --debug=1 state nope
$rind --root a --root b state nope
$rind --root=/x state nope
$rind --root= state nope
$rind --root --debug state nope
$rind --root state nope
$rind -- state nope
$rind - state nope
$rind --rootless true state nope
$rind --systemd-cgroup state nope
$rind --trace-format xml state nope
$rind state --root /x nope
$rind state nope --root /x
$rind state nope --root
$rind state --log-format bad nope
$rind state --log-format=json --debug nope
$rind state --rootless true nope
$rind state --systemd-cgroup nope
$rind state nope extra
$rind state -- --root
$rind state --roo /x nope
$rind state --help --root /x
$rind run --root /x -b b clapdiff-none
$rind --root /x run -b b clapdiff-none
$rind run -b b --root=/x --store /s clapdiff-none
$rind run
$rind run --image
$rind run --rm clapdiff-none
$rind run clapdiff-none -- sh
$rind run --image x -b /b
$rind run --image x --keep
$rind run --image x --name a b
$rind run --image oci:/nonexistent --rm --root /x -- sh -c true
$rind create -b /nonexistent clapdiff-none
$rind create --bundle
$rind create --pid-file
$rind create --preserve-fds x clapdiff-none
$rind kill --all
$rind kill clapdiff-none KILL --root /x
$rind delete --force clapdiff-none
$rind delete -f --root /x clapdiff-none
$rind list --format xml
$rind list -q --format json
$rind ls -f json
$rind ls --root /x -q
$rind ps
$rind ps --format json clapdiff-none
$rind ps clapdiff-none -o pid --root /x
$rind events --interval bogus clapdiff-none
$rind events --stats --interval 1s clapdiff-none
$rind update --cpu-share x clapdiff-none
$rind update --memory 1m --cpu-quota -1 clapdiff-none
$rind exec clapdiff-none
$rind exec clapdiff-none sh -c true
$rind exec -t -e A=1 --cwd / clapdiff-none -- ls --root /x
$rind exec --preserve-fds -1 clapdiff-none sh
$rind stop
$rind stop -t x clapdiff-none
$rind stop --timeout 1 clapdiff-none
$rind rm -f clapdiff-none
$rind logs -f clapdiff-none
$rind inspect clapdiff-none
$rind features --root /x
$rind spec --no-terminal
$rind spec --bundle
$rind pause clapdiff-none
$rind resume clapdiff-none
$rind start clapdiff-none
$rind image
$rind image --help
$rind image nope
$rind image pul x
$rind image help
$rind image help pull
$rind image help nope
$rind --store /s image ls --format json
$rind image ls --store /s -q
$rind image ls --format bogus
$rind image pull
$rind image pull oci:/nonexistent --root /x
$rind image import --max-layer-ratio x oci:/nonexistent
$rind image inspect nope
$rind image rm
$rind image rm nope
$rind image prune --store /s
$rind image mount
$rind image unmount
RIND_ROOT=/y $rind state nope
RIND_ROOT=/y $rind --root /x state nope
RIND_ROOT=/y $rind state --root /x nope
RIND_ROOT= $rind state nope
env -u RIND_ROOT -u RIND_STORE $rind state --help
env -u RIND_ROOT -u RIND_STORE $rind --help
env -u RIND_ROOT -u RIND_STORE $rind image pull --help
RIND_STORE=/s $rind image ls --store /t -q
$rind $'\xff'
$rind state $'\xff'
$rind --root $'\xff' state nope
EOF
    for v in $verbs; do
        echo "\$rind $v"
        echo "\$rind $v --help"
        echo "\$rind $v -h"
        echo "\$rind $v --version"
        echo "\$rind $v -V"
        echo "\$rind $v --bogus"
        echo "\$rind $v -z $id"
        echo "\$rind --root /x $v --help"
        echo "\$rind $v --root /x --debug -h"
        echo "\$rind help $v"
        echo "\$rind $v help"
    done
    for v in $image_verbs; do
        echo "\$rind image $v"
        echo "\$rind image $v --help"
        echo "\$rind image $v -h"
        echo "\$rind image $v --bogus"
        echo "\$rind --root /x image $v -h"
        echo "\$rind image --root /x $v -h"
        echo "\$rind image $v --root /x --store /s --help"
        echo "\$rind image help $v"
        echo "\$rind help image $v"
    done
}

# Runs one command line with binary $2 and writes what it printed to $3.{out,err,rc}.
run_case() {
    local line=$1 rind=$2 out=$3
    rm -rf "$tmp/cwd" "$tmp/root" "$tmp/store"
    mkdir "$tmp/cwd"
    local rc=0
    (cd "$tmp/cwd" && eval "$line") </dev/null >"$out.out" 2>"$out.err" || rc=$?
    echo "$rc" >"$out.rc"
}

n=0
differ=0
while IFS= read -r line; do
    n=$((n + 1))
    run_case "$line" "$old" "$tmp/out/old"
    run_case "$line" "$new" "$tmp/out/new"
    for part in rc out err; do
        if ! cmp -s "$tmp/out/old.$part" "$tmp/out/new.$part"; then
            differ=$((differ + 1))
            echo "DIFFERS ($part): $line"
            diff "$tmp/out/old.$part" "$tmp/out/new.$part" | head -20 || true
            break
        fi
    done
done < <(cases)
echo "$n command lines, $differ differ"
[ "$differ" = 0 ]
