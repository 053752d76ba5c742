#!/usr/bin/env python3
"""The alternatives users compare ungulate with, on the very same HDF5 file.

  jax-scan        sequential GRU with jax.lax.scan, vmapped over the batch
  jax-quasi-deer  quasi-DEER from the paper's equations (Gonzalez et al. 2024): diagonal
                  Jacobian (analytic, not the full jacfwd), the linear recurrence
                  s_t = a_t * s_{t-1} + b_t by jax.lax.associative_scan, iterated until
                  max |s^(i+1) - s^(i)| <= tol (the paper's stopping rule), all under jit
  torch-gru       torch.nn.GRU (batch_first) with the file's weights, no_grad

Reads a file written by `ungulate generate` (schema: docs/hdf5.md), runs one baseline once
to compile/warm up and then --repeats times, and prints one JSON object: median seconds,
iterations, and the max abs difference from --reference (an `ungulate run` output) if given.
Peak memory is measured by the caller (perf/sweep.py, from the process' rusage).

  perf/.venv/bin/python perf/baselines.py jax-scan data.h5 --reference seq.h5
"""
import argparse
import json
import os
import statistics
import sys
import time

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r") as f:
        m = f["model"]
        w = {k: np.asarray(m[k], dtype=np.float32) for k in
             ("input_kernel", "recurrent_kernel", "input_bias", "recurrent_bias")}
        x = np.asarray(f["inputs"], dtype=np.float32)
        s0 = (np.asarray(f["initial_state"], dtype=np.float32) if "initial_state" in f
              else np.zeros((x.shape[0], w["recurrent_kernel"].shape[1]), np.float32))
    return w, x, s0


def timed(fn, repeats):
    fn()  # compile / warm up
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def jax_gru(w):
    """The GRU of every JAX baseline, from a dict of weights (numpy or traced JAX arrays, so
    that jax.grad can differentiate through it): (project_inputs, cell)."""
    import jax
    import jax.numpy as jnp

    Wi, Wh = jnp.asarray(w["input_kernel"]), jnp.asarray(w["recurrent_kernel"])
    bi, bh = jnp.asarray(w["input_bias"]), jnp.asarray(w["recurrent_bias"])

    def project_inputs(xs):  # (..., I) -> (..., 3, H): the input half of every gate
        return jnp.einsum("...i,ghi->...gh", xs, Wi) + bi

    def cell(h, xp):  # one GRU step from projected inputs; h (H,), xp (3, H)
        hp = Wh @ h + bh  # (3, H)
        r = jax.nn.sigmoid(xp[0] + hp[0])
        z = jax.nn.sigmoid(xp[1] + hp[1])
        n = jnp.tanh(xp[2] + r * hp[2])
        return (1 - z) * n + z * h

    return project_inputs, cell


