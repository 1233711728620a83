#!/bin/sh
# Prints the directory that holds the conformance sources (runc, runtime-tools and cri-tools
# tarballs; their README is beside them): $RIND_CONFORMANCE_DIR when set, else
# ../shared/conformance beside the checkout's top directory, else /work/shared/conformance
# (where the development machines keep it), else the first of these, for the caller's error.
if [ -n "${RIND_CONFORMANCE_DIR:-}" ]; then
    echo "$RIND_CONFORMANCE_DIR"
    exit 0
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
top=$(git -C "$repo" rev-parse --show-toplevel 2>/dev/null) || top=$repo
for d in "$top/../shared/conformance" /work/shared/conformance; do
    if [ -d "$d" ]; then
        echo "$d"
        exit 0
    fi
done
echo "$top/../shared/conformance"
