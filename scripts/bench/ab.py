#!/usr/bin/python3
"""Compares builds of rind on one `run` of a bundle, interleaved: each round runs every
binary once, in turn, so that the machine's drift (load, frequency, page cache) falls on all
of them alike. Prints each binary's median wall time (with quartiles) and its difference to
the first. This is how each cut in docs/benchmarks.md was measured.

    ab.py BUNDLE STATE_ROOT ROUNDS RIND_A RIND_B [RIND_C ...]

STATE_ROOT should be a tmpfs (see docs/benchmarks.md, "the state directory"). The first three
rounds are warm-up and not counted. Times include Python's fork and exec of the binary, the
same for every binary.
"""

import os
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    bundle, state, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bins = sys.argv[4:]
    times = {b: [] for b in bins}
    for i in range(rounds + 3):
        for b in bins:
            t0 = time.perf_counter()
            r = subprocess.run(
                [b, "--root", state, "run", "-b", bundle, f"ab-{os.getpid()}-{i}"],
                stdin=subprocess.DEVNULL,
            )
            elapsed = time.perf_counter() - t0
            if r.returncode != 0:
                sys.exit(f"{b} run failed with {r.returncode}")
            if i >= 3:
                times[b].append(elapsed * 1000)
    base = statistics.median(times[bins[0]])
    for b in bins:
        m = statistics.median(times[b])
        q = statistics.quantiles(times[b], n=4)
        print(
            f"{b}: median {m:.2f} ms (quartiles {q[0]:.2f} - {q[2]:.2f}), "
            f"{m / base:.3f}x the first, {m - base:+.2f} ms"
        )


if __name__ == "__main__":
    main()
