#!/usr/bin/env python3
"""End-to-end tests of `ungulate generate | run | inspect | compare` (HDF5 files).

usage: test_file_commands.py UNGULATE MAKE_FIXTURES MPIEXEC WORKDIR
"""
import hashlib
import os
import shutil
import signal
import socket
import stat
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


def digest(name):
    with open(os.path.join(WORK, name), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(args, needle, what, timeout=20):
    try:
        p = run(*args, timeout=timeout)
    except subprocess.TimeoutExpired:
        check(False, f"{what}: hangs")
        return
    check(p.returncode == 2, f"{what}: exit {p.returncode} ({p.stderr.strip()})")
    check(needle in p.stderr, f"{what}: message {p.stderr.strip()!r} lacks {needle!r}")
    check(len(p.stderr.strip().splitlines()) == 1, f"{what}: one line, got {p.stderr!r}")


def partials():
    return [f for f in os.listdir(WORK) if f.endswith(".partial")]


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

# --- the LSTM and Lorenz-96 recipes (their schemas' stability) -----------------------------
for cell, shape in [("lstm", "(2, 5, 4)"), ("lorenz96", "(2, 5, 5)")]:
    for method in ["seq", "quasi-deer", "deer", "elk", "quasi-elk"]:
        # Converged means a residual within 1e-7 / 1e-4; the error may be a few times that.
        for precision, tol in [("--double", 1e-6), ("", 3e-4)]:  # float64, float32
            out = f"recipe_{cell}_{method}{precision}.h5"
            p = run("run", "--model", f"recipe_{cell}.h5", "--input", f"recipe_{cell}.h5", "-o",
                    out, "--method", method, *([precision] if precision else []), "--quiet")
            ok(p, f"recipe {cell} {method} {precision}")
            same(out, f"recipe_{cell}_expected.h5", tol, f"recipe {cell} {method} vs expected")
    p = run("inspect", f"recipe_{cell}_deer--double.h5")
    ok(p, f"inspect {cell} output")
    check(f"states  float64 {shape}" in p.stdout, f"inspect {cell} output shows the states")
p = run("inspect", "recipe_lorenz96.h5")
ok(p, "inspect lorenz96 model")
for needle in ["model (lorenz96, N 5)", "@N = 5", "@F = 8", "@dt = 0.02"]:
    check(needle in p.stdout, f"inspect lorenz96 model shows {needle!r}: {p.stdout[:400]!r}")

# --- generate --cell lstm | lorenz96 -> run (each method, float and double, 1-3 ranks) -----
new_cells = [("lstm", ["--hidden", 5, "--input-size", 3, "--length", 203]),
             ("lorenz96", ["--hidden", 8, "--length", 150, "--dt", 0.01, "--forcing", 8,
                           "--input-scale", 0.5])]
for cell, opts in new_cells:
    ok(run("generate", "--cell", cell, *opts, "--batch", 2, "--seed", 7, "-o", f"{cell}.h5"),
       f"generate {cell}")
    p = run("inspect", f"{cell}.h5")
    ok(p, f"inspect {cell}")
    check(f"model ({cell}" in p.stdout, f"inspect shows the {cell} model: {p.stdout[:300]!r}")
    for precision in ["--double", ""]:  # float64, float32
        flags = [precision, "--quiet"] if precision else ["--quiet"]
        base = f"{cell}_seq{precision}.h5"
        ok(run("run", "--model", f"{cell}.h5", "--input", f"{cell}.h5", "-o", base, "--method",
               "seq", *flags), f"run {cell} seq {precision}")
        for method in ["quasi-deer", "deer", "elk", "quasi-elk"]:
            out = f"{cell}_{method}{precision}.h5"
            ok(run("run", "--model", f"{cell}.h5", "--input", f"{cell}.h5", "-o", out,
                   "--method", method, *flags), f"run {cell} {method} {precision}")
            # ok() means converged: residual within tol (1e-7 double, 1e-4 float).  Lorenz-96
            # is chaotic (LLE ~ +0.02 a step): over 150 steps an error of tol grows ~30x, so
            # its error against sequential is bounded by that, not by tol.
            bound = (1e-6 if precision == "--double" else 1e-3) * (50 if cell == "lorenz96" else 1)
            same(out, base, bound, f"{cell} {method} {precision} vs seq")
    for ranks in [2, 3]:
        ok(run("generate", "--cell", cell, *opts, "--batch", 2, "--seed", 7, "-o",
               f"{cell}_np{ranks}.h5", ranks=ranks), f"generate {cell} np{ranks}")
        for dataset in ["/inputs"] + (["/model/weight_hh"] if cell == "lstm" else []):
            p = run("compare", f"{cell}_np{ranks}.h5", f"{cell}.h5", "--dataset", dataset,
                    "--tol", 0)
            check(p.returncode == 0, f"generate {cell} np{ranks} {dataset} equals np1: "
                  f"{p.stdout} {p.stderr}")
        for method in ["seq", "quasi-deer", "deer", "elk", "quasi-elk"]:
            out = f"{cell}_{method}_np{ranks}.h5"
            ok(run("run", "--model", f"{cell}.h5", "--input", f"{cell}.h5", "-o", out,
                   "--method", method, "--double", "--quiet", ranks=ranks),
               f"run {cell} {method} np{ranks}")
            same(out, f"{cell}_seq--double.h5", 1e-6 * (50 if cell == "lorenz96" else 1),
                 f"{cell} {method} np{ranks} vs seq")
p = run("inspect", "lstm_seq--double.h5")
check("states  float64 (2, 203, 10)" in p.stdout, f"LSTM states hold (h, c): {p.stdout[:400]!r}")
for args, needle in [
        (["generate", "--cell", "rnn", "-o", "g.h5"], "--cell must be gru, lstm or lorenz96"),
        (["generate", "--forcing", 4, "-o", "g.h5"], "--forcing and --dt are Lorenz-96"),
        (["generate", "--cell", "lorenz96", "--hidden", 6, "--input-size", 3, "-o", "g.h5"],
         "input size is its --hidden"),
        (["generate", "--cell", "lorenz96", "--dt", -1, "-o", "g.h5"], "--dt must be"),
        (["generate", "--cell", "lstm", "--input-scale", -1, "-o", "g.h5"], "--input-scale")]:
    refused(args, needle, " ".join(map(str, args)))

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
    # Converged means a residual within tol (1e-4); the error is that times the recurrence's
    # gain over the two steps.
    same(f"tiny_{method}.h5", "tiny_seq.h5", 3e-4, f"tiny {method} np3 vs seq")

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

# --- --repeat: solves again in the process (one workspace), the same answer ----------------
p = run("run", "--model", "data.h5", "--input", "data.h5", "-o", "repeat.h5", "--method",
        "quasi-elk", "--elk-estimate", "smoother", "--repeat", 3, "--quiet")
ok(p, "run --repeat 3")
check("3 solves: first" in p.stdout, f"--repeat reports every solve: {p.stdout!r}")
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "once.h5", "--method",
       "quasi-elk", "--elk-estimate", "smoother", "--quiet"), "run once")
