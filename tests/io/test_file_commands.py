#!/usr/bin/env python3
"""End-to-end tests of `ungulate generate | run | inspect | compare` (HDF5 files).

usage: test_file_commands.py UNGULATE MAKE_FIXTURES MPIEXEC WORKDIR
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


def same(a, b, tol, what):
    p = run("compare", a, b, "--tol", tol)
    check(p.returncode == 0, f"{what}: {p.stdout.strip()} {p.stderr.strip()}")


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
subprocess.run([FIXTURES, WORK], check=True)

# --- the fixed recipe (schema stability) -------------------------------------------------
for method in ["seq", "quasi-deer", "deer", "elk", "quasi-elk"]:
    p = run("run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", f"recipe_{method}.h5",
            "--method", method, "--double", "--quiet")
    ok(p, f"recipe {method}")
    same(f"recipe_{method}.h5", "recipe_expected.h5", 1e-6, f"recipe {method} vs expected")
p = run("inspect", "recipe_quasi-deer.h5")
ok(p, "inspect output")
for needle in ["status = \"converged\"", "method = \"quasi-deer\"", "states  float64 (2, 5, 2)",
               "residual  float64", "ungulate_version"]:
    check(needle in p.stdout, f"inspect shows {needle!r}")

# --- generate -> run (each method) -> compare with sequential ------------------------------
ok(run("generate", "--hidden", 6, "--input-size", 4, "--length", 301, "--batch", 3,
       "--seed", 4, "-o", "data.h5"), "generate")
check(run("generate", "--hidden", 6, "--length", 10, "-o", "data.h5").returncode == 2,
      "generate refuses to overwrite without --force")
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "seq.h5", "--method", "seq",
       "--quiet"), "run seq")
for method in ["quasi-deer", "deer", "quasi-elk", "elk"]:
    ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", f"{method}.h5",
           "--method", method, "--quiet"), f"run {method}")
    same(f"{method}.h5", "seq.h5", 1e-3, f"{method} vs seq")
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "elk_filter.h5",
       "--method", "elk", "--elk-estimate", "filter", "--init", "warm", "--quiet"), "elk filter")
same("elk_filter.h5", "seq.h5", 1e-3, "elk filter vs seq")
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "from_file.h5",
       "--method", "deer", "--init", "file", "--init-file", "quasi-elk.h5", "--quiet"),
   "init from file")
same("from_file.h5", "seq.h5", 1e-3, "init file vs seq")

# --- under mpirun: generate and run with 2 and 3 ranks equal the single-rank files ---------
for ranks in [2, 3]:
    ok(run("generate", "--hidden", 6, "--input-size", 4, "--length", 301, "--batch", 3,
           "--seed", 4, "-o", f"data_np{ranks}.h5", ranks=ranks), f"generate np{ranks}")
    p = run("compare", f"data_np{ranks}.h5", "data.h5", "--dataset", "/inputs", "--tol", 0)
    check(p.returncode == 0, f"generate np{ranks} inputs equal np1: {p.stdout} {p.stderr}")
    for method in ["seq", "quasi-deer", "elk"]:
        ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o",
               f"{method}_np{ranks}.h5", "--method", method, "--quiet", ranks=ranks),
           f"run {method} np{ranks}")
        same(f"{method}_np{ranks}.h5", f"{method}.h5", 1e-5, f"{method} np{ranks} vs np1")

# T smaller than the number of ranks: the last rank owns no time steps.
ok(run("generate", "--hidden", 3, "--length", 2, "--batch", 2, "-o", "tiny.h5", ranks=3),
   "generate T=2 np3")
ok(run("run", "--model", "tiny.h5", "--input", "tiny.h5", "-o", "tiny_seq.h5", "--method", "seq",
       "--quiet"), "tiny seq")
for method in ["quasi-deer", "elk"]:
    ok(run("run", "--model", "tiny.h5", "--input", "tiny.h5", "-o", f"tiny_{method}.h5",
           "--method", method, "--quiet", ranks=3), f"tiny {method} np3")
    same(f"tiny_{method}.h5", "tiny_seq.h5", 1e-4, f"tiny {method} np3 vs seq")

# --- checkpoint and restart equal an uninterrupted run ------------------------------------
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "full.h5", "--method",
       "quasi-elk", "--max-iter", 40, "--quiet"), "uninterrupted")
p = run("run", "--model", "data.h5", "--input", "data.h5", "-o", "part.h5", "--method",
        "quasi-elk", "--max-iter", 5, "--checkpoint", "ck.h5", "--checkpoint-every", 2, "--quiet")
check(p.returncode == 3, f"capped run exits 3, got {p.returncode}")
check(os.path.exists(os.path.join(WORK, "ck.h5")), "checkpoint written")
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "resumed.h5", "--method",
       "quasi-elk", "--max-iter", 40, "--restart", "ck.h5", "--quiet"), "restart")
same("resumed.h5", "full.h5", 0.0, "restart equals uninterrupted")
p = run("run", "--model", "data.h5", "--input", "data.h5", "-o", "resumed2.h5", "--method",
        "quasi-elk", "--max-iter", 40, "--restart", "ck.h5", "--quiet", ranks=2)
ok(p, "restart under 2 ranks")
same("resumed2.h5", "full.h5", 1e-5, "restart np2 equals uninterrupted")
check(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "x.h5", "--method", "deer",
          "--restart", "ck.h5").returncode == 2, "restart with another method is refused")

# --- progress on stderr, --quiet silences it -----------------------------------------------
p = run("run", "--model", "data.h5", "--input", "data.h5", "-o", "progress.h5", "--method",
        "quasi-deer")
check("iteration 1:" in p.stderr and "residual" in p.stderr, "progress on stderr")

# --- bad input: one line naming the file, exit 2, no output, nothing clobbered ------------
with open(os.path.join(WORK, "precious.h5"), "w") as f:
    f.write("keep me")
bad_cases = [
    (["--model", "missing.h5", "--input", "data.h5"], "missing.h5"),
    (["--model", "not_hdf5.h5", "--input", "data.h5"], "not an HDF5 file"),
    (["--model", "data.h5", "--input", "truncated.h5"], "truncated.h5"),
    (["--model", "data.h5", "--input", "no_inputs.h5"], "'/inputs'"),
    (["--model", "no_model.h5", "--input", "data.h5"], "/model"),
    (["--model", "recipe.h5", "--input", "inputs_rank2.h5"], "expected (batch, time, input_size)"),
    (["--model", "recipe.h5", "--input", "inputs_wrong_size.h5"], "expects 3"),
    (["--model", "recipe.h5", "--input", "inputs_int.h5"], "unsupported dtype int32"),
    (["--model", "recipe.h5", "--input", "inputs_nan.h5"], "NaN or Inf (first at batch 1, time 4)"),
    (["--model", "recipe.h5", "--input", "inputs_inf.h5"], "NaN or Inf"),
    (["--model", "unknown_cell.h5", "--input", "recipe.h5"], "unknown cell type 'lstm'"),
    (["--model", "model_missing_dataset.h5", "--input", "recipe.h5"], "recurrent_bias"),
    (["--model", "model_wrong_shape.h5", "--input", "recipe.h5"], "has shape (3, 2, 3)"),
    (["--model", "recipe.h5", "--input", "zero_length.h5"], "T = 0"),
    (["--model", "data.h5", "--input", "data.h5", "--method", "newton"], "--method"),
    (["--model", "data.h5", "--input", "data.h5", "--frobnicate"], "--frobnicate"),
    (["--model", "data.h5", "--input", "data.h5", "--init", "file"], "--init-file"),
    (["--model", "data.h5", "--input", "data.h5", "--tol", "-1"], "--tol"),
    (["--model", "data.h5", "--input", "data.h5", "--restart", "data.h5"], "checkpoint"),
    (["--model", "data.h5", "--input", "data.h5", "--init", "file", "--init-file",
      "recipe_expected.h5"], "/states"),
]
for args, needle in bad_cases:
    for ranks in [1, 2]:
        if ranks == 2 and "inputs_nan.h5" not in args and "truncated.h5" not in args:
            continue
        p = run("run", *args, "-o", "precious.h5", "--force", ranks=ranks)
        what = f"bad input {args} np{ranks}"
        check(p.returncode == 2, f"{what}: exit {p.returncode} ({p.stderr.strip()})")
        # Under mpirun, mpirun adds its own report after ours.
        lines = [l for l in p.stderr.splitlines() if l.startswith("ungulate")]
        check(len(lines) == 1, f"{what}: one line on stderr, got {lines}")
        if ranks == 1:
            check(len(p.stderr.strip().splitlines()) == 1, f"{what}: only one line")
        check(needle in p.stderr, f"{what}: message {p.stderr.strip()!r} lacks {needle!r}")
        with open(os.path.join(WORK, "precious.h5")) as f:
            check(f.read() == "keep me", f"{what}: existing output clobbered")
check(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "precious.h5").returncode == 2,
      "existing output refused without --force")
leftovers = [f for f in os.listdir(WORK) if ".partial-" in f]
check(not leftovers, f"no partial outputs left behind: {leftovers}")
check(run("inspect", "not_hdf5.h5").returncode == 2, "inspect of a non-HDF5 file exits 2")
check(run("inspect", "missing.h5").returncode == 2, "inspect of a missing file exits 2")

print(f"{len(failures)} failed" if failures else "all file-command checks passed")
sys.exit(1 if failures else 0)
