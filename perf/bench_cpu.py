#!/usr/bin/env python3
"""CPU benchmark of every method on the DESIGN.md workload (GRU, B = 16, float32).

Writes one CSV row per (method, hidden, T) with median seconds over --repeats runs and the
ratio of one Newton iteration to one sequential evaluation of the same batch.

  python3 perf/bench_cpu.py                      # T = 1e4, 1e5, 1e6; hidden 16
  python3 perf/bench_cpu.py --lengths 10000 --hidden 16 64 --repeats 5 -o out.csv
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import find_exe, median_results  # noqa: E402

FIELDS = ["method", "hidden", "length", "batch", "status", "iterations", "seconds",
          "seconds_per_iteration", "sequential_seconds", "iteration_over_sequential",
          "total_over_sequential", "max_abs_error_vs_sequential"]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe", help="path to the ungulate program (default build/apps/ungulate)")
    p.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--hidden", type=int, nargs="+", default=[16])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--methods", nargs="+", default=["quasi-deer", "quasi-elk", "deer", "elk"])
    p.add_argument("--max-length", nargs="*", default=["deer=100000", "elk=10000",
                                                        "quasi-elk=100000"],
                   help="METHOD=T: skip a method above this T (dense methods do O(T D^3) work)")
    p.add_argument("--cap-above", type=int, default=200_000,
                   help="above this T, time only --cap-iterations iterations (per-iteration "
                        "cost) instead of running to tolerance")
    p.add_argument("--cap-iterations", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("-o", "--output", default=os.path.join("perf", "out", "bench_cpu.csv"))
    args = p.parse_args()
    exe = find_exe(args.exe)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    rows = []
    for hidden in args.hidden:
        for length in args.lengths:
            limits = dict(x.split("=") for x in args.max_length)
            methods = [m for m in args.methods if length <= int(limits.get(m, length))]
            capped = length > args.cap_above
            base = ["--hidden", hidden, "--length", length, "--batch", args.batch]
            res = {}
            for m in ["seq"] + methods:
                extra = (["--max-iter", args.cap_iterations, "--skip-reference"]
                         if capped and m != "seq" else [])
                _, got = median_results(exe, base + ["--method", m] + extra, args.repeats)
                res[m] = got[m]
            seq = res["seq"]["seconds"]
            for m in ["seq"] + methods:
                r = res[m]
                row = {"method": m, "hidden": hidden, "length": length, "batch": args.batch,
                       "status": r["status"], "iterations": r["iterations"],
                       "seconds": f"{r['seconds']:.6g}",
                       "seconds_per_iteration": f"{r['seconds_per_iteration']:.6g}",
                       "sequential_seconds": f"{seq:.6g}",
                       "iteration_over_sequential": f"{r['seconds_per_iteration'] / seq:.3f}",
                       "total_over_sequential": f"{r['seconds'] / seq:.3f}",
                       "max_abs_error_vs_sequential":
                           "" if r["max_abs_error_vs_sequential"] is None
                           else r["max_abs_error_vs_sequential"]}
                rows.append(row)
                print(", ".join(f"{k}={row[k]}" for k in FIELDS), flush=True)
    with open(args.output, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
