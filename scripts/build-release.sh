#!/bin/bash
# Builds rind as it is meant to be installed, and prints the binary's path:
#
#   scripts/build-release.sh            -> target/production/<host triple>/production/rind
#
# - static (glibc's static-pie): no dynamic loader, no shared libraries to map and relocate;
# - the `production` profile of Cargo.toml: one codegen unit, fat LTO;
# - with lld, when it is installed, linked with the functions that starting a container runs
#   (scripts/release/hot-functions.txt) placed side by side. Every page fault on the binary
#   maps its 64 KiB neighbourhood (the kernel's fault-around), so a start that touches
#   scattered code pulls most of the binary into its RSS; grouped, it pulls in a third as
#   much. docs/benchmarks.md has the numbers, and how to refresh the list.
#
# - with lld and glibc 2.36 or later, relative relocations packed as RELR: the static-pie
#   relocates itself at startup, and reading 345 KiB of RELA entries was a tenth of its RSS.
#
# Without lld the binary is the same but unordered and unpacked, and a warning says so.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
triple=$(rustc -vV | sed -n 's/^host: //p')
dir=$repo/target/production
order=$repo/scripts/release/hot-functions.txt
flags="-C target-feature=+crt-static"
if command -v ld.lld >/dev/null && [ -s "$order" ]; then
    flags="$flags -C link-arg=-fuse-ld=lld -C link-arg=-Wl,--symbol-ordering-file=$order"
    flags="$flags -C link-arg=-Wl,--no-warn-symbol-ordering"
    ordered=yes
    # glibc's static-pie startup applies RELR relocations from 2.36 on; older ones would
    # start with the relocations unapplied.
    glibc=$(getconf GNU_LIBC_VERSION | awk '{ print $2 }')
    if [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -n1)" = 2.36 ]; then
        flags="$flags -C link-arg=-Wl,--pack-dyn-relocs=relr"
    else
        echo "build-release: glibc $glibc is older than 2.36: relocations are not packed" >&2
    fi
else
    echo "build-release: ld.lld not found: the binary's functions are not ordered (apt-get install lld)" >&2
    ordered=no
fi
bin=$dir/$triple/production/rind
# Cargo does not know the ordering file is an input of the link: when it changed since the
# binary was linked, touch the binary's crate root so that the link runs again.
if [ "$ordered" = yes ] && [ -e "$bin" ] && [ "$order" -nt "$bin" ]; then
    touch src/main.rs
fi
RUSTFLAGS=$flags cargo build --profile production --locked --quiet --target "$triple" --target-dir "$dir"
"$bin" --version >/dev/null || { echo "build-release: $bin does not start" >&2; exit 1; }
if [ "$ordered" = yes ]; then
    # The list names functions by their mangled symbols. A different toolchain mangles them
    # differently, and then nothing is ordered: say how much of the list the binary has.
    total=$(grep -c . "$order")
    found=$(nm --defined-only "$bin" | awk 'NF == 3 { print $3 }' | sort -u |
        comm -12 - <(sort -u "$order") | wc -l)
    export LC_ALL=C
    # Placed together: the found functions' addresses span about their total size, not the
    # whole text.
    min='' max=0 size=0
    while read -r addr len; do
        a=$((16#$addr)) e=$((16#$addr + 16#$len))
        size=$((size + e - a))
        [ -n "$min" ] && [ "$a" -ge "$min" ] || min=$a
        [ "$e" -le "$max" ] || max=$e
    done < <(nm -S --defined-only "$bin" | awk 'NF == 4 { print $4, $1, $2 }' | sort -k1,1 |
        join - <(sort -u "$order") | awk '{ print $2, $3 }')
    size=$((size / 1024)) span=$(((max - ${min:-0}) / 1024))
    echo "build-release: $found of $total hot functions found; their $size KiB of code span $span KiB" >&2
    [ "$span" -le $((size * 2 + 64)) ] ||
        echo "build-release: warning: the hot functions are not placed together (was the binary relinked?)" >&2
    [ $((found * 2)) -ge "$total" ] ||
        echo "build-release: warning: most of scripts/release/hot-functions.txt is stale; refresh it (docs/benchmarks.md)" >&2
fi
echo "$bin"