same("repeat.h5", "once.h5", 0.0, "--repeat equals one solve")
p = run("inspect", "repeat.h5")
check("solve_seconds" in p.stdout and "(3)" in p.stdout, f"/solve_seconds (3): {p.stdout}")
ok(run("run", "--model", "data.h5", "--input", "data.h5", "-o", "repeat_np2.h5", "--method",
       "quasi-deer", "--repeat", 2, "--quiet", ranks=2), "run --repeat 2 np2")
same("repeat_np2.h5", "quasi-deer.h5", 1e-5, "--repeat np2 vs np1")
refused(["generate", "--length", 2000000000, "--batch", 100000, "-o", "huge.h5"],
        "more than this machine's", "generate beyond memory")
check(not os.path.exists(os.path.join(WORK, "huge.h5")), "no output of a refused generate")
refused(["run", "--model", "data.h5", "--input", "data.h5", "-o", "x.h5", "--repeat", 0],
        "--repeat must be in [1, 1000]", "--repeat 0")
refused(["run", "--model", "data.h5", "--input", "data.h5", "-o", "x.h5", "--repeat", 2,
         "--init", "file", "--init-file", "seq.h5"], "--repeat needs a solve that starts afresh",
        "--repeat with --init file")

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
    (["--model", "unknown_cell.h5", "--input", "recipe.h5"],
     "unknown cell type 'transformer' in '/model' (supported: gru, lstm, lorenz96)"),
    (["--model", "lstm_missing_bias.h5", "--input", "recipe.h5"],
     "missing dataset '/model/bias_hh'"),
    (["--model", "lstm_wrong_shape.h5", "--input", "recipe.h5"],
     "'/model/weight_hh' has shape (6, 2), expected (4 * hidden, hidden)"),
    (["--model", "lstm_huge.h5", "--input", "recipe.h5"],
     "has shape (4194304, 1048576): sizes above 65536 are not supported"),
    (["--model", "lstm_int.h5", "--input", "recipe.h5"],
     "'/model/bias_ih' has unsupported dtype int32"),
    (["--model", "lstm_nan.h5", "--input", "recipe.h5"], "'/model/weight_hh' contains NaN"),
    (["--model", "lstm_gru_datasets.h5", "--input", "recipe.h5"],
     "missing dataset '/model/weight_hh'"),
    (["--model", "recipe_lstm.h5", "--input", "recipe_lorenz96.h5"], "expects 3"),
    (["--model", "lorenz96_no_N.h5", "--input", "recipe_lorenz96.h5"], "no attribute 'N'"),
    (["--model", "lorenz96_no_F.h5", "--input", "recipe_lorenz96.h5"], "no attribute 'F'"),
    (["--model", "lorenz96_no_dt.h5", "--input", "recipe_lorenz96.h5"], "no attribute 'dt'"),
    (["--model", "lorenz96_bad_0.h5", "--input", "recipe_lorenz96.h5"],
     "attribute 'N' on '/model' is 0, expected a number of variables in [1, 65536]"),
    (["--model", "lorenz96_bad_1.h5", "--input", "recipe_lorenz96.h5"], "'N' on '/model' is -3"),
    (["--model", "lorenz96_bad_2.h5", "--input", "recipe_lorenz96.h5"],
     "'N' on '/model' is 1000000000000"),
    (["--model", "lorenz96_bad_3.h5", "--input", "recipe_lorenz96.h5"], "'F' on '/model' is not finite"),
    (["--model", "lorenz96_bad_4.h5", "--input", "recipe_lorenz96.h5"], "'dt' on '/model' is -0.01"),
    (["--model", "lorenz96_bad_5.h5", "--input", "recipe_lorenz96.h5"], "'dt' on '/model' is inf"),
    (["--model", "lorenz96_bad_6.h5", "--input", "recipe_lorenz96.h5"], "'dt' on '/model' is 0"),
    (["--model", "lorenz96_string_n.h5", "--input", "recipe_lorenz96.h5"],
     "attribute 'N' on '/model' is not an integer"),
    (["--model", "lorenz96_float_n.h5", "--input", "recipe_lorenz96.h5"],
     "attribute 'N' on '/model' is not an integer"),
    (["--model", "lorenz96_inputs_wrong_size.h5", "--input", "lorenz96_inputs_wrong_size.h5"],
     "has input size 3, but the lorenz96 model in lorenz96_inputs_wrong_size.h5 expects 5"),
    (["--model", "recipe_lstm.h5", "--input", "recipe.h5"],
     "'/initial_state' has shape (2, 2), expected (2, 4)"),
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
leftovers = [f for f in os.listdir(WORK) if f.endswith(".partial")]
check(not leftovers, f"no partial outputs left behind: {leftovers}")

