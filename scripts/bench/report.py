#!/usr/bin/python3
"""Turns the startup benchmark's raw results into docs/benchmarks.md's table and a chart.

    report.py RESULTS_DIR MARKDOWN PNG [CONTAINERS_VS_VMS_MARKDOWN]

RESULTS_DIR is what scripts/bench-startup.sh wrote (hyperfine JSON, RSS samples, key=value
files). The generated markdown replaces whatever stands between the lines
"<!-- bench:begin -->" and "<!-- bench:end -->" in MARKDOWN; the prose around them is kept.
Every ratio is computed from medians taken in the same run. Missing parts (a host-only run, a
runner that could not run) show as "n/a" with the reason, never as a made-up number. The
optional fourth file gets, between the same markers, the figures docs/containers-vs-vms.md
quotes: a traced start, container start against VM boot, and memory per idle container
against an idle VM.
"""

import json
import os
import statistics
import sys

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def read_kv(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                for part in line.split():
                    if "=" in part:
                        k, v = part.split("=", 1)
                        out[k] = v
    return out


def read_kv_lines(path):
    """key=value, one per line, the value may hold spaces."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def hyperfine(path):
    """{name: {"median": s, "min": s, "max": s, "runs": n}} from hyperfine's JSON export."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for r in doc["results"]:
        times = r.get("times") or [r["mean"]]
        out[r["command"]] = {
            "median": r.get("median", statistics.median(times)),
            "min": r["min"],
            "max": r["max"],
            "runs": len(times),
        }
    return out


def samples(path):
    """{name: [values]} from "name value" lines."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out.setdefault(parts[0], []).append(float(parts[1]))
    return out


def fmt_time(s):
    if s >= 1:
        return f"{s:.2f} s"
    return f"{s * 1000:.1f} ms"


def cell(r):
    if r is None:
        return "n/a"
    return f"{fmt_time(r['median'])} ({fmt_time(r['min'])} – {fmt_time(r['max'])})"


def ratio(a, b):
    if a is None or b is None or b["median"] == 0:
        return "n/a"
    return f"{a['median'] / b['median']:.2f}x"


def ratio_value(a, b):
    if a is None or b is None or b["median"] == 0:
        return None
    return a["median"] / b["median"]


def mib(kb):
    return f"{kb / 1024:.1f} MiB"


def main():
    results, md_path, png_path = sys.argv[1:4]
    cvm_path = sys.argv[4] if len(sys.argv) > 4 else None
    p = lambda name: os.path.join(results, name)  # noqa: E731
    env = read_kv_lines(p("env.txt"))
    vm_env = read_kv_lines(p("vm-env.txt"))
    host = {b: hyperfine(p(f"host-{b}.json")) for b in ("run", "cycle", "seq100", "par20", "trace", "exec", "build")}
    vm = {b: hyperfine(p(f"vm-{b}.json")) for b in ("run", "cycle")}
    host_rss = samples(p("host-rss.txt"))
    vm_rss = samples(p("vm-rss.txt"))
    boot = read_kv(p("vm-boot.txt"))
    idle = []
    if os.path.exists(p("vm-idle.txt")):
        with open(p("vm-idle.txt")) as f:
            idle = [read_kv_from_line(line) for line in f if line.strip()]
    density = read_kv_lines(p("density.txt"))
    vm_fail = {}
    if os.path.exists(p("vm-fail.txt")):
        with open(p("vm-fail.txt")) as f:
            for line in f:
                if line.strip():
                    name, _, msg = line.strip().partition(" ")
                    vm_fail[name] = msg
    has_vm = bool(vm["run"])

    L = []
    L.append(f"Measured {env.get('date', '?')} by `scripts/bench-startup.sh` in {env.get('wall_s', '?')} s.")
    L.append("")
    L.append("| machine | |")
    L.append("|---|---|")
    L.append(f"| CPU | {env.get('cpu', '?')}, {env.get('cores', '?')} cores, {env.get('mem_gib', '?')} GiB |")
    L.append(f"| OS, kernel | {env.get('os', '?')}, {env.get('kernel', '?')}, cgroups {env.get('cgroups', '?')} |")
    L.append(f"| load average before / after | {env.get('load_before', '?')} / {env.get('load_after', '?')} |")
    L.append(
        f"| versions | rind {env.get('rind', '?')}, runc {env.get('runc', '?')}, crun {env.get('crun', '?')}, "
        f"hyperfine {env.get('hyperfine', '?')}, qemu {env.get('qemu', '?')} |"
    )
    if has_vm:
        L.append(
            f"| VM | kernel {vm_env.get('kernel', '?')}, accel **{vm_env.get('accel', '?')}**, "
            f"{vm_env.get('smp', '?')} vCPUs, {vm_env.get('mem_mb', '?')} MiB, cgroup v2 only |"
        )
    L.append("")

    L.append("### On the host: medians (min – max)")
    L.append("")
    L.append("| benchmark | floor (unshare + chroot) | rind | runc | rind / runc | rind / floor |")
    L.append("|---|---|---|---|---|---|")
    rows = [
        ("run", "`run` of /bin/true"),
        ("cycle", "create + start + delete -f (youki's recipe)"),
        ("seq100", "100 `run`s in a row (crun's recipe)"),
        ("par20", "20 `run`s at once"),
    ]
    for key, label in rows:
        h = host[key]
        if not h:
            continue
        L.append(
            f"| {label} | {cell(h.get('floor')) if 'floor' in h else '–'} | {cell(h.get('rind'))} | "
            f"{cell(h.get('runc'))} | {ratio(h.get('rind'), h.get('runc'))} | "
            f"{ratio(h.get('rind'), h.get('floor')) if 'floor' in h else '–'} |"
        )
    ex = host["exec"]
    if ex:
        L.append(
            f"| the binary alone (`--version`) | – | {cell(ex.get('rind --version'))} | "
            f"{cell(ex.get('runc --version'))} | {ratio(ex.get('rind --version'), ex.get('runc --version'))} | – |"
        )
    L.append("")
    L.append(
        "crun: not measured on the host. It refuses hybrid cgroup hosts (\"cgroups in hybrid mode not "
        "supported, drop all controllers from cgroupv2\"); it is compared in the VM below. youki: not "
        "measured anywhere, it is not packaged in Debian."
    )
    L.append("")

    if has_vm:
        L.append(f"### In the VM (accel {vm_env.get('accel', '?')}, pure cgroup v2): medians (min – max)")
        L.append("")
        L.append("| benchmark | floor | rind | runc | crun | rind / runc | rind / crun | rind / floor |")
        L.append("|---|---|---|---|---|---|---|---|")
        for key, label in (("run", "`run` of /bin/true"), ("cycle", "create + start + delete -f")):
            h = vm[key]
            if not h:
                continue
            L.append(
                f"| {label} | {cell(h.get('floor')) if key == 'run' else '–'} | {cell(h.get('rind'))} | "
                f"{cell(h.get('runc'))} | {cell(h.get('crun'))} | {ratio(h.get('rind'), h.get('runc'))} | "
                f"{ratio(h.get('rind'), h.get('crun'))} | "
                f"{ratio(h.get('rind'), h.get('floor')) if key == 'run' else '–'} |"
            )
        L.append("")
        if vm_fail:
            for name, msg in vm_fail.items():
                L.append(f"- {name} could not run in the guest: `{msg}`")
            L.append("")
        L.append(
            "Under TCG every instruction is emulated, so absolute times are many times the host's; "
            "compare the ratios, which come from the same boot."
        )
        L.append("")

    L.append("### Peak RSS per container start (GNU time, median of the samples)")
    L.append("")
    L.append("| runner | host | VM |")
    L.append("|---|---|---|")
    for name in ("floor", "rind", "rind-cargo-release", "runc", "crun"):
        h = host_rss.get(name)
        v = vm_rss.get(name)
        if not h and not v:
            continue
        hs = f"{statistics.median(h) / 1024:.1f} MiB" if h else "n/a"
        vs = f"{statistics.median(v) / 1024:.1f} MiB" if v else "n/a"
        L.append(f"| {name} | {hs} | {vs} |")
    for i in idle:
        L.append(f"| idle VM: qemu with a {i.get('mem_mb', '?')} MiB guest | {mib(float(i.get('qemu_rss_kb', 0)))} | – |")
    L.append("")

    b = host["build"]
    if b:
        prod, dev = b.get("production"), b.get("cargo release")
        hp, hd = host_rss.get("rind"), host_rss.get("rind-cargo-release")
        L.append("### The production build (scripts/build-release.sh) against `cargo build --release`")
        L.append("")
        L.append("| binary | `run` of /bin/true | peak RSS |")
        L.append("|---|---|---|")
        for label, t, r in (("production: static, LTO, hot functions together", prod, hp),
                            ("cargo build --release", dev, hd)):
            rs = f"{statistics.median(r) / 1024:.1f} MiB" if r else "n/a"
            L.append(f"| {label} | {cell(t)} | {rs} |")
        rr = (statistics.median(hp) / statistics.median(hd)) if hp and hd else None
        L.append(f"| production / cargo release | {ratio(prod, dev)} | {f'{rr:.2f}x' if rr else '–'} |")
        L.append("")

    if os.path.exists(p("trace-steps.md")):
        with open(p("trace-steps.md")) as f:
            steps = f.read().strip()
        L.append("### Where `rind run` spends its time (scripts/bench/trace-steps.py, 20 traced runs)")
        L.append("")
        L.append(steps)
        L.append("")

    tr = host["trace"]
    if tr:
        off, on = tr.get("rind run"), tr.get("rind --trace run")
        L.append("### What `--trace` costs")
        L.append("")
        L.append("| rind run | rind --trace run | on / off |")
        L.append("|---|---|---|")
        L.append(f"| {cell(off)} | {cell(on)} | {ratio(on, off)} |")
        L.append("")

    if boot:
        L.append(f"### VM boot (scripts/vm/boot-bench.sh, {boot.get('runs', '?')} boots, accel {boot.get('accel', '?')})")
        L.append("")
        L.append("| launch to init's marker | whole run (to qemu exit) | failed boots |")
        L.append("|---|---|---|")
        L.append(
            f"| {float(boot.get('marker_median_s', 'nan')) * 1000:.0f} ms | "
            f"{float(boot.get('total_median_s', 'nan')) * 1000:.0f} ms | {boot.get('failed', '?')} |"
        )
        for i in idle:
            k = i.get("kernel_to_init_s", "nan")
            if k != "nan":
                L.append(
                    f"| idle guest ({i.get('mem_mb')} MiB): the kernel's uptime when init ran | {float(k) * 1000:.0f} ms | |"
                )
        run_rind = host["run"].get("rind")
        if run_rind and boot.get("marker_median_s"):
            L.append("")
            L.append(
                f"Booting the VM to its first userspace line takes "
                f"{float(boot['marker_median_s']) / run_rind['median']:.0f}x as long as a whole `rind run` "
                f"on the host."
            )
        L.append("")

    if density:
        n = int(density.get("containers", "0") or 0)
        if n:
            L.append(f"### Density: {n} idle `sleep` containers (scripts/bench/density.sh)")
            L.append("")
            L.append("| | total | per container |")
            L.append("|---|---|---|")
            for key, label in (
                ("pss_kb", "PSS of the container processes"),
                ("rss_kb", "RSS of the container processes (shared pages counted in each)"),
                ("cgroup_kb", "memory cgroup usage (pages + kernel memory charged)"),
                ("runtime_kb", "runtime processes left running"),
            ):
                kb = float(density.get(key, "0"))
                L.append(f"| {label} | {mib(kb)} | {kb / n:.0f} kB |")
            L.append(f"| time to start all {n}, one after another | {density.get('start_s', '?')} s | |")
            for i in idle:
                kb = float(i.get("qemu_rss_kb", 0))
                cg = float(density.get("cgroup_kb", "0")) / n
                if cg > 0:
                    L.append(
                        f"| one idle VM ({i.get('mem_mb')} MiB guest): qemu RSS | {mib(kb)} | "
                        f"= {kb / cg:.0f} idle containers by cgroup usage |"
                    )
            L.append("")

    L.append("### Targets (ratios from this run)")
    L.append("")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")
    checks = []
    r = ratio_value(host["run"].get("rind"), host["run"].get("runc"))
    checks.append(("`rind run` median ≤ 0.3x runc's (host)", r, r is not None and r <= 0.3))
    r = ratio_value(host["run"].get("rind"), host["run"].get("floor"))
    checks.append(("`rind run` within 2x of the unshare + chroot floor (host)", r, r is not None and r <= 2))
    r = ratio_value(vm["run"].get("rind"), vm["run"].get("crun")) if has_vm else None
    checks.append(("`rind run` not slower than crun (VM)", r, r is not None and r <= 1))
    hr, rr = host_rss.get("rind"), host_rss.get("runc")
    r = statistics.median(hr) / statistics.median(rr) if hr and rr else None
    checks.append(("peak RSS ≤ 1/3 of runc's (host)", r, r is not None and r <= 1 / 3))
    for label, value, ok in checks:
        shown = f"{value:.2f}x" if value is not None else "n/a"
        L.append(f"| {label} | {shown} | {'yes' if ok else ('no' if value is not None else 'not measured')} |")
    L.append("")
    L.append(f"![startup times, log scale]({os.path.basename(png_path)})")

    text = "\n".join(L) + "\n"
    write_markdown(md_path, text)
    chart(png_path, host, vm, boot, vm_env)
    print(text)
    if cvm_path:
        write_markdown(cvm_path, containers_vs_vms(results, env, host, boot, idle, density, png_path))


def containers_vs_vms(results, env, host, boot, idle, density, png_path):
    """The figures docs/containers-vs-vms.md quotes, all from this run."""
    L = []
    L.append(f"Measured {env.get('date', '?')} on {env.get('cpu', '?')} ({env.get('cores', '?')} cores), kernel "
             f"{env.get('kernel', '?')}, cgroups {env.get('cgroups', '?')}, by `scripts/bench-startup.sh`.")
    L.append("")
    trace_path = os.path.join(results, "trace.txt")
    if os.path.exists(trace_path):
        L.append("A traced start of the benchmark bundle (`rind --trace run`, one run, /bin/true):")
        L.append("")
        L.append("```")
        with open(trace_path) as f:
            for line in f:
                line = line.rstrip("\n")
                L.append(line if len(line) <= 110 else line[:108] + " …")
        L.append("```")
        L.append("")
    L.append("| | container (rind, host) | VM (qemu, " + boot.get("accel", "?") + ") |")
    L.append("|---|---|---|")
    r = host["run"].get("rind")
    f = host["run"].get("floor")
    if r and boot.get("marker_median_s"):
        L.append(f"| start until the payload runs | less than one whole `run`: {fmt_time(r['median'])} median "
                 f"(the kernel floor, unshare + chroot: {fmt_time(f['median']) if f else 'n/a'}) | "
                 f"{fmt_time(float(boot['marker_median_s']))} from launching qemu to init's first line "
                 f"(median of {boot.get('runs', '?')} boots) |")
        L.append(f"| start, run, tear down | {fmt_time(r['median'])} | "
                 f"{fmt_time(float(boot['total_median_s']))} (init powers off at once) |")
    uptimes = [i for i in idle if i.get("kernel_to_init_s", "nan") != "nan"]
    if uptimes:
        L.append("| the guest kernel's uptime when init ran (single boots) | – | "
                 + ", ".join(f"{float(i['kernel_to_init_s']):.2f} s ({i.get('mem_mb')} MiB guest)" for i in uptimes)
                 + " |")
    n = int(density.get("containers", "0") or 0)
    if n:
        cg = float(density.get("cgroup_kb", "0")) / n
        pss = float(density.get("pss_kb", "0")) / n
        L.append(f"| memory of one idle instance | {cg:.0f} kB charged to its cgroup, {pss:.0f} kB PSS "
                 f"(mean of {n} idle `sleep` containers) | "
                 + ", ".join(f"{float(i.get('qemu_rss_kb', 0)) / 1024:.0f} MiB qemu RSS ({i.get('mem_mb')} MiB guest)" for i in idle)
                 + " |")
        if idle and cg > 0:
            smallest = min(float(i.get("qemu_rss_kb", 0)) for i in idle)
            L.append(f"| idle containers in the memory of one idle VM | {smallest / cg:.0f} | 1 |")
    L.append("")
    L.append(f"![startup times, log scale]({os.path.basename(png_path)})")
    return "\n".join(L) + "\n"


def read_kv_from_line(line):
    out = {}
    for part in line.split():
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def write_markdown(path, generated):
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    else:
        old = f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in old or END not in old:
        old = old.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = old.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path + ".tmp", "w") as f:
        f.write(f"{head}{BEGIN}\n{generated}{END}{tail}")
    os.replace(path + ".tmp", path)


def chart(path, host, vm, boot, vm_env):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = []  # (label, seconds, colour)
    colours = {"floor": "#888888", "rind": "#d95f02", "runc": "#1b9e77", "crun": "#7570b3", "VM": "#e7298a"}
    for name in ("floor", "rind", "runc"):
        r = host["run"].get(name)
        if r:
            bars.append((f"{name} run (host)", r["median"], colours[name]))
    accel = vm_env.get("accel", "?")
    for name in ("floor", "rind", "runc", "crun"):
        r = vm["run"].get(name)
        if r:
            bars.append((f"{name} run (in VM, {accel})", r["median"], colours[name]))
    if boot.get("marker_median_s"):
        bars.append((f"VM boot to init ({boot.get('accel', '?')})", float(boot["marker_median_s"]), colours["VM"]))
        bars.append((f"VM boot + power-off ({boot.get('accel', '?')})", float(boot["total_median_s"]), colours["VM"]))
    if not bars:
        return
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(bars) + 1.4))
    labels = [b[0] for b in bars]
    values = [b[1] * 1000 for b in bars]
    ax.barh(range(len(bars)), values, color=[b[2] for b in bars])
    ax.set_yticks(range(len(bars)), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median time, ms (log scale)")
    ax.set_title("Starting /bin/true: kernel floor, runtimes, and a VM boot")
    for i, v in enumerate(values):
        ax.text(v * 1.05, i, f"{v:.1f} ms" if v < 1000 else f"{v / 1000:.2f} s", va="center", fontsize=8)
    ax.set_xlim(min(values) / 2, max(values) * 4)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.text(0.01, 0.01, "crun refuses this host's hybrid cgroups: it is measured in the VM only.", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path + ".tmp.png", dpi=110)
    os.replace(path + ".tmp.png", path)
    plt.close(fig)


if __name__ == "__main__":
    main()
