#!/usr/bin/env python3
"""Lists the functions of a rind binary that starting a container executes.

Usage: hot-functions.py BINARY BUNDLE OUT

Puts a uprobe on every function of BINARY (through tracefs; root only), runs the startup paths
the benchmark measures on BUNDLE (`run`, and `create`, `start`, `delete`), and writes to OUT the
names of the functions that were hit, in the binary's own address order. Uprobes are per file,
not per process, so the runtime and the container's init (a clone of rind until its execve)
are both counted. The probes are removed before it exits.

scripts/build-release.sh hands OUT to the linker as a symbol ordering file: the functions a
start touches then sit together, and the kernel's fault-around (64 KiB per page fault) maps far
fewer pages of the binary. That is most of rind's peak RSS, because the page cache holds the
whole binary and every fault maps sixteen neighbouring pages of it.
"""

import os
import subprocess
import sys
import tempfile

GROUP = "rindhot"


def fail(msg):
    print(f"hot-functions: {msg}", file=sys.stderr)
    sys.exit(1)


def load_segments(binary):
    """(vaddr, file offset, size) of each executable LOAD segment."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            segs.append((int(f[2], 16), int(f[1], 16), int(f[5], 16)))
    if not segs:
        fail(f"{binary}: no executable LOAD segment")
    return segs


def functions(binary):
    """(address, name) of every function symbol, one per address."""
    out = subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    seen, funcs = set(), []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            addr = int(f[0], 16)
            if addr not in seen:
                seen.add(addr)
                funcs.append((addr, f[2]))
    if not funcs:
        fail(f"{binary}: no function symbols (stripped?)")
    return funcs


def tracefs():
    """A mounted tracefs, and whether this script mounted it."""
    for path in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(os.path.join(path, "uprobe_events")):
            return path, False
    path = tempfile.mkdtemp(prefix="rind-tracefs-")
    if subprocess.run(["mount", "-t", "tracefs", "rind-tracefs", path]).returncode != 0:
        os.rmdir(path)
        fail("cannot mount tracefs (uprobes need root and CONFIG_UPROBE_EVENTS)")
    return path, True


def write_events(tfs, lines):
    """Appends probe definitions (or removals); tracefs takes one per write."""
    fd = os.open(os.path.join(tfs, "uprobe_events"), os.O_WRONLY | os.O_APPEND)
    try:
        for line in lines:
            os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def main():
    if len(sys.argv) != 4:
        fail("usage: hot-functions.py BINARY BUNDLE OUT")
    binary, bundle, out = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    segs = load_segments(binary)
    probes = []
    for addr, name in functions(binary):
        for vaddr, off, size in segs:
            if vaddr <= addr < vaddr + size:
                probes.append((f"f{len(probes)}", addr - vaddr + off, name))
                break
    tfs, mounted = tracefs()
    state = tempfile.mkdtemp(prefix="rind-hot-state-")
    try:
        write_events(tfs, [f"p:{GROUP}/{ev} {binary}:0x{off:x}" for ev, off, _ in probes])
        with open(os.path.join(tfs, "events", GROUP, "enable"), "w") as f:
            f.write("1")
        rind = [binary, "--root", state]
        for i in range(3):
            subprocess.run(rind + ["run", "-b", bundle, f"hot-run-{i}"], check=True)
            subprocess.run(rind + ["create", "-b", bundle, f"hot-cycle-{i}"], check=True)
            subprocess.run(rind + ["start", f"hot-cycle-{i}"], check=True)
            subprocess.run(rind + ["delete", "-f", f"hot-cycle-{i}"], check=True)
        hits = {}
        with open(os.path.join(tfs, "uprobe_profile")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    hits[parts[-2]] = int(parts[-1])
    finally:
        try:
            enable = os.path.join(tfs, "events", GROUP, "enable")
            if os.path.exists(enable):
                with open(enable, "w") as f:
                    f.write("0")
            write_events(tfs, [f"-:{GROUP}/{ev}" for ev, _, _ in probes if os.path.exists(os.path.join(tfs, "events", GROUP, ev))])
        finally:
            if mounted:
                subprocess.run(["umount", tfs], check=True)
                os.rmdir(tfs)
            subprocess.run(["rm", "-rf", state], check=True)
    hot = [name for ev, _, name in probes if hits.get(ev, 0) > 0]
    if not hot:
        fail("no probe was hit: the workload did not run this binary")
    with open(out, "w") as f:
        f.write("\n".join(hot) + "\n")
    print(f"hot-functions: {len(hot)} of {len(probes)} functions ran; written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