def jax_baselines(name, w, x, s0, tol, max_iter, repeats):
    import jax
    import jax.numpy as jnp
    from jax import lax

    Wh, bh = jnp.asarray(w["recurrent_kernel"]), jnp.asarray(w["recurrent_bias"])
    wh_diag = jnp.stack([jnp.diagonal(Wh[g]) for g in range(3)])  # (3, H)
    project_inputs, cell = jax_gru(w)

    def cell_and_diagonal(h, xp):  # f(h) and diag(df/dh), analytically
        hp = Wh @ h + bh
        r = jax.nn.sigmoid(xp[0] + hp[0])
        z = jax.nn.sigmoid(xp[1] + hp[1])
        n = jnp.tanh(xp[2] + r * hp[2])
        dr = r * (1 - r) * wh_diag[0]
        dz = z * (1 - z) * wh_diag[1]
        dn = (1 - n * n) * (dr * hp[2] + r * wh_diag[2])
        return (1 - z) * n + z * h, (1 - z) * dn + (h - n) * dz + z

    xj, s0j = jnp.asarray(x), jnp.asarray(s0)

    if name == "jax-scan":
        @jax.jit
        def run(xs, s0s):
            def one(xseq, h0):
                step = lambda h, xt: (lambda hn: (hn, hn))(cell(h, xt))  # noqa: E731
                return lax.scan(step, h0, project_inputs(xseq))[1]
            return jax.vmap(one)(xs, s0s)

        secs, out = timed(lambda: run(xj, s0j).block_until_ready(), repeats)
        return secs, 1, np.asarray(out)

    # quasi-DEER on the whole batch: (B, T, H) iterates.
    def combine(left, right):  # compose affine maps, left earlier in time
        a1, b1 = left
        a2, b2 = right
        return a2 * a1, a2 * b1 + b2

    @jax.jit
    def solve(xs, s0s):
        xp = project_inputs(xs)  # (B, T, 3, H)
        step = jax.vmap(jax.vmap(cell_and_diagonal))  # over B, T

        def body(carry):
            s, _, it = carry
            prev = jnp.concatenate([s0s[:, None, :], s[:, :-1, :]], axis=1)
            fs, a = step(prev, xp)
            b = fs - a * prev
            b = b.at[:, 0, :].add(a[:, 0, :] * s0s)  # fold s0 into the first element
            a = a.at[:, 0, :].set(0)
            _, new = lax.associative_scan(combine, (a, b), axis=1)
            return new, jnp.max(jnp.abs(new - s)), it + 1

        def cond(carry):
            _, update, it = carry
            return (update > tol) & (it < max_iter)

        init = (jnp.zeros(xs.shape[:2] + (s0s.shape[-1],), xs.dtype), jnp.inf, 0)
        s, _, it = lax.while_loop(cond, body, init)
        return s, it

    def once():
        s, it = solve(xj, s0j)
        s.block_until_ready()
        return s, int(it)

    secs, (out, iterations) = timed(once, repeats)
    return secs, iterations, np.asarray(out)


def torch_gru(w, x, s0, repeats, threads):
    import torch

    if threads:
        torch.set_num_threads(threads)
    H, I = w["recurrent_kernel"].shape[1], w["input_kernel"].shape[2]
    gru = torch.nn.GRU(I, H, batch_first=True)
    with torch.no_grad():  # PyTorch stacks gates (r, z, n) exactly like the file
        gru.weight_ih_l0.copy_(torch.from_numpy(w["input_kernel"].reshape(3 * H, I)))
        gru.weight_hh_l0.copy_(torch.from_numpy(w["recurrent_kernel"].reshape(3 * H, H)))
        gru.bias_ih_l0.copy_(torch.from_numpy(w["input_bias"].reshape(3 * H)))
        gru.bias_hh_l0.copy_(torch.from_numpy(w["recurrent_bias"].reshape(3 * H)))
    xt, h0 = torch.from_numpy(x), torch.from_numpy(s0)[None]

    def run():
        with torch.no_grad():
            return gru(xt, h0)[0]

    secs, out = timed(run, repeats)
    return secs, 1, out.numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", choices=["jax-scan", "jax-quasi-deer", "torch-gru"])
    p.add_argument("data", help="model + inputs file (ungulate generate)")
    p.add_argument("--reference", help="an `ungulate run` output to compare /states with")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--max-iter", type=int, default=0, help="default: T")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = p.parse_args()
    if not os.path.isfile(args.data):
        sys.exit(f"baselines.py: no such file: {args.data}")
    w, x, s0 = load(args.data)
    if args.baseline == "torch-gru":
        secs, iterations, out = torch_gru(w, x, s0, args.repeats, args.threads)
    else:
        secs, iterations, out = jax_baselines(args.baseline, w, x, s0, args.tol,
                                              args.max_iter or x.shape[1], args.repeats)
    error = None
    if args.reference:
        with h5py.File(args.reference, "r") as f:
            error = float(np.max(np.abs(out - np.asarray(f["states"], np.float32))))
    print(json.dumps({"baseline": args.baseline, "seconds": secs, "iterations": iterations,
                      "max_abs_error_vs_sequential": error,
                      "finite": bool(np.isfinite(out).all())}))


if __name__ == "__main__":
    main()
