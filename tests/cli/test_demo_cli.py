#!/usr/bin/env python3
"""End-to-end checks of `ungulate demo`: output formats and bad-argument handling."""
import json
import subprocess
import sys

EXE = sys.argv[1]
failures = []


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


# JSON: every method, each close to sequential.
r = run("demo", "--length", "300", "--batch", "3", "--hidden", "5", "--input-size", "3",
        "--json", "--double")
check(r.returncode == 0, f"json run exit code {r.returncode}: {r.stderr}")
doc = json.loads(r.stdout)
check(doc["config"]["hidden"] == 5 and doc["config"]["input_size"] == 3, "config echoed")
methods = [x["method"] for x in doc["results"]]
check(methods == ["seq", "quasi-deer", "deer", "quasi-elk", "elk"], f"methods {methods}")
for res in doc["results"]:
    check(res["status"] == "converged", f"{res['method']} status {res['status']}")
    check(res["max_abs_error_vs_sequential"] < 1e-5, f"{res['method']} error")
    check(res["iterations"] >= 1, f"{res['method']} iterations")
    for key in ("seconds", "seconds_per_iteration"):
        check(res[key] >= 0, f"{res['method']} {key}")
check(doc["results"][0]["iterations"] == 1, "seq has one iteration")

# Table output with one method.
r = run("demo", "--method", "quasi-deer", "--length", "50", "--batch", "2", "--quiet")
check(r.returncode == 0 and "quasi-deer" in r.stdout and "converged" in r.stdout,
      f"table output: {r.stdout} {r.stderr}")

# --help and --version succeed.
check(run("demo", "--help").returncode == 0, "demo --help")
check("--method" in run("demo", "--help").stdout, "help lists options")
# Only the command's own help: Kokkos' options come with --kokkos-help.
h = run("demo", "--help")
check("--kokkos-" not in h.stdout and len(h.stdout.splitlines()) < 40,
      f"demo --help prints Kokkos' help: {h.stdout}")
check("DESIGN.md" not in h.stdout and "orthogonal" in h.stdout, "demo --help describes the GRU")
k = run("demo", "--kokkos-help")
check(k.returncode == 0 and "--kokkos-" in k.stdout + k.stderr and "method" not in k.stdout,
      f"demo --kokkos-help: {k.stdout} {k.stderr}")
check(run("--version").returncode == 0, "--version")

# Bad arguments: a one-line message on stderr and exit code 2.
bad = [
    ["demo", "--method", "newton"],
    ["demo", "--hidden", "0"],
    ["demo", "--hidden", "abc"],
    ["demo", "--length", "-5"],
    ["demo", "--tol", "0"],
    ["demo", "--tol", "nan"],
    ["demo", "--lambda", "-1"],
    ["demo", "--bogus"],
    ["demo", "--length"],
    ["demo", "stray"],
    ["demo", "--init", "ones"],
    ["demo", "--elk-estimate", "both"],
    ["frobnicate"],
    [],
]
for args in bad:
    r = run(*args)
    check(r.returncode == 2, f"{args}: exit code {r.returncode}")
    check(r.stderr.strip() != "" and r.stdout == "", f"{args}: message on stderr only")

print(f"{len(failures)} failed" if failures else "all demo CLI checks passed")
sys.exit(1 if failures else 0)
