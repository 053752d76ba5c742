#!/usr/bin/env python3
"""End-to-end tests of `ungulate grad` (HDF5 files, 1-3 ranks).

usage: test_grad_command.py UNGULATE MAKE_FIXTURES MPIEXEC WORKDIR

The expected gradient of the GRU recipe (recipe_grad_expected.h5) comes from central finite
differences of a plain GRU in make_fixtures; every other check compares `ungulate grad` runs
with each other (given vs computed trajectory, 1 vs 2-3 ranks) or checks refusals.
"""
import os
import shutil
import subprocess
import sys

EXE, FIXTURES, MPIEXEC, WORK = sys.argv[1:5]
failures = []


def run(*args, ranks=1, timeout=600):
    cmd = [EXE, *map(str, args)]
    if ranks > 1:
        cmd = [MPIEXEC, "-np", str(ranks), "--oversubscribe", "--allow-run-as-root", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=WORK)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def ok(proc, what):
    check(proc.returncode == 0, f"{what}: exit {proc.returncode}, stderr: {proc.stderr.strip()}")


def same(a, b, dataset, tol, what):
    p = run("compare", a, b, "--dataset", dataset, "--tol", tol)
    check(p.returncode == 0, f"{what} {dataset}: {p.stdout.strip()} {p.stderr.strip()}")


def refused(args, needle, what, timeout=60):
    p = run(*args, timeout=timeout)
    check(p.returncode == 2, f"{what}: exit {p.returncode} ({p.stderr.strip()})")
    check(needle in p.stderr, f"{what}: message {p.stderr.strip()!r} lacks {needle!r}")
    check(len(p.stderr.strip().splitlines()) == 1, f"{what}: one line, got {p.stderr!r}")


GRU_DATASETS = ["/grad/inputs", "/grad/initial_state", "/grad/model/input_kernel",
                "/grad/model/recurrent_kernel", "/grad/model/input_bias",
                "/grad/model/recurrent_bias"]
LSTM_DATASETS = ["/grad/inputs", "/grad/initial_state", "/grad/model/weight_ih",
                 "/grad/model/weight_hh", "/grad/model/bias_ih", "/grad/model/bias_hh"]
LORENZ_DATASETS = ["/grad/inputs", "/grad/initial_state", "/grad/model/F"]

shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
subprocess.run([FIXTURES, WORK], check=True)
recipe = ["--model", "recipe.h5", "--input", "recipe.h5", "--cotangent", "recipe_cotangent.h5"]

# --- the GRU recipe against finite differences (float64 and float32) -----------------------
ok(run("grad", *recipe, "-o", "g.h5", "--double", "--quiet"), "grad recipe double")
for d in GRU_DATASETS:
    same("g.h5", "recipe_grad_expected.h5", d, 1e-7, "grad recipe double vs finite differences")
ok(run("grad", *recipe, "-o", "g32.h5", "--quiet"), "grad recipe float")
for d in GRU_DATASETS:
    same("g32.h5", "recipe_grad_expected.h5", d, 2e-5, "grad recipe float vs finite differences")
p = run("inspect", "g.h5")
ok(p, "inspect gradient")
for needle in ["inputs  float64 (2, 5, 3)", "initial_state  float64 (2, 2)",
               "input_kernel  float64 (3, 2, 3)", "recurrent_bias  float64 (3, 2)",
               'kind = "gradient"', 'trajectory = "computed: seq"',
               "g.h5: gradient (gru), inputs (2, 5, 3)"]:
    check(needle in p.stdout, f"inspect gradient shows {needle!r}: {p.stdout[:800]!r}")

# --- a given trajectory (--states) equals the computed one; DEER's trajectory is as good ----
ok(run("run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "s.h5", "--method", "seq",
       "--double", "--quiet"), "run seq")
ok(run("grad", *recipe, "--states", "s.h5", "-o", "g_states.h5", "--double", "--quiet"),
   "grad --states")
for d in GRU_DATASETS:
    same("g_states.h5", "g.h5", d, 0, "grad --states vs computed trajectory")
ok(run("grad", *recipe, "--method", "deer", "-o", "g_deer.h5", "--double", "--quiet"),
   "grad --method deer")
for d in GRU_DATASETS:
    same("g_deer.h5", "g.h5", d, 1e-6, "grad from a DEER trajectory")

# --- under mpirun: 2 and 3 ranks (3 > ... T = 5: uneven slices) equal one rank -------------
for ranks in [2, 3]:
    out = f"g_np{ranks}.h5"
    ok(run("grad", *recipe, "-o", out, "--double", "--quiet", ranks=ranks), f"grad np{ranks}")
    for d in GRU_DATASETS:
        same(out, "g.h5", d, 1e-12, f"grad np{ranks} vs one rank")

# --- LSTM and Lorenz-96 recipes: 1 vs 2 ranks, and the weight datasets' names ---------------
for cell, datasets, shapes in [
        ("lstm", LSTM_DATASETS, ["weight_ih  float64 (8, 3)", "bias_hh  float64 (8)"]),
        ("lorenz96", LORENZ_DATASETS, ["F  float64 (1)", "inputs  float64 (2, 5, 5)"])]:
    args = ["--model", f"recipe_{cell}.h5", "--input", f"recipe_{cell}.h5", "--cotangent",
            f"recipe_{cell}_cotangent.h5", "--double", "--quiet"]
    ok(run("grad", *args, "-o", f"g_{cell}.h5"), f"grad {cell}")
    ok(run("grad", *args, "-o", f"g_{cell}_np2.h5", ranks=2), f"grad {cell} np2")
    for d in datasets:
        same(f"g_{cell}_np2.h5", f"g_{cell}.h5", d, 1e-12, f"grad {cell} np2 vs one rank")
    p = run("inspect", f"g_{cell}.h5")
    for needle in shapes:
        check(needle in p.stdout, f"inspect {cell} gradient shows {needle!r}: {p.stdout[:800]!r}")

# --- help, bad input, file safety -----------------------------------------------------------
p = run("grad", "--help")
check(p.returncode == 0 and "/cotangent" in p.stdout and "--states" in p.stdout,
      f"grad --help: {p.returncode} {p.stdout[:200]!r}")
refused(["grad", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "x.h5"],
        "missing --cotangent", "no cotangent")
refused(["grad", "--model", "recipe.h5", "--input", "recipe.h5", "--cotangent",
         "recipe_lstm_cotangent.h5", "-o", "x.h5"], "recipe_lstm_cotangent.h5",
        "cotangent of the wrong shape")
refused(["grad", *recipe, "--states", "recipe_lstm_expected.h5", "-o", "x.h5"],
        "recipe_lstm_expected.h5", "states of the wrong shape")
refused(["grad", *recipe, "--states", "s.h5", "--method", "deer", "-o", "x.h5"],
        "excludes --states", "--states with --method")
refused(["grad", *recipe, "-o", "recipe_cotangent.h5", "--force"], "recipe_cotangent.h5",
        "output is an input")
refused(["grad", *recipe, "-o", "g.h5"], "--force", "existing output without --force")
check(not os.path.exists(os.path.join(WORK, "x.h5")), "refused runs leave no output")
ok(run("grad", *recipe, "-o", "g.h5", "--force", "--double", "--quiet"), "grad --force")
check(not [f for f in os.listdir(WORK) if f.endswith(".partial")], "no temporary files left")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("all grad command checks passed")
