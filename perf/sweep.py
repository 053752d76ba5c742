#!/usr/bin/env python3
"""The CPU benchmark sweep: ungulate against JAX and PyTorch on the same HDF5 files.

For every (hidden, T, B) it writes the workload with `ungulate generate` (GRU, float32,
the benchmark initialisation), then times, each --repeats times (median):
  * ungulate `run` with every method, from zeros and from the windowed warm start, on the
    configurations given by --ungulate (default: 1 thread, 2 threads, 2 ranks): one solve
    per process ("seconds", cold: it allocates and first-touches the workspace), then a
    second in the same process, timed as the baselines are, after a warm-up
    ("seconds_in_process", `run --repeat 2`);
  * the baselines of perf/baselines.py (jax-scan, jax-quasi-deer, torch-gru).
Every row has the peak resident memory of its process (ru_maxrss from wait4) beside the
time, the iteration count, and the max abs error against ungulate's sequential answer.
A second table times quasi-DEER against the warm-start window W.  Writes CSVs into --out;
perf/report.py turns them into plots and perf/RESULTS.md.

  perf/run_sweep.sh                       # everything, with the venv and builds it needs
  perf/.venv/bin/python perf/sweep.py --lengths 10000 --hidden 16 --batch 16 --repeats 1
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from common import mpi_prefix, peak_mb_of, ungulate_env  # noqa: E402

FIELDS = ["impl", "config", "method", "init", "hidden", "length", "batch", "status",
          "iterations", "seconds", "seconds_per_iteration", "first_iteration_seconds",
          "later_iteration_seconds", "seconds_in_process", "seconds_per_iteration_in_process",
          "peak_mb",
          "max_abs_error_vs_sequential", "final_residual", "warm_window", "fallback", "repeats"]


def ungulate_run(exe, ranks, threads, data, out, method, init, extra=(), in_process=False):
    """One process. With in_process it solves twice (`run --repeat 2`): "seconds" is the
    first, cold solve (it allocates and first-touches the solver's workspace), and
    "seconds_in_process" the second, timed as the baselines are (after a warm-up in the same
    process); the convergence log, and so the iteration split, is the second's."""
    cmd = mpi_prefix(ranks) + [exe, "run", "--model", data, "--input", data, "-o", out,
                               "--method", method, "--init", init, "--force", "--quiet",
                               *extra] + (["--repeat", "2"] if in_process else [])
    # 3: max-iterations or stalled, a result to record (the 'old' runs stop at 3 iterations).
    _, peak = peak_mb_of(cmd, ungulate_env(threads), ok_codes=(0, 3))
    with h5py.File(out, "r") as f:
        a = f.attrs
        def s(v):
            return v.decode() if isinstance(v, bytes) else str(v)
        return {"status": s(a["status"]), "iterations": int(a["iterations"]),
                "seconds": float(a["seconds"]), "final_residual": float(a["final_residual"]),
                "warm_window": int(a["warm_window"]) if "warm_window" in a else None,
                "fallback": s(a["fallback"]) if "fallback" in a else None,
                "peak_mb": peak, **iteration_split(f), **solve_times(f, in_process)}


def solve_times(f, in_process):
    if not in_process:
        return {}
    t = np.asarray(f["solve_seconds"][()], np.float64)
    return {"seconds": float(t[0]), "seconds_in_process": float(t[1])}


def iteration_split(f):
    """The first iteration's seconds (it also linearises the initial iterate, and in a cold
    solve allocates and first-touches the solver's workspace) and the median of the later
    ones (the cost of one more iteration), from the convergence log; None where there is no
    log or only one iteration."""
    if "convergence" not in f or "seconds" not in f["convergence"]:
        return {"first_iteration_seconds": None, "later_iteration_seconds": None}
    t = np.asarray(f["convergence"]["seconds"][()], np.float64)
    later = np.diff(t)
    return {"first_iteration_seconds": float(t[0]) if t.size else None,
            "later_iteration_seconds": float(np.median(later)) if later.size else None}


def max_error(out, reference):
    with h5py.File(out, "r") as f, h5py.File(reference, "r") as g:
        a, b = f["states"], g["states"]
        m = 0.0
        for i in range(a.shape[0]):  # one sequence at a time: bounded memory
            m = max(m, float(np.max(np.abs(np.asarray(a[i], np.float64) -
                                           np.asarray(b[i], np.float64)))))
        return m


def median_row(rows):
    row = dict(rows[0])
    for k in ("seconds", "seconds_in_process", "peak_mb", "first_iteration_seconds",
              "later_iteration_seconds"):
        vals = [r[k] for r in rows if r.get(k) is not None]
        row[k] = statistics.median(vals) if vals else None
    row["repeats"] = len(rows)
    return row


def too_big(method, hidden, length, batch, limits):
    work = batch * length * hidden ** 3
    return method in limits and work > limits[method]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe", default=os.path.join(ROOT, "build", "apps", "ungulate"),
                   help="ungulate built with Debian's Serial Kokkos")
    p.add_argument("--exe-omp", default=os.path.join(ROOT, "build-omp", "apps", "ungulate"),
                   help="ungulate built with the OpenMP Kokkos (scripts/build-kokkos-openmp.sh)")
    p.add_argument("--exe-old", default=os.path.join(ROOT, "..", "wt-old", "build", "apps",
                                                     "ungulate"),
                   help="an earlier ungulate (Serial) for the 'old' configuration: per-iteration "
                        "times at T 1e4 (3 iterations), to show what did not regress")
    p.add_argument("--ungulate", nargs="+", default=["1thread", "2threads", "2ranks", "old"],
                   help="configurations: 1thread (OpenMP exe, 1 thread), 2threads, 2ranks "
                        "(Serial exe under mpirun), serial (Serial exe), old (--exe-old)")
    p.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--hidden", type=int, nargs="+", default=[5, 16, 64])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    p.add_argument("--methods", nargs="+",
                   default=["seq", "quasi-deer", "deer", "quasi-elk", "elk"])
    p.add_argument("--inits", nargs="+", default=["zeros", "warm"])
    p.add_argument("--baselines", nargs="+", default=["jax-scan", "jax-quasi-deer", "torch-gru"])
    p.add_argument("--dense-limit", nargs="*", default=["deer=3e10", "elk=3e9"],
                   help="METHOD=W: skip when B*T*hidden^3 exceeds W (dense methods)")
    p.add_argument("--windows", type=int, nargs="*", default=[0, 8, 16, 32, 64, 128, 256, 512],
                   help="warm-start windows for the W table (hidden 16, B 16, every T)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    args = p.parse_args()

    limits = {k: float(v) for k, v in (x.split("=") for x in args.dense_limit)}
    exes = {"1thread": (args.exe_omp, 1, 1), "2threads": (args.exe_omp, 1, 2),
            "2ranks": (args.exe, 2, 1), "serial": (args.exe, 1, 1),
            "old": (args.exe_old, 1, 1)}
    if "old" in args.ungulate and not os.path.exists(args.exe_old):
        print(f"sweep.py: no {args.exe_old}: skipping the 'old' configuration", file=sys.stderr)
        args.ungulate.remove("old")
    for name in args.ungulate:
        exe = exes[name][0]
        if not os.path.exists(exe):
            sys.exit(f"sweep.py: {exe} not found (needed for '{name}'): build it first "
                     "(perf/run_sweep.sh does)")
    data_dir = os.path.join(args.out, "data")
    os.makedirs(data_dir, exist_ok=True)
    python = os.path.join(HERE, ".venv", "bin", "python")
    if not os.path.exists(python):
        python = sys.executable
    # The VM's memory, measured first (alone on the machine): see machine_probe.py.
    probe = subprocess.run([python, os.path.join(HERE, "machine_probe.py")],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        with open(os.path.join(args.out, "machine.json"), "w") as f:
            f.write(probe.stdout)
        print("machine:", probe.stdout.strip(), flush=True)
    else:
        print("sweep.py: machine_probe.py failed:", probe.stderr.strip(), file=sys.stderr)
    rows_path = os.path.join(args.out, "sweep.csv")
    rows = []

    def emit(row):
        rows.append(row)
        print(json.dumps(row), flush=True)
        with open(rows_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(rows)

    gen_exe = args.exe if os.path.exists(args.exe) else args.exe_omp
    for hidden in args.hidden:
        for length in args.lengths:
            for batch in args.batch:
                data = os.path.join(data_dir, f"gru_h{hidden}_T{length}_B{batch}.h5")
                subprocess.run([gen_exe, "generate", "--hidden", str(hidden), "--length",
                                str(length), "--batch", str(batch), "--seed", "1", "-o", data,
                                "--force"], check=True, capture_output=True)
                reference = os.path.join(data_dir, "reference.h5")
                ungulate_run(gen_exe, 1, 1, data, reference, "seq", "zeros")
                base = {"hidden": hidden, "length": length, "batch": batch}
                for cfg in args.ungulate:
                    exe, ranks, threads = exes[cfg]
                    # 2 threads vs 2 ranks: on the headline case only (hidden 16, B 16).
                    if ranks > 1 and (hidden != 16 or batch != 16):
                        continue
                    for method in args.methods:
                        if too_big(method, hidden, length, batch, limits):
                            continue
                        if ranks > 1 and method not in ("seq", "quasi-deer", "quasi-elk"):
                            continue
                        old = cfg == "old"
                        if old and (length > 10_000 or method == "elk"):
                            continue
                        inits = ["zeros"] if method == "seq" or old else args.inits
                        for init in inits:
                            out = os.path.join(data_dir, "out.h5")
                            extra = ["--tol", str(args.tol)]
                            if old and method != "seq":
                                extra += ["--max-iter", "3"]  # per-iteration cost only
                            got = [ungulate_run(exe, ranks, threads, data, out, method, init,
                                                extra, in_process=not old)
                                   for _ in range(args.repeats)]
                            row = median_row(got)
                            if not old:
                                row["seconds_per_iteration_in_process"] = row[
                                    "seconds_in_process"] / max(row["iterations"], 1)
                            row.update(base, impl="ungulate", config=cfg, method=method,
                                       init=init,
                                       max_abs_error_vs_sequential=max_error(out, reference))
                            row["seconds_per_iteration"] = row["seconds"] / max(
                                row["iterations"], 1)
                            emit(row)
                for bl in args.baselines:
                    got = []
                    for _ in range(max(1, args.repeats // 3)):
                        out, peak = peak_mb_of([python, os.path.join(HERE, "baselines.py"), bl,
                                                data, "--reference", reference, "--repeats",
                                                str(args.repeats), "--tol", str(args.tol)])
                        r = json.loads(out)
                        got.append({"seconds": r["seconds"], "peak_mb": peak,
                                    "iterations": r["iterations"],
                                    "max_abs_error_vs_sequential":
                                        r["max_abs_error_vs_sequential"],
                                    "status": "finite" if r["finite"] else "non-finite"})
                    row = median_row(got)
                    method = {"jax-scan": "seq", "torch-gru": "seq"}.get(bl, "quasi-deer")
                    row.update(base, impl=bl, config="default threads", method=method,
                               init="zeros", final_residual=None)
                    row["seconds_per_iteration"] = row["seconds"] / max(row["iterations"], 1)
                    emit(row)
                os.remove(data)

    # Iterations and time against the warm-start window (quasi-DEER, hidden 16, B 16).
    if args.windows and os.path.exists(args.exe_omp):
        wrows = []
        for length in args.lengths:
            for threads in (1, 2):
                for window in list(args.windows) + ["auto"]:
                    times, it, err = [], None, None
                    for _ in range(args.repeats):
                        cmd = [args.exe_omp, "demo", "--json", "--quiet", "--hidden", "16",
                               "--batch", "16", "--length", str(length), "--method",
                               "quasi-deer", "--init", "warm", "--warm-window", str(window)]
                        out, peak = peak_mb_of(cmd, ungulate_env(threads))
                        r = json.loads(out)["results"][-1]
                        times.append(r["seconds"])
                        it, err, used = (r["iterations"], r["max_abs_error_vs_sequential"],
                                         r["warm_window"])
                    wrows.append({"length": length, "threads": threads, "window": window,
                                  "window_used": used, "iterations": it,
                                  "seconds": statistics.median(times), "peak_mb": peak,
                                  "max_abs_error_vs_sequential": err})
                    print(json.dumps(wrows[-1]), flush=True)
        with open(os.path.join(args.out, "warm_window.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(wrows[0]))
            w.writeheader()
            w.writerows(wrows)
    print(f"wrote {rows_path}")


if __name__ == "__main__":
    main()