# --- attributes and links as other writers make them (h5py, netCDF, corrupt files) ----------
# 16: every string flavour of the 'cell' attribute; a UTF-8 attribute in inspect.
for flavour in ["vlen_utf8", "vlen_ascii", "fixed_nullpad", "fixed_nullpad_padded",
                "fixed_spacepad", "fixed_utf8_nullterm"]:
    name = f"cell_{flavour}.h5"
    ok(run("run", "--model", name, "--input", name, "-o", f"out_{name}", "--double", "--quiet"),
       f"model with a {flavour} 'cell' attribute")
    same(f"out_{name}", "recipe_expected.h5", 1e-6, f"{flavour} model vs expected")
    p = run("inspect", name)
    ok(p, f"inspect {flavour}")
    check('@cell = "gru"' in p.stdout and '"\u03bb = 0.01"' in p.stdout,
          f"inspect {flavour} shows the strings: {p.stdout[:300]!r}")
# 8: array-valued attributes where one value is read: exit 2, one line naming the file.
refused(["run", "--model", "cell_array.h5", "--input", "recipe.h5", "-o", "o8.h5"],
        "cell_array.h5: attribute 'cell' on '/model' holds 2 values", "array 'cell'")
refused(["inspect", "cell_array.h5"], "holds 2 values", "inspect array 'cell'")
for which in ["method", "iterations"]:
    refused(["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o8.h5",
             "--restart", f"ck_{which}_array.h5"],
            f"ck_{which}_array.h5: attribute '{which}' on '/' holds", f"restart: array '{which}'")
