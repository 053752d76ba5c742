"""Shared helpers for the perf/ scripts: run `ungulate demo --json`, take medians."""
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_exe(path=None):
    exe = path or os.path.join(ROOT, "build", "apps", "ungulate")
    if not os.path.exists(exe):
        sys.exit(f"ungulate program not found at {exe}: build first "
                 "(cmake -S . -B build && cmake --build build -j2) or pass --exe")
    return exe


def mpi_prefix(ranks):
    if ranks <= 1:
        return []
    mpirun = shutil.which("mpirun") or sys.exit("mpirun not found")
    extra = ["--oversubscribe"]
    if os.geteuid() == 0:
        extra.append("--allow-run-as-root")
    bind = "core" if ranks <= (os.cpu_count() or 1) else "none"
    return [mpirun, "-np", str(ranks), *extra, "--bind-to", bind]


def run_demo(exe, args, ranks=1, timeout=3600):
    """Runs one demo; returns the parsed JSON document."""
    cmd = mpi_prefix(ranks) + [exe, "demo", "--json", "--quiet", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def median_results(exe, args, repeats, ranks=1):
    """Runs the demo `repeats` times; returns {method: result} with median timings."""
    runs = [run_demo(exe, args, ranks) for _ in range(repeats)]
    out = {}
    for method in [r["method"] for r in runs[0]["results"]]:
        rows = [next(r for r in run["results"] if r["method"] == method) for run in runs]
        merged = dict(rows[0])
        for key in ("seconds", "seconds_per_iteration"):
            merged[key] = statistics.median(r[key] for r in rows)
        merged["iterations"] = statistics.median(r["iterations"] for r in rows)
        errors = [r["max_abs_error_vs_sequential"] for r in rows]
        merged["max_abs_error_vs_sequential"] = (None if None in errors else max(errors))
        out[method] = merged
    return runs[0]["config"], out
