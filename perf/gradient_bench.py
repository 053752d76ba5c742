#!/usr/bin/env python3
"""Gradients of the benchmark GRU: `ungulate grad` (reverse adjoint scan) against jax.grad
through jax.lax.scan of the same GRU (perf/baselines.py's), on the same HDF5 data.

The loss is L = sum_{b,t,i} C[b,t,i] s[b,t,i] with a random cotangent C, so dL/ds_t = C_t
and `ungulate grad` and jax.grad compute the same thing.  jax.grad runs the forward lax.scan
too, so for each ungulate configuration both the gradient alone (trajectory given) and
forward (sequential `ungulate run`) + gradient are reported.  One JSON object:
  ungulate        per configuration (serial: --exe, 1 thread; omp-1 / omp-2: --omp-exe with
                  1 / 2 OpenMP threads; ranks-2: --exe under mpirun -np 2): gradient seconds
                  (library time, median), forward seconds (median), gradient peak memory
  deer_iteration  seconds per DEER iteration on the same data (--exe, for scale)
  jax_grad        median seconds of the jitted gradient (compiled and warmed up first), peak
                  memory of its process
  agreement       max |ungulate - jax| / max |jax| of every gradient (float32 both)

  perf/.venv/bin/python perf/gradient_bench.py --length 10000 --batch 16 --hidden 16 \
      --omp-exe build-omp/apps/ungulate
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import find_exe, mpi_prefix, peak_mb_of  # noqa: E402

NAMES = ["input_kernel", "recurrent_kernel", "input_bias", "recurrent_bias"]


def jax_worker(data, cotangent, out, repeats):
    """Runs in its own process (so that its peak memory is its own)."""
    import time

    import jax
    import jax.numpy as jnp
    from jax import lax

    from baselines import jax_gru, load

    w, x, s0 = load(data)
    with h5py.File(cotangent, "r") as f:
        c = np.asarray(f["cotangent"], dtype=np.float32)

    def loss(params, xs, s0s, cs):
        project_inputs, cell = jax_gru(params)

        def one(xseq, h0):
            step = lambda h, xt: (lambda hn: (hn, hn))(cell(h, xt))  # noqa: E731
            return lax.scan(step, h0, project_inputs(xseq))[1]

        return jnp.sum(jax.vmap(one)(xs, s0s) * cs)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    args = ({k: jnp.asarray(v) for k, v in w.items()}, jnp.asarray(x), jnp.asarray(s0),
            jnp.asarray(c))
    t0 = time.perf_counter()
    jax.block_until_ready(grad(*args))
    compile_seconds = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        g = jax.block_until_ready(grad(*args))
        times.append(time.perf_counter() - t0)
    gw, gx, gs0 = g
    with h5py.File(out, "w") as f:
        f["grad/inputs"] = np.asarray(gx)
        f["grad/initial_state"] = np.asarray(gs0)
        for k in NAMES:
            f[f"grad/model/{k}"] = np.asarray(gw[k])
    print(json.dumps({"seconds": float(np.median(times)), "compile_seconds": compile_seconds,
                      "jax_version": jax.__version__}))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exe", help="ungulate program (default build/apps/ungulate)")
    ap.add_argument("--omp-exe", help="an ungulate program built on OpenMP Kokkos (adds the "
                    "omp-1 and omp-2 configurations)")
    ap.add_argument("--no-ranks", action="store_true", help="skip the 2-rank configuration")
    ap.add_argument("--workdir", help="where the HDF5 files go (default: a temporary folder)")
    ap.add_argument("--jax-worker", nargs=3, metavar=("DATA", "COTANGENT", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.jax_worker:
        return jax_worker(*args.jax_worker, args.repeats)

    exe = find_exe(args.exe)
    work = args.workdir or tempfile.mkdtemp(prefix="ungulate-grad-")
    os.makedirs(work, exist_ok=True)
    data, cot = os.path.join(work, "data.h5"), os.path.join(work, "cotangent.h5")
    states, deer = os.path.join(work, "states.h5"), os.path.join(work, "deer.h5")
    ours, theirs = os.path.join(work, "grad.h5"), os.path.join(work, "grad_jax.h5")
    B, T, H = args.batch, args.length, args.hidden
    subprocess.run([exe, "generate", "--cell", "gru", "--hidden", str(H), "--length", str(T),
                    "--batch", str(B), "--seed", str(args.seed), "-o", data, "--force"],
                   check=True, capture_output=True)
    rng = np.random.default_rng(args.seed + 1)
    with h5py.File(cot, "w") as f:
        f["cotangent"] = rng.standard_normal((B, T, H)).astype(np.float32)
    subprocess.run([exe, "run", "--model", data, "--input", data, "-o", states, "--method",
                    "seq", "--quiet", "--force"], check=True, capture_output=True)

    # Each configuration: the gradient with the trajectory given (library time, median, and
    # the process' peak memory), and the forward sequential pass (library time, median).
    def env_with(**extra):
        env = dict(os.environ)
        env.update(extra)
        return env

    configs = [("serial", [], exe, env_with())]
    if args.omp_exe:
        configs += [("omp-1", [], args.omp_exe, env_with(OMP_NUM_THREADS="1")),
                    ("omp-2", [], args.omp_exe,
                     env_with(OMP_NUM_THREADS="2", OMP_PROC_BIND="spread", OMP_PLACES="threads"))]
    if not args.no_ranks:
        configs.append(("ranks-2", mpi_prefix(2), exe, env_with()))
    forward = os.path.join(work, "forward.h5")
    ungulate = {}
    for name, prefix, program, env in configs:
        runs, forwards = [], []
        for _ in range(args.repeats):
            out, peak = peak_mb_of(prefix + [program, "grad", "--model", data, "--input", data,
                                           "--cotangent", cot, "--states", states, "-o", ours,
                                           "--force"], env)
            with h5py.File(ours, "r") as f:
                runs.append((float(f.attrs["seconds"]), peak))
            subprocess.run(prefix + [program, "run", "--model", data, "--input", data, "-o",
                                     forward, "--method", "seq", "--quiet", "--force"],
                           check=True, capture_output=True, env=env)
            with h5py.File(forward, "r") as f:
                forwards.append(float(f.attrs["seconds"]))
        runs.sort()
        forwards.sort()
        g, peak = runs[len(runs) // 2]
        fwd = forwards[len(forwards) // 2]
        ungulate[name] = {"grad_seconds": g, "forward_seconds": fwd,
                          "forward_plus_grad_seconds": g + fwd, "grad_maxrss_mb": peak}
    # The agreement check below reads the last configuration's output: write the serial one.
    peak_mb_of([exe, "grad", "--model", data, "--input", data, "--cotangent", cot, "--states",
              states, "-o", ours, "--force"])

    # One DEER iteration on the same data (two iterations, the second timed by the log).
    p = subprocess.run([exe, "run", "--model", data, "--input", data, "-o", deer, "--method",
                        "deer", "--max-iter", "2", "--quiet", "--force"], capture_output=True,
                       text=True)
    with h5py.File(deer, "r") as f:
        log = np.asarray(f["convergence/seconds"])
    deer_iteration = float(log[-1] - log[-2]) if len(log) >= 2 else float(log[-1])

    out, jax_peak = peak_mb_of([sys.executable, os.path.abspath(__file__), "--repeats",
                              str(args.repeats), "--jax-worker", data, cot, theirs])
    jax_result = json.loads(out.strip().splitlines()[-1])

    agreement = {}
    with h5py.File(ours, "r") as a, h5py.File(theirs, "r") as b:
        for name in ["grad/inputs", "grad/initial_state"] + [f"grad/model/{k}" for k in NAMES]:
            u, j = np.asarray(a[name], np.float64), np.asarray(b[name], np.float64)
            agreement[name] = float(np.max(np.abs(u - j)) / max(np.max(np.abs(j)), 1e-300))

    print(json.dumps({
        "config": {"batch": B, "length": T, "hidden": H, "precision": "float32",
                   "repeats": args.repeats, "cpus": os.cpu_count()},
        "ungulate": ungulate,
        "deer_iteration": {"seconds": deer_iteration, "exit_code": p.returncode},
        "jax_grad": {"seconds": jax_result["seconds"],
                     "compile_seconds": jax_result["compile_seconds"], "maxrss_mb": jax_peak,
                     "jax_version": jax_result["jax_version"]},
        "agreement": agreement,
    }, indent=2))


if __name__ == "__main__":
    main()
