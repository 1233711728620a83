#!/bin/bash
# Runs runc's own integration suite (tests/integration/*.bats of runc v1.1.5) against runc and
# against rind, one test at a time, and compares them.
#
#   scripts/runc-suite.sh [REGEX]     REGEX (optional) picks tests by "file.bats: name"
#
# Every test's config.json comes from `runc spec` for both runtimes (helpers.bash's
# runc_spec is pointed at runc): rind's own `spec` defaults differ on purpose (see
# docs/compatibility.md), and the suite is about the command line and the behaviour, not the
# default file. rind's `spec` is still exercised by help.bats and by scripts/cli-compare.sh.
#
# Ends with `runc-suite: N passed, M failed`: N tests pass with rind, M pass with runc and fail
# with rind (less the exemptions in scripts/runc-suite/exemptions, each with its reason).
#
# Environment: RIND_CONFORMANCE_DIR (where runc-v1.1.5.tar.gz is; default ../shared/conformance
# beside the checkout), RIND_RUNC_SUITE_WORK (work directory, default /tmp/rind-runc-suite),
# RIND_RUNC_SUITE_TIMEOUT (seconds one test may take, default 120). For work on rind:
# RIND_RUNC_SUITE_RUNTIMES=rind runs rind alone and compares with runc's results of the previous
# run in the same work directory; RIND_BIN runs another rind binary instead of building one.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
filter=${1:-}
[ "$(id -u)" = 0 ] || { echo "runc-suite: run as root" >&2; exit 1; }

conf=$("$repo/scripts/conformance-dir.sh")
tarball=$conf/runc-v1.1.5.tar.gz
if [ ! -f "$tarball" ]; then
    echo "runc-suite: $tarball is missing (set RIND_CONFORMANCE_DIR to the folder that holds runc-v1.1.5.tar.gz)" >&2
    echo "runc-suite: 0 passed, 1 failed"
    exit 1
fi
per_test=${RIND_RUNC_SUITE_TIMEOUT:-120}
work=${RIND_RUNC_SUITE_WORK:-/tmp/rind-runc-suite}

# What the suite and its helpers need.
need=""
for pkg in bats jq gawk libseccomp-dev util-linux bsdutils gcc libc6-dev busybox-static runc xz-utils; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "runc-suite: installing:$need" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
go=$(scripts/install-go.sh)
export PATH="$(dirname "$go"):$PATH"
if [ -z "${RIND_BIN:-}" ]; then
    cargo build --release --locked -q
fi
rind=${RIND_BIN:-$repo/target/release/rind}
runtimes=${RIND_RUNC_SUITE_RUNTIMES:-runc rind}
runc=$(command -v runc)

started=$(date +%s)
# The suite, unpacked afresh; helper programs built offline from runc's vendored modules.
# Results of a runtime that is not run this time are kept.
rm -rf "$work/src" "$work/tmp" "$work/logs" "$work/tests"
mkdir -p "$work/src" "$work/tmp" "$work/results"
chmod 755 "$work" "$work/tmp"
tar -C "$work/src" -xzf "$tarball"
suite=$work/src/runc
integration=$suite/tests/integration
(
    cd "$suite"
    export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local
    go build -o contrib/cmd/recvtty/recvtty ./contrib/cmd/recvtty
    go build -o contrib/cmd/sd-helper/sd-helper ./contrib/cmd/sd-helper
    go build -tags seccomp -o contrib/cmd/seccompagent/seccompagent ./contrib/cmd/seccompagent
)
scripts/runc-suite/images.sh "$integration/testdata"
# Every test's config.json from runc's `spec`, whichever runtime runs it (see above).
grep -q '^	runc spec "\${args\[@\]}"$' "$integration/helpers.bash" ||
    { echo "runc-suite: helpers.bash has no runc_spec line to point at runc" >&2; exit 1; }
sed -i 's|^	runc spec "\${args\[@\]}"$|	RUNC="$RUNC_SPEC" runc spec "${args[@]}"|' "$integration/helpers.bash"
echo "runc-suite: suite ready in $(( $(date +%s) - started ))s"

