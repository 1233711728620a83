#!/bin/sh
# Builds rind's fuzz targets (fuzz/, cargo fuzz) and runs each for a bounded time.
#
#   scripts/fuzz.sh [TARGET...]           run each target FUZZ_SECONDS (default 20) seconds
#   scripts/fuzz.sh --cmin [TARGET...]    merge fuzz/seeds/<t> and new finds into a minimal
#                                         fuzz/corpus/<t> (keeping every regression-* input)
#
# Environment: FUZZ_SECONDS (per target), FUZZ_KEEP=1 (write what the run finds into
# fuzz/corpus/<t> instead of a temporary directory; run --cmin afterwards).
#
# Each run starts from the committed corpus (so every past crash input runs first), is one
# niced process, and stops at its first crash, hang (10 s for one input) or use of memory past
# 2 GiB. Prints one line per target, with the executions and the verdict, then
# "fuzz: N passed, M failed" (the line scripts/test.sh counts). The targets that touch files
# run as root, inside a mount namespace of their own (fuzz/src/sandbox.rs).
#
# No nightly toolchain is needed: without a sanitizer, cargo fuzz passes rustc only stable
# flags (the coverage instrumentation is -C passes=sancov-module and -C llvm-args), so the
# machine's one toolchain builds the targets, here as in CI.
set -eu
cd "$(dirname "$0")/.."

all_targets="config layer image archive registry seccomp seccomp_diff"
cmin=0
if [ "${1:-}" = "--cmin" ]; then cmin=1; shift; fi
targets=${*:-$all_targets}
seconds=${FUZZ_SECONDS:-20}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

# The build is the bulk of the part's cost, so it is made cheap: no sanitizer (the targets are
# safe Rust but for a few libc calls; AddressSanitizer roughly doubles the build), opt-level 0
# and 16 codegen units (cargo fuzz's default is 1). Measured on this project's 2-core VM: 157
# CPU-seconds against 435 for cargo fuzz's defaults without a sanitizer; the targets then run
# 4 to 7 times slower, which a run of seconds can afford (long runs: docs/fuzzing.md).
# -a keeps debug assertions and overflow checks on. FUZZ_OPT_LEVEL overrides the opt-level.
start=$(date +%s)
echo "fuzz: building the targets"
target_dir=fuzz/target/ci
work=$(mktemp -d /tmp/rind-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ "$targets" = "$all_targets" ] && build_args="" || build_args=$targets
for b in ${build_args:-all}; do
    [ "$b" = all ] && b=""
    # shellcheck disable=SC2086
    if ! CARGO_PROFILE_RELEASE_OPT_LEVEL=${FUZZ_OPT_LEVEL:-0} nice -n 10 cargo fuzz build \
        -a --sanitizer none --codegen-units 16 --target-dir "$target_dir" $b >"$work/build.log" 2>&1; then
        grep -E '^error' -A12 "$work/build.log" | head -n 40
        echo "fuzz: the build failed"
        echo "fuzz: 0 passed, 1 failed"
        exit 1
    fi
done
bin=$target_dir/x86_64-unknown-linux-gnu/release
echo "fuzz: built in $(( $(date +%s) - start )) s"

max_len() {
    case $1 in
        config|layer|archive) echo 65536 ;;
        seccomp_diff) echo 4096 ;;
        *) echo 16384 ;;
    esac
}

if [ "$cmin" = 1 ]; then
    for t in $targets; do
        mkdir -p "$work/$t" "fuzz/corpus/$t"
        inputs="fuzz/corpus/$t"
        [ -d "fuzz/seeds/$t" ] && inputs="$inputs fuzz/seeds/$t"
        # shellcheck disable=SC2086
        nice -n 10 "$bin/$t" -merge=1 -max_len="$(max_len "$t")" -timeout=10 \
            "$work/$t" $inputs >"$work/$t.log" 2>&1 || { tail -n 20 "$work/$t.log"; exit 1; }
        cp fuzz/corpus/"$t"/regression-* "$work/$t"/ 2>/dev/null || true
        rm -rf "fuzz/corpus/$t"
        mv "$work/$t" "fuzz/corpus/$t"
        echo "fuzz: $t: corpus $(ls "fuzz/corpus/$t" | wc -l) inputs, $(du -sk "fuzz/corpus/$t" | cut -f1) KiB"
    done
    exit 0
fi

passed=0
failed=0
for t in $targets; do
    out=$work/new-$t
    [ "${FUZZ_KEEP:-0}" = 1 ] && out=fuzz/corpus/$t
    mkdir -p "$out" "$work/artifacts/$t" "fuzz/corpus/$t"
    dict=""
    [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
    log=$work/$t.log
    rc=0
    # shellcheck disable=SC2086
    nice -n 10 "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 $dict \
        -artifact_prefix="$work/artifacts/$t/" "$out" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$log" | tail -n 1)
    [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "fuzz: $t: ${runs:-0} executions in ${seconds} s, no crash"
    else
        failed=$((failed + 1))
        mkdir -p "fuzz/artifacts/$t"
        cp "$work/artifacts/$t"/* "fuzz/artifacts/$t/" 2>/dev/null || true
        why=$(grep -m1 -E "panicked at|ERROR: libFuzzer|==ERROR" -A2 "$log" | tr '\n' ' ' | cut -c1-300)
        echo "fuzz: $t: FAILED after ${runs:-?} executions: $why"
        echo "fuzz: $t: input kept in fuzz/artifacts/$t/: $(ls "$work/artifacts/$t" | tr '\n' ' ')"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