for which in ["method", "iterations", "status"]:
    refused(["inspect", f"ck_{which}_array.h5"], f"attribute '{which}' on '/' holds 3 values",
            f"inspect array '{which}'")
# 10, 16: inspect shows soft and external links without following them; lists a group reached
# by a hard-link cycle once; refuses absurd nesting.
p = run("inspect", "links.h5", timeout=20)
ok(p, "inspect links.h5")
for needle in ["dangling -> /nowhere  (soft link, dangling)", "model_alias -> /model  (soft link)",
               "external -> other.h5:/x  (external link, not followed)",
               "loop/  (group, listed above", "root/  (group, listed above"]:
    check(needle in p.stdout, f"inspect links.h5 shows {needle!r}: {p.stdout!r}")
refused(["inspect", "deep.h5"], "deep.h5: groups nested deeper than 64 levels", "inspect deep.h5")
# Found by fuzzing: an attribute table HDF5 cannot list is an error, not a shorter listing.
refused(["inspect", "attr_corrupt.h5"], "attr_corrupt.h5: cannot list the attributes of '/'",
        "inspect attr_corrupt.h5")

# 17: initial iterates must be finite; restart logs and counts are validated.
refused(["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o17.h5", "--init", "file",
         "--init-file", "states_nan.h5"], "states_nan.h5: dataset '/states' contains NaN",
        "NaN in --init-file")
for name, needle in [("ck_nan.h5", "ck_nan.h5: dataset '/states' contains NaN"),
                     ("ck_negative.h5", "ck_negative.h5: attribute 'iterations' on '/' is -5"),
                     ("ck_absurd.h5", "ck_absurd.h5: attribute 'iterations' on '/' is 1000000000000"),
                     ("ck_scalar_log.h5", "ck_scalar_log.h5: dataset '/convergence/iteration' has shape ()")]:
    refused(["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o17.h5",
             "--restart", name], needle, f"restart from {name}")

# 9: absurd declared sizes are refused before allocating, naming the size.
for name, needle in [("inputs_huge_length.h5", "(1, 4294967296, 3): batch and time sizes above"),
                     ("inputs_huge_batch.h5", "(4294967296, 2, 3): batch and time sizes above"),
                     ("inputs_huge_memory.h5", "GiB per rank for inputs and states")]:
    refused(["run", "--model", "recipe.h5", "--input", name, "-o", "o9.h5"],
            f"{name}: dataset '/inputs'", f"huge {name}")
    refused(["run", "--model", "recipe.h5", "--input", name, "-o", "o9.h5"], needle,
            f"huge {name} message")
# 13, 14, 18: option values.
for args, needle in [
        (["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o18.h5",
          "--kokkos-threads=abc"], "invalid Kokkos option: --kokkos-threads=abc"),
        (["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o18.h5", "--max-iter", 0],
         "--max-iter must be in [1, "),
        (["compare", "recipe.h5", "recipe_expected.h5", "--tol", -1], "--tol must be >= 0"),
        (["compare", "recipe.h5", "recipe_expected.h5", "--tol", "nan"], "--tol"),
        (["generate", "--length", 3000000000, "-o", "o18.h5"],
         "--length must be in [1, 2147483647]"),
        (["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o18.h5", "--lambda",
          "1e-320"], "--lambda must be 0 or a normal number"),
        (["run", "--model", "recipe.h5", "--input", "recipe.h5", "-o", "o18.h5", "--tol",
          "1e400"], "--tol is out of range")]:
    refused(args, needle, " ".join(map(str, args[:1] + args[-2:])))