# The tests, as "file<TAB>name", in file order.
list=$work/tests
for f in "$integration"/*.bats; do
    sed -n 's/^@test "\(.*\)" {$/\1/p' "$f" | while IFS= read -r name; do
        printf '%s\t%s\n' "$(basename "$f")" "$name"
    done
done > "$list"
if [ -n "$filter" ]; then
    awk -F'\t' -v re="$filter" '($1 ": " $2) ~ re' "$list" > "$list.f"
    mv "$list.f" "$list"
fi

# A regular expression matching exactly one test name, for bats --filter.
anchored() {
    printf '^%s$' "$(printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g')"
}

# After a test that hit the watchdog: thaw what it froze, and delete what it left, so that the
# next test starts clean. Only the test's own state root and the suite's own cgroup tree are
# touched.
clean_after_timeout() {
    local runtime=$1 tmp=$2 state ct
    for cg in /sys/fs/cgroup/freezer/runc-cgroups-integration-test; do
        [ -d "$cg" ] && find "$cg" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null
    done
    for state in "$tmp"/bats-run-*/runc.*/state; do
        [ -d "$state" ] || continue
        for ct in $(ls "$state"); do
            # A frozen container's cgroup, wherever the runtime put it.
            local pid
            pid=$(jq -r '.init_process_pid // .pid // empty' "$state/$ct/state.json" 2>/dev/null || true)
            if [ -n "$pid" ] && [ -r "/proc/$pid/cgroup" ]; then
                local fz
                fz=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")
                [ -n "$fz" ] && [ -w "/sys/fs/cgroup/freezer$fz/freezer.state" ] &&
                    echo THAWED > "/sys/fs/cgroup/freezer$fz/freezer.state" || true
            fi
            timeout 20 "$runtime" --root "$state" delete -f "$ct" >/dev/null 2>&1 || true
        done
    done
    for cg in /sys/fs/cgroup/*/runc-cgroups-integration-test; do
        [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    return 0
}

# Runs every test with one runtime; writes "result<TAB>file<TAB>name" lines, result one of
# pass, fail, skip, timeout.
run_all() {
    local label=$1 runtime=$2 out=$3 n=0 file name tmp res log secs t0
    : > "$out"
    mkdir -p "$work/logs/$label"
    while IFS=$'\t' read -r file name; do
        n=$((n + 1))
        tmp=$work/tmp/$label-$n
        log=$work/logs/$label/$n.log
        mkdir -p "$tmp"
        chmod 755 "$tmp"
        t0=$(date +%s)
        # `script` gives the tests a controlling terminal (tty.bats); `timeout` is the watchdog
        # (bats' own per-test timeout does not reach the suite's `wait` calls).
        res=""
        printf 'cd %q && exec bats --tap -f %q %q > %q 2>&1\n' \
            "$integration" "$(anchored "$name")" "$file" "$log" > "$tmp/run.sh"
        rc=0
        TMPDIR=$tmp RUNC=$runtime RUNC_SPEC=$runc \
            timeout -k 10 "$per_test" script -qec "bash $tmp/run.sh" /dev/null \
            < /dev/null > /dev/null 2>&1 || rc=$?
        [ "$rc" != 124 ] && [ "$rc" != 137 ] || res=timeout
        secs=$(( $(date +%s) - t0 ))
        if [ -z "$res" ]; then
            if grep -qE '^ok [0-9]+ .* # skip' "$log"; then res=skip
            elif grep -qE '^ok [0-9]+ ' "$log"; then res=pass
            else res=fail
            fi
        fi
        if [ "$res" = timeout ]; then
            echo "# watchdog: killed after ${per_test}s" >> "$log"
            clean_after_timeout "$runtime" "$tmp"
        fi
        rm -rf "$tmp"
        printf '%s\t%s\t%s\t%s\n' "$res" "$file" "$name" "$secs" >> "$out"
        printf 'runc-suite: %s %-7s %3ss %s: %s\n' "$label" "$res" "$secs" "$file" "$name"
    done < "$list"
}

t_runc=0 t_rind=0
for label in $runtimes; do
    t0=$(date +%s)
    case $label in
        runc) run_all runc "$runc" "$work/results/runc"; t_runc=$(( $(date +%s) - t0 )) ;;
        rind) run_all rind "$rind" "$work/results/rind"; t_rind=$(( $(date +%s) - t0 )) ;;
        *) echo "runc-suite: unknown runtime $label" >&2; exit 2 ;;
    esac
done
for label in runc rind; do
    [ -s "$work/results/$label" ] || { echo "runc-suite: no results for $label" >&2; exit 1; }
done

# Exemptions: "file.bats: test name" lines; # starts a comment.
exempt=$work/exempt
sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' scripts/runc-suite/exemptions > "$exempt"

summary() {
    awk -F'\t' '{ c[$1]++ } END { printf "%d passed, %d failed, %d skipped, %d timed out", c["pass"], c["fail"], c["skip"], c["timeout"] }' "$1"
}
echo "runc-suite: runc: $(summary "$work/results/runc") in ${t_runc}s"
echo "runc-suite: rind: $(summary "$work/results/rind") in ${t_rind}s"

# The comparison, test by test.
awk -F'\t' -v exempt="$exempt" '
    BEGIN { while ((getline line < exempt) > 0) ex[line] = 1 }
    FILENAME == ARGV[1] { runc[$2 ": " $3] = $1; next }
    FILENAME == ARGV[2] { rind[$2 ": " $3] = $1; next }
    {
        id = $1 ": " $2
        a = (id in runc) ? runc[id] : "missing"; b = (id in rind) ? rind[id] : "missing"
        if (b == "pass") passed++
        if (a == "pass" && b != "pass") {
            if (id in ex) { print "runc-suite: exempt (passes with runc, " b " with rind): " id; next }
            print "runc-suite: REGRESSION (passes with runc, " b " with rind): " id
            failed++
        } else if (a != "pass" && b != "pass") {
            print "runc-suite: " a " with runc, " b " with rind: " id
        } else if (a != "pass" && b == "pass") {
            print "runc-suite: passes with rind only (" a " with runc): " id
        }
    }
    END { printf "runc-suite: %d passed, %d failed\n", passed, failed }' \
    "$work/results/runc" "$work/results/rind" "$list" > "$work/verdict"
grep -v '^runc-suite: [0-9]* passed' "$work/verdict" || true
echo "runc-suite: logs in $work/logs; took $(( $(date +%s) - started ))s"
tail -n 1 "$work/verdict"
grep -q '^runc-suite: [0-9]* passed, 0 failed$' "$work/verdict"
