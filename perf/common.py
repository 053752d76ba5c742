"""Shared helpers for the perf/ scripts: run a command and measure its peak memory, the
thread environment of ungulate runs, `ungulate demo --json`, medians."""
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


def peak_mb_of(cmd, env=None, timeout=7200, ok_codes=(0,)):
    """Runs cmd through maxrss.py; returns (stdout, peak resident MB of its largest
    process).  An exit code outside ok_codes raises RuntimeError with stderr's tail."""
    wrapper = [sys.executable, os.path.join(ROOT, "perf", "maxrss.py"), "--"] + list(map(str, cmd))
    proc = subprocess.run(wrapper, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}: "
                           f"{proc.stderr.strip()[-500:]}")
    lines = proc.stderr.strip().splitlines()
    peak = float(lines[-1].split()[-1]) if lines and lines[-1].startswith("maxrss_mb") else None
    return proc.stdout, peak


def ungulate_env(threads):
    """The environment of an ungulate process on `threads` OpenMP threads, one per core."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["OMP_PROC_BIND"] = "spread"
    env["OMP_PLACES"] = "cores"
    return env


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
