#!/usr/bin/env python3
"""Hard problems (issue 13): every method on GRUs with scaled recurrent kernels (predictable
x2.5, x3; chaotic x3.5, x4) and on Lorenz-96, with its defaults (adaptive trust region,
fallbacks) and raw (--no-fallback), against sequential evaluation of the same file.

Writes a CSV (case, method, mode, status, iterations, seconds, residual, fallback,
fallback iteration, LLE estimate, max error against sequential) and a PNG of the residual
against the iteration per method and case.  Needs h5py (and matplotlib for the plot), e.g.
perf/.venv from perf/setup_baselines.sh:

    perf/.venv/bin/python perf/hard_cases.py --out perf/out/hard
"""
import argparse
import csv
import os
import subprocess
import sys
import time

import h5py
import numpy as np

from common import find_exe

METHODS = ["deer", "quasi-deer", "elk", "quasi-elk", "auto"]


def run(exe, *args, check=True, timeout=1800):
    proc = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode not in (0, 3, 4):
        sys.exit(f"{exe} {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr}")
    return proc


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def make_cases(exe, out, length, batch):
    """The issue's GRU (hidden 16, seed 3) with its recurrent kernel scaled, and Lorenz-96."""
    cases = []
    base = os.path.join(out, "gru_base.h5")
    run(exe, "generate", "--hidden", 16, "--length", length, "--batch", batch, "--seed", 3,
        "-o", base, "--force")
    for scale in (2.5, 3.0, 3.5, 4.0):
        path = os.path.join(out, f"gru_x{scale:g}.h5")
        with h5py.File(base) as src, h5py.File(path, "w") as dst:
            for key in src:
                src.copy(key, dst)
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            dst["/model/recurrent_kernel"][...] *= scale
        cases.append((f"gru x{scale:g}", path))
    path = os.path.join(out, "lorenz96.h5")
    run(exe, "generate", "--cell", "lorenz96", "--hidden", 16, "--length", length, "--batch",
        batch, "-o", path, "--force")
    cases.append(("lorenz96 N16", path))
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exe", help="the ungulate program (default build/apps/ungulate)")
    ap.add_argument("--out", default="perf/out/hard", help="output folder")
    ap.add_argument("--length", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--raw-max-iter", type=int, default=300,
                    help="iteration cap of the raw (--no-fallback) runs")
    args = ap.parse_args()
    exe = find_exe(args.exe)
    os.makedirs(args.out, exist_ok=True)
    rows, curves = [], {}
    for name, path in make_cases(exe, args.out, args.length, args.batch):
        seq_path = os.path.join(args.out, "seq.h5")
        run(exe, "run", "--model", path, "--input", path, "-o", seq_path, "--method", "seq",
            "--force", "--quiet")
        with h5py.File(seq_path) as f:
            reference = f["/states"][...]
        for method in METHODS:
            for mode in ("default", "raw"):
                if method == "auto" and mode == "raw":
                    continue
                extra = ["--no-fallback", "--max-iter", args.raw_max_iter] if mode == "raw" else []
                out_path = os.path.join(args.out, "out.h5")
                start = time.perf_counter()
                proc = run(exe, "run", "--model", path, "--input", path, "-o", out_path,
                           "--method", method, "--force", "--quiet", *extra)
                wall = time.perf_counter() - start
                with h5py.File(out_path) as f:
                    a = f.attrs
                    states = f["/states"][...]
                    error = float(np.max(np.abs(states.astype(float) - reference)))
                    row = dict(case=name, method=method, mode=mode,
                               method_run=text(a["method_run"]), status=text(a["status"]),
                               iterations=int(a["iterations"]), seconds=float(a["seconds"]),
                               wall_seconds=round(wall, 3), residual=float(a["final_residual"]),
                               fallback=text(a["fallback"]),
                               fallback_iteration=int(a["fallback_iteration"]),
                               lle=float(a["lle"]), error_vs_seq=error, exit_code=proc.returncode)
                    curves[(name, method, mode)] = f["/convergence/residual"][...]
                rows.append(row)
                print(f"{name:13s} {method:10s} {mode:7s} {row['status']:14s} "
                      f"{row['iterations']:4d} it {row['seconds']:8.3f} s residual "
                      f"{row['residual']:.2e} fallback {row['fallback']:12s} "
                      f"LLE {row['lle']:+.3f} error {error:.2e}", flush=True)
    csv_path = os.path.join(args.out, "hard_cases.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {csv_path}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    names = list(dict.fromkeys(r["case"] for r in rows))
    fig, axes = plt.subplots(2, len(names), figsize=(4 * len(names), 7), squeeze=False)
    for j, name in enumerate(names):
        for i, mode in enumerate(("default", "raw")):
            ax = axes[i][j]
            for method in METHODS:
                y = curves.get((name, method, mode))
                if y is not None and len(y):
                    ax.semilogy(np.arange(1, len(y) + 1), np.maximum(y, 1e-12), label=method)
            ax.axhline(1e-4, color="grey", lw=0.5)
            ax.set_title(f"{name} ({mode})")
            ax.set_xlabel("iteration")
            if j == 0:
                ax.set_ylabel("max residual of the iterate")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    png = os.path.join(args.out, "hard_cases_residual.png")
    fig.savefig(png, dpi=90)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
