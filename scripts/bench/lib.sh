# shellcheck shell=bash
# Shared pieces of the startup benchmark (scripts/bench-startup.sh): the bundle, the
# "N containers in a row / at once" drivers' helpers, and copying a dynamically linked tool
# with its libraries into a VM's initramfs.

bench_die() {
    echo "bench: $*" >&2
    exit 1
}

bench_log() {
    echo "bench: $*" >&2
}

# Makes the benchmark bundle in $1 from the busybox rootfs in $2: a copy of the rootfs and the
# config.json that `rind spec --no-terminal` writes ($3 is the rind binary), with the process
# set to /bin/true. Every runtime runs this same bundle.
#
# ociVersion is set to 1.0.2: Debian bookworm's crun 1.8.1 refuses rind's default 1.2.0 with
# "unknown version specified", and nothing in this config needs a newer spec. runc and rind
# accept both.
bench_make_bundle() {
    local dir=$1 rootfs=$2 rind=$3
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -a "$rootfs" "$dir/rootfs"
    (cd "$dir" && "$rind" spec --no-terminal) || bench_die "rind spec failed"
    /usr/bin/python3 - "$dir/config.json" <<'PY' || bench_die "could not edit $dir/config.json"
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["ociVersion"] = "1.0.2"
config["process"]["args"] = ["/bin/true"]
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY
    grep -q '"/bin/true"' "$dir/config.json" || bench_die "could not set the process to /bin/true in $dir/config.json"
}

# Copies the dynamically linked program $1 into directory $3 of staging root $2, with every
# library ldd names (and the dynamic loader) at their own paths, so that it runs in a guest
# that has only busybox. A directory of its own: the guest's busybox applets are symlinks, and
# an archive member written over one of them would be written through it, into busybox.
bench_stage_dynamic() {
    local prog=$1 root=$2 dir=$3 lib
    mkdir -p "$root$dir"
    cp -L "$prog" "$root$dir/$(basename "$prog")"
    for lib in $(ldd "$prog" | grep -oE '/[^ ]+'); do
        [ -e "$lib" ] || continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# Median, min and max of the numbers on stdin, one per line: "median min max".
bench_stats() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan nan nan"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}