# --- file safety (docs/safety.md) ------------------------------------------------------------
shutil.copy(os.path.join(WORK, "data.h5"), os.path.join(WORK, "a.h5"))
a_digest = digest("a.h5")
ab = ["run", "--model", "a.h5", "--input", "a.h5", "--method", "quasi-elk", "--quiet"]
# 1: a checkpoint obeys the output rules (never an input, never replaced without --force).
refused([*ab, "-o", "o1.h5", "--checkpoint", "./a.h5", "--checkpoint-every", 2],
        "is the input", "checkpoint ./a.h5 over the input")
refused([*ab, "-o", "o1.h5", "--checkpoint", "a.h5", "--force"], "is the input",
        "checkpoint over the input with --force")
refused([*ab, "-o", "o1.h5", "--checkpoint", "precious.h5"], "exists",
        "checkpoint over an existing file without --force")
# 2: same file by device and inode, whatever the spelling; also output == checkpoint.
os.link(os.path.join(WORK, "a.h5"), os.path.join(WORK, "a_hardlink.h5"))
for spelling in ["./a.h5", os.path.join(WORK, "a.h5"), "a_hardlink.h5", "../work/a.h5"]:
    refused([*ab, "-o", spelling, "--force"], "is the input", f"-o {spelling} --force")
refused([*ab, "-o", "same.h5", "--checkpoint", "./same.h5"], "are the same file",
        "output and checkpoint the same file")
# 3: an existing output is found with lstat: a dangling symlink (or an unreadable file) exists.
os.symlink("nowhere.h5", os.path.join(WORK, "dangling.h5"))
refused([*ab, "-o", "dangling.h5"], "symbolic link", "dangling symlink output without --force")
check(os.path.islink(os.path.join(WORK, "dangling.h5")), "dangling symlink kept")
# 5, 11: --force replaces regular files only; FIFOs neither block nor get replaced.
os.symlink("precious.h5", os.path.join(WORK, "link_to_precious.h5"))
refused([*ab, "-o", "link_to_precious.h5", "--force"], "symbolic link", "symlink output --force")
os.mkfifo(os.path.join(WORK, "fifo.h5"))
refused([*ab, "-o", "fifo.h5", "--force"], "not a regular file", "FIFO output --force")
refused(["run", "--model", "fifo.h5", "--input", "a.h5", "-o", "o2.h5"], "not a regular file",
        "FIFO model")
refused(["run", "--model", "a.h5", "--input", "fifo.h5", "-o", "o2.h5"], "not a regular file",
        "FIFO input")
refused(["inspect", "fifo.h5"], "not a regular file", "inspect FIFO")
refused(["compare", "a.h5", "fifo.h5"], "not a regular file", "compare FIFO")
refused(["generate", "--length", 5, "-o", "fifo.h5", "--force"], "not a regular file",
        "generate over a FIFO")
check(stat.S_ISFIFO(os.stat(os.path.join(WORK, "fifo.h5")).st_mode), "FIFO kept")
check(digest("a.h5") == a_digest, "the input a.h5 is unchanged by the refused runs")
# 12: long names: a 253-character output works (the temporary name is short); longer names
# and absurd paths are refused before the solve.
long_name = "L" * 250 + ".h5"
ok(run(*ab, "-o", long_name), "253-character output name")
check(os.path.exists(os.path.join(WORK, long_name)), "253-character output written")
refused([*ab, "-o", "L" * 300 + ".h5"], "too long", "300-character output name")
refused([*ab, "-o", "x" * 100000], "too long", "100k-character output name")
refused(["run", "--model", "m" * 100000, "--input", "a.h5", "-o", "o3.h5"], "too long",
        "100k-character model name")
