#!/usr/bin/env python3
"""ab.py: old build against new build of `ungulate run`, alternating processes.

On a shared or virtual machine the same binary varies by 10-40% between processes, so a
before/after comparison made of two separate runs measures the noise. This script runs the
old and the new program one after the other, R rounds for each method. Each process solves
K times (`run --repeat K`); its time is the median of the solves after the first (the
in-process time, as perf/sweep.py's), or the one solve for K = 1. The table gives the
minimum and the median over the R processes, the speed-up of each, the peak memory of each
program, and the max abs difference of the two answers (`ungulate compare`; 0 for a change
that must not move a bit).

Example (OpenMP builds, 2 threads, the benchmark GRU):
  ungulate generate --hidden 16 --batch 16 --length 100000 -o /tmp/g16.h5
  perf/.venv/bin/python perf/ab.py --old /tmp/old/apps/ungulate \\
      --new build-omp/apps/ungulate --input /tmp/g16.h5 --methods seq quasi-deer --rounds 5
More `ungulate run` options go after `--`. Nothing else should run meanwhile.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import mpi_prefix, peak_mb_of, ungulate_env  # noqa: E402


def solve(exe, method, args, output):
    """One process; returns (seconds, peak MB)."""
    cmd = mpi_prefix(args.ranks) + [
        exe, "run", "--model", args.model, "--input", args.input, "-o", output, "--force",
        "--quiet", "--repeat", str(args.repeat), "--method", method, *args.run_args]
    # 3: iteration cap or stall, still a timed solve.
    _, peak = peak_mb_of(cmd, ungulate_env(args.threads), ok_codes=(0, 3))
    with h5py.File(output, "r") as f:
        solves = list(f["solve_seconds"][()])
    return statistics.median(solves[1:] if len(solves) > 1 else solves), peak


def max_difference(exe, a, b):
    proc = subprocess.run([exe, "compare", a, b], capture_output=True, text=True)
    found = re.search(r": (\S+) over", proc.stdout)
    if proc.returncode != 0 or not found:
        return "compare failed: " + (proc.stderr.strip() or proc.stdout.strip())
    return found.group(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--old", required=True, help="the earlier ungulate program")
    p.add_argument("--new", required=True, help="the changed ungulate program")
    p.add_argument("--input", required=True, help="HDF5 file with /inputs (ungulate generate)")
    p.add_argument("--model", help="HDF5 file with /model (default: --input)")
    p.add_argument("--methods", nargs="+", default=["seq", "quasi-deer"])
    p.add_argument("--rounds", type=int, default=3, help="processes per program and method")
    p.add_argument("--repeat", type=int, default=3, help="solves per process (run --repeat)")
    p.add_argument("--threads", type=int, default=2, help="OpenMP threads per process")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks (mpirun) per run")
    p.add_argument("run_args", nargs="*", help="after --: more `ungulate run` options")
    args = p.parse_args()
    args.model = args.model or args.input
    for exe in (args.old, args.new):
        if not os.access(exe, os.X_OK):
            p.error(f"{exe} is not an executable program")
    for f in {args.input, args.model}:
        if not os.path.isfile(f):
            p.error(f"{f} does not exist")
    if min(args.rounds, args.repeat, args.threads, args.ranks) < 1:
        p.error("--rounds, --repeat, --threads and --ranks must be at least 1")

    print("| method | old min (median) s | new min (median) s | speed-up min (median) "
          "| peak MB old / new | max abs diff |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="ungulate-ab-") as tmp:
        for method in args.methods:
            programs = {"old": args.old, "new": args.new}
            times = {k: [] for k in programs}
            peaks = {k: 0.0 for k in programs}
            outputs = {k: os.path.join(tmp, f"{k}.h5") for k in programs}
            for _ in range(args.rounds):
                for which, exe in programs.items():
                    seconds, peak = solve(exe, method, args, outputs[which])
                    times[which].append(seconds)
                    peaks[which] = max(peaks[which], peak or 0.0)
            lo = {k: min(v) for k, v in times.items()}
            med = {k: statistics.median(v) for k, v in times.items()}
            diff = max_difference(args.new, outputs["old"], outputs["new"])
            print(f"| {method} | {lo['old']:.4g} ({med['old']:.4g}) | {lo['new']:.4g} "
                  f"({med['new']:.4g}) | {lo['old'] / lo['new']:.3f}x "
                  f"({med['old'] / med['new']:.3f}x) | {peaks['old']:.0f} / {peaks['new']:.0f} "
                  f"| {diff} |", flush=True)


if __name__ == "__main__":
    main()
