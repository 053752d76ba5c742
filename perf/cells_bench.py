#!/usr/bin/env python3
"""Every method on the three built-in cells, side by side (issue 10): the GRU, the LSTM and
Lorenz-96, from `ungulate generate --cell ...`, run with `ungulate run` on the same files.

For each (cell, method): iterations, status, final residual max_t |s_t - f(s_{t-1})|, what
ran (method_run, fallback), library seconds (median of --repeats), peak memory of the
process (perf/maxrss.py) and the max error against the sequential trajectory (meaningless
for a chaotic cell over a long horizon: float32 rounding alone grows by exp(LLE t); judge
the residual there).  Writes a CSV and prints a Markdown table.

  perf/.venv/bin/python perf/cells_bench.py --length 10000 --batch 16 --hidden 16 \\
      --csv perf/results/cells_<date>.csv

Lorenz-96 at F = 8 is chaotic (its largest Lyapunov exponent is positive): parallel-in-time
cannot pay there, and the default methods end sequentially after a few iterations (that is
what the rows show).  A short horizon (--l96-length) is used for it.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import find_exe, peak_mb_of  # noqa: E402

METHODS = [("seq", []), ("quasi-deer", []), ("quasi-deer", ["--init", "warm"]), ("deer", []),
           ("quasi-elk", []), ("elk", []), ("auto", [])]


def run(exe, model, out, method, extra):
    # 3: iteration cap (still a result to report)
    _, peak = peak_mb_of([exe, "run", "--model", model, "--input", model, "-o", out, "--method",
                          method, "--quiet", "--force", *extra], ok_codes=(0, 3))
    with h5py.File(out, "r") as f:
        attrs = {k: f.attrs[k] for k in ("iterations", "status", "fallback", "method_run",
                                          "seconds", "final_residual")}
        states = np.asarray(f["states"], dtype=np.float64)
    return attrs, states, peak


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=10000)
    ap.add_argument("--l96-length", type=int, default=1000,
                    help="Lorenz-96 length (dt 0.01: 10 time units by default)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--exe", help="ungulate program (default build/apps/ungulate)")
    ap.add_argument("--csv", help="write the rows here")
    ap.add_argument("--workdir", help="where the HDF5 files go (default: a temporary folder)")
    ap.add_argument("--from-csv", help="only print the table of a CSV written before")
    args = ap.parse_args()
    if args.from_csv:
        with open(args.from_csv) as f:
            return table(list(csv.DictReader(f)))
    exe = find_exe(args.exe)
    work = args.workdir or tempfile.mkdtemp(prefix="ungulate-cells-")
    os.makedirs(work, exist_ok=True)

    cells = [("gru", args.length, []), ("lstm", args.length, []),
             ("lorenz96", args.l96_length, [])]
    rows = []
    for cell, length, extra in cells:
        model = os.path.join(work, f"{cell}.h5")
        subprocess.run([exe, "generate", "--cell", cell, "--hidden", str(args.hidden),
                        "--length", str(length), "--batch", str(args.batch), "-o", model,
                        "--force", *extra], check=True, capture_output=True)
        reference = None
        for method, options in METHODS:
            out = os.path.join(work, f"{cell}_{method}.h5")
            seconds, peaks = [], []
            for _ in range(args.repeats):
                attrs, states, peak = run(exe, model, out, method, options)
                seconds.append(float(attrs["seconds"]))
                peaks.append(peak)
            if method == "seq":
                reference = states
            row = {
                "cell": cell, "state_size": states.shape[2], "length": length,
                "batch": args.batch, "method": method + (" " + " ".join(options) if options
                                                         else ""),
                "method_run": text(attrs["method_run"]), "status": text(attrs["status"]),
                "fallback": text(attrs["fallback"]), "iterations": int(attrs["iterations"]),
                "seconds": float(np.median(seconds)), "maxrss_mb": float(np.median(peaks)),
                "residual": float(attrs["final_residual"]),
                "max_error_vs_seq": float(np.max(np.abs(states - reference))),
            }
            rows.append(row)
            print(f"{cell:9s} {row['method']:24s} it {row['iterations']:4d} "
                  f"{row['status']:14s} {row['seconds']:.3f} s", file=sys.stderr)

    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    table(rows)


def table(rows):
    """The Markdown table of rows (dicts as written to the CSV)."""
    print("| cell | T | method | ran | iterations | status | residual | time | vs seq | "
          "peak RSS | error vs seq |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    seq_time = {}
    for r in rows:
        if r["method"] == "seq":
            seq_time[r["cell"]] = float(r["seconds"])
        ran = r["method_run"] + (f" ({r['fallback']})" if r["fallback"] != "none" else "")
        print(f"| {r['cell']} (D {r['state_size']}) | {r['length']} | {r['method']} | {ran} | "
              f"{r['iterations']} | {r['status']} | {float(r['residual']):.1e} | "
              f"{float(r['seconds']):.3f} s | "
              f"{float(r['seconds']) / seq_time[r['cell']]:.1f}x | "
              f"{float(r['maxrss_mb']):.0f} MB | {float(r['max_error_vs_seq']):.1e} |")

if __name__ == "__main__":
    main()
