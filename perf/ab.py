#!/usr/bin/env python3
"""ab.py: old build against new build of `ungulate run`, alternating processes.

On a shared or virtual machine the same binary varies by 10-40% between processes, so a
before/after comparison made of two separate runs measures the noise. This script runs the
old and the new program one after the other, R rounds for each method. Each process solves
K times (`run --repeat K`), and its in-process median is taken. The table gives the minimum
and the median over the R processes, the speed-up of each, the peak memory of each program
(`maxrss.py`), and the max abs difference of the two answers (`ungulate compare`; 0 for a
change that must not move a bit).

Example (OpenMP builds, 2 threads, the benchmark GRU):
  ungulate generate --hidden 16 --batch 16 --length 100000 -o /tmp/g16.h5
  OMP_NUM_THREADS=2 OMP_PROC_BIND=spread OMP_PLACES=cores \\
    perf/ab.py --old /tmp/old/apps/ungulate --new build-omp/apps/ungulate \\
               --input /tmp/g16.h5 --methods seq quasi-deer --rounds 5
Times come from each output's /solve_seconds where h5py is importable (perf/.venv), else
from the program's printed summary (milliseconds). Nothing else should run meanwhile.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

try:
    import h5py
except ImportError:  # the printed summary (3 decimals) instead
    h5py = None

HERE = os.path.dirname(os.path.abspath(__file__))
DIFFERENCE = re.compile(r": (\S+) over")
MEDIAN = re.compile(r"later ones median ([0-9.eE+-]+) s")
SINGLE = re.compile(r"([0-9.eE+-]+) s -> ")
PEAK = re.compile(r"maxrss_mb ([0-9.]+)")


def solve_once(exe, method, args, output):
    """Runs one process; returns (in-process median seconds, peak MB)."""
    cmd = [sys.executable, os.path.join(HERE, "maxrss.py"), exe, "run", "--model", args.model,
           "--input", args.input, "-o", output, "--force", "--quiet", "--repeat",
           str(args.repeat), "--method", method] + args.run_args
    proc = subprocess.run(cmd, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    # Exit 3 (iteration cap) still times the solve; anything else is a failure to report.
    if proc.returncode not in (0, 3):
        raise SystemExit(f"ab.py: {' '.join(cmd)} exited with {proc.returncode}:\n{text}")
    found = MEDIAN.search(text) or SINGLE.search(text)
    peak = PEAK.search(text)
    if not found or not peak:
        raise SystemExit(f"ab.py: no timing in the output of {' '.join(cmd)}:\n{text}")
    seconds = float(found.group(1))
    if h5py is not None:
        with h5py.File(output, "r") as f:
            solves = list(f["solve_seconds"][:])
        seconds = statistics.median(solves[1:] if len(solves) > 1 else solves)
    return seconds, float(peak.group(1))


def max_difference(exe, a, b):
    proc = subprocess.run([exe, "compare", a, b], capture_output=True, text=True)
    if proc.returncode != 0:
        return "compare failed: " + (proc.stderr.strip() or proc.stdout.strip())
    found = DIFFERENCE.search(proc.stdout)
    return found.group(1) if found else proc.stdout.strip()


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
    p.add_argument("run_args", nargs="*", help="after --: more `ungulate run` options")
    args = p.parse_args()
    args.model = args.model or args.input
    for exe in (args.old, args.new):
        if not os.access(exe, os.X_OK):
            p.error(f"{exe} is not an executable program")
    for f in {args.input, args.model}:
        if not os.path.isfile(f):
            p.error(f"{f} does not exist")
    if args.rounds < 1 or args.repeat < 1:
        p.error("--rounds and --repeat must be at least 1")

    print(f"| method | old min (median) s | new min (median) s | speed-up min (median) "
          f"| peak MB old / new | max abs diff |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="ungulate-ab-") as tmp:
        for method in args.methods:
            times = {"old": [], "new": []}
            peaks = {"old": 0.0, "new": 0.0}
            outputs = {k: os.path.join(tmp, f"{k}.h5") for k in times}
            for _ in range(args.rounds):
                for which, exe in (("old", args.old), ("new", args.new)):
                    seconds, peak = solve_once(exe, method, args, outputs[which])
                    times[which].append(seconds)
                    peaks[which] = max(peaks[which], peak)
            lo = {k: min(v) for k, v in times.items()}
            med = {k: statistics.median(v) for k, v in times.items()}
            diff = max_difference(args.new, outputs["old"], outputs["new"])
            print(f"| {method} | {lo['old']:.4g} ({med['old']:.4g}) | {lo['new']:.4g} "
                  f"({med['new']:.4g}) | {lo['old'] / lo['new']:.3f}x "
                  f"({med['old'] / med['new']:.3f}x) | {peaks['old']:.0f} / {peaks['new']:.0f} "
                  f"| {diff} |", flush=True)


if __name__ == "__main__":
    main()