# 15: a missing output directory is reported before the solve, naming the user's path.
p = run(*ab, "--max-iter", 1000, "-o", "no_such_dir/out.h5")
check(p.returncode == 2 and "no_such_dir/out.h5" in p.stderr and ".partial" not in p.stderr,
      f"missing output directory: {p.returncode} {p.stderr.strip()!r}")
os.makedirs(os.path.join(WORK, "readonly"), exist_ok=True)
if os.geteuid() != 0:
    os.chmod(os.path.join(WORK, "readonly"), 0o555)
    refused([*ab, "-o", "readonly/out.h5"], "readonly/out.h5", "unwritable output directory")
    os.chmod(os.path.join(WORK, "readonly"), 0o755)
    with open(os.path.join(WORK, "unreadable.h5"), "w") as f:
        f.write("x")
    os.chmod(os.path.join(WORK, "unreadable.h5"), 0)
    refused([*ab, "-o", "unreadable.h5"], "exists", "unreadable output without --force")
# 6: the stop signals (Ctrl-C, kill, a closed terminal, a batch system's limit) remove the
# temporary outputs and the process dies of the signal. ELK with a huge trust-region weight
# crawls (without the fallback, which would restart it warm and converge in milliseconds):
# the run is still iterating when the signal arrives.
crawl = [EXE, *ab[:-1], "-o", "killed.h5", "--method", "elk", "--lambda", "1e9", "--tol",
         "1e-30", "--max-iter", "1000000000", "--no-fallback", "--checkpoint", "killed_ck.h5",
         "--checkpoint-every", "1000000"]


def stop_with(proc, sig):
    """Sends sig and returns the exit status (killed after 10 s: a run that ignored it)."""
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    proc.stderr.close()
    return rc


for sig in [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGXCPU]:
    proc = subprocess.Popen(crawl, cwd=WORK, stderr=subprocess.PIPE, text=True)
    proc.stderr.readline()  # "iteration 1: ...": the temporary files exist
    check(len(partials()) == 2, f"{sig.name}: temporary files while running: {partials()}")
    rc = stop_with(proc, sig)
    check(rc == -sig, f"{sig.name}: process dies of the signal, got {rc}")
    check(not partials(), f"{sig.name}: no temporary files left: {partials()}")
    check(not os.path.exists(os.path.join(WORK, "killed.h5")), f"{sig.name}: no output")
# 6: a signal ignored at start (nohup) stays ignored: SIGHUP neither stops the run nor
# removes its files; SIGTERM still does.
proc = subprocess.Popen(crawl, cwd=WORK, stderr=subprocess.PIPE, text=True,
                        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
proc.stderr.readline()
proc.send_signal(signal.SIGHUP)
try:
    rc = proc.wait(timeout=2)
except subprocess.TimeoutExpired:
    rc = None
check(rc is None, f"ignored SIGHUP: the run goes on, got exit {rc}")
check(len(partials()) == 2, f"ignored SIGHUP: temporary files kept: {partials()}")
rc = stop_with(proc, signal.SIGTERM)
check(rc == -signal.SIGTERM, f"SIGTERM after an ignored SIGHUP: dies of it, got {rc}")
check(not partials(), f"SIGTERM after an ignored SIGHUP: no temporary files: {partials()}")
# 6: a temporary file of a process of this host that no longer exists (kill -9) is removed by
# the next run into that directory; one of a live process is kept.
dead = subprocess.Popen(["true"])
dead.wait()
host = socket.gethostname()
stale = f".ungulate-{host}-{dead.pid}-0.partial"
live = f".ungulate-{host}-{os.getpid()}-0.partial"
for name in [stale, live]:
    open(os.path.join(WORK, name), "w").close()
ok(run(*ab, "-o", "after_kill.h5"), "run after a killed run")
check(not os.path.exists(os.path.join(WORK, stale)), "stale temporary file removed")
check(os.path.exists(os.path.join(WORK, live)), "temporary file of a live process kept")
os.remove(os.path.join(WORK, live))
check(run("inspect", "not_hdf5.h5").returncode == 2, "inspect of a non-HDF5 file exits 2")
check(run("inspect", "missing.h5").returncode == 2, "inspect of a missing file exits 2")

print(f"{len(failures)} failed" if failures else "all file-command checks passed")
sys.exit(1 if failures else 0)
