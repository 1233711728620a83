#!/usr/bin/python3
"""Where `rind run` spends its time: runs it N times with --trace --trace-format json and
prints, per step, the median time since the previous step (and min, max).

    trace-steps.py RIND BUNDLE STATE_ROOT [N]

Steps are matched by name, with container ids, pids and cgroup paths blanked out. The last
row is what the timeline does not cover: exec and argument parsing before the first mark, and
the wait for the container and its deletion after the last one (wall time minus the last
mark).
"""

import json
import re
import statistics
import subprocess
import sys
import time


def key(step, cid):
    step = step.replace(cid, "<id>")
    step = re.sub(r"created cgroup .*", "created cgroup", step)
    step = re.sub(r"\d+", "N", step)
    return step


def main():
    rind, bundle, root = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    deltas = {}
    order = []
    walls = []
    for i in range(n + 2):
        cid = f"steps-{i}"
        t0 = time.monotonic()
        p = subprocess.run(
            [rind, "--trace", "--trace-format", "json", "--root", root, "run", "-b", bundle, cid],
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - t0
        if p.returncode != 0:
            sys.exit(f"trace-steps: rind run failed: {p.stderr.strip()[:300]}")
        events = json.loads(p.stderr.strip().splitlines()[-1])
        if i < 2:  # warm-up
            continue
        prev = 0
        for e in events:
            k = f"{e['side']:<7} {key(e['step'], cid)}"
            if k not in deltas:
                deltas[k] = []
                order.append(k)
            deltas[k].append((e["nanos"] - prev) / 1e6)
            prev = e["nanos"]
        k = "outside the timeline: exec + parsing before, wait + delete after"
        if k not in deltas:
            deltas[k] = []
        deltas[k].append(wall * 1000 - prev / 1e6)
        walls.append(wall * 1000)
    order.append("outside the timeline: exec + parsing before, wait + delete after")
    print(f"| step (time since the previous one) | median ms | min | max |")
    print("|---|---|---|---|")
    for k in order:
        v = deltas[k]
        print(f"| {k.strip()} | {statistics.median(v):.3f} | {min(v):.3f} | {max(v):.3f} |")
    print(f"| **whole `rind --trace run`** | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} |")


if __name__ == "__main__":
    main()
