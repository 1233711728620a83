#!/bin/sh
# rind's main job, end to end: build rind, make a busybox bundle, and run a container limited
# to 64 MiB of memory and 32 processes, printing what the container sees and the timeline of
# what the runtime did (--trace).
#
#   sudo scripts/demo.sh
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/demo.sh: run as root (containers need namespaces, mounts and cgroups)" >&2; exit 1; }

scripts/install-deps.sh
echo "==> building rind (release)"
cargo build --release --locked --quiet
rind=$PWD/target/release/rind

echo "==> building the busybox rootfs"
rootfs-fixtures/busybox-rootfs.sh

work=$(mktemp -d /tmp/rind-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle"
cp -a rootfs-fixtures/out/busybox/rootfs "$work/bundle/rootfs"
"$rind" spec --no-terminal --bundle "$work/bundle"

# The container's program, and its limits: 64 MiB of memory, at most 32 processes.
python3 - "$work/bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["hostname"] = "rind-demo"
spec["process"]["args"] = ["sh", "-c", """
echo "hello from $(hostname): I am pid $$, running as $(id -un)"
echo "my root filesystem:"; ls /
if [ -f /sys/fs/cgroup/memory.max ]; then
  echo "memory limit: $(cat /sys/fs/cgroup/memory.max) bytes"
  echo "process limit: $(cat /sys/fs/cgroup/pids.max)"
else
  echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) bytes"
  echo "process limit: $(cat /sys/fs/cgroup/pids/pids.max)"
fi
echo "processes I can see:"; ps -o pid,comm
"""]
spec["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
spec["linux"]["resources"]["pids"] = {"limit": 32}
json.dump(spec, open(path, "w"), indent=2)
EOF

echo "==> rind run (limited to 64 MiB and 32 processes)"
"$rind" --root "$work/state" --trace run --bundle "$work/bundle" "demo-$$"
