#!/usr/bin/env python3
"""MPI scaling study of quasi-DEER (or another method) on the DESIGN.md workload.

Strong scaling: fixed T, P = 1, 2, 4 ranks.  Weak scaling: T = T_per_rank * P.
Measures seconds per Newton iteration (median of --repeats runs of a fixed number of
iterations) and the total time to tolerance, plus the sequential baseline across ranks
(rank r waits for rank r-1's last state).  Writes CSV and a PNG plot.

  python3 perf/scaling.py                          # T = 1e6 strong, 2.5e5 per rank weak
  python3 perf/scaling.py --strong-length 200000 --weak-length 50000 --ranks 1 2
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import find_exe, median_results  # noqa: E402

FIELDS = ["study", "ranks", "length", "method", "iterations", "seconds_per_iteration",
          "total_seconds", "sequential_seconds", "efficiency_per_iteration",
          "concurrent_baseline_seconds_per_iteration", "efficiency_vs_concurrent_baseline"]


def measure(exe, args, ranks, length):
    base = ["--hidden", args.hidden, "--batch", args.batch, "--length", length]
    # Time per iteration: a fixed number of iterations, no sequential reference.
    _, it = median_results(exe, base + ["--method", args.method, "--skip-reference",
                                        "--max-iter", args.iterations], args.repeats, ranks)
    per_iter = it[args.method]["seconds_per_iteration"]
    total = seq = float("nan")
    iterations = it[args.method]["iterations"]
    if args.full:
        _, full = median_results(exe, base + ["--method", args.method], 1, ranks)
        total = full[args.method]["seconds"]
        iterations = full[args.method]["iterations"]
        _, s = median_results(exe, base + ["--method", "seq"], 1, ranks)
        seq = s["seq"]["seconds"]
    return per_iter, total, seq, iterations


def concurrent_baseline(exe, args, ranks, length):
    """Seconds per iteration when `ranks` independent single-process runs of this rank's
    share (length / ranks steps) run at the same time, no MPI: what the machine itself allows
    (cores shared with hyperthreads or other tenants slow every process down)."""
    import subprocess
    import json
    share = length // ranks
    cmd = [exe, "demo", "--json", "--quiet", "--hidden", str(args.hidden), "--batch",
           str(args.batch), "--length", str(share), "--method", args.method,
           "--skip-reference", "--max-iter", str(args.iterations)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(ranks)]
    times = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode})")
        times.append(json.loads(out)["results"][0]["seconds_per_iteration"])
    return max(times)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, study in zip(axes, ["strong", "weak"]):
        rs = [r for r in rows if r["study"] == study]
        if not rs:
            continue
        P = [r["ranks"] for r in rs]
        t = [r["seconds_per_iteration"] for r in rs]
        ax.plot(P, t, "o-", label="time per Newton iteration")
        ideal = [t[0] / p for p in P] if study == "strong" else [t[0] for _ in P]
        ax.plot(P, ideal, "k--", label="ideal")
        base = [r["concurrent_baseline_seconds_per_iteration"] for r in rs]
        ax.plot(P, base, "x:", color="gray",
                label="P independent processes at once (machine limit)")
        tot = [r["total_seconds"] for r in rs]
        if all(x == x for x in tot):
            ax.plot(P, tot, "s-", label="total time to tolerance")
            ax.plot(P, [r["sequential_seconds"] for r in rs], "^:",
                    label="sequential baseline across ranks")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(P)
        ax.set_xticklabels([str(p) for p in P])
        ax.set_xlabel("MPI ranks P")
        ax.set_ylabel("seconds")
        if study == "strong":
            ax.set_title(f"strong scaling (T = {rs[0]['length']:.0e})")
        else:
            ax.set_title(f"weak scaling (T = {rs[0]['length'] // rs[0]['ranks']:.1e} x P)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe")
    p.add_argument("--method", default="quasi-deer")
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--strong-length", type=int, default=1_000_000)
    p.add_argument("--weak-length", type=int, default=250_000, help="T per rank")
    p.add_argument("--iterations", type=int, default=3, help="iterations per timing run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--full", action="store_true",
                   help="also run to tolerance and the sequential baseline (slow)")
    p.add_argument("-o", "--output", default=os.path.join("perf", "out", "scaling.csv"))
    args = p.parse_args()
    exe = find_exe(args.exe)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    rows = []
    for study in ["strong", "weak"]:
        base_time = None
        for P in args.ranks:
            length = args.strong_length if study == "strong" else args.weak_length * P
            per_iter, total, seq, iterations = measure(exe, args, P, length)
            baseline = (per_iter if P == 1 else
                        concurrent_baseline(exe, args, P, length if study == "strong"
                                            else args.weak_length * P))
            if base_time is None:
                base_time = per_iter * (1 if study == "weak" else args.ranks[0])
            eff = base_time / (per_iter * (P if study == "strong" else 1))
            row = {"study": study, "ranks": P, "length": length, "method": args.method,
                   "iterations": iterations, "seconds_per_iteration": per_iter,
                   "total_seconds": total, "sequential_seconds": seq,
                   "efficiency_per_iteration": eff,
                   "concurrent_baseline_seconds_per_iteration": baseline,
                   "efficiency_vs_concurrent_baseline": baseline / per_iter}
            rows.append(row)
            print(", ".join(f"{k}={row[k]:.4g}" if isinstance(row[k], float) else
                            f"{k}={row[k]}" for k in FIELDS), flush=True)
    with open(args.output, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    png = os.path.splitext(args.output)[0] + ".png"
    plot(rows, png)
    print(f"wrote {args.output} and {png}")


if __name__ == "__main__":
    main()
