#!/usr/bin/env python3
"""Residual versus iteration (log scale), one line per output file of `ungulate run`.

  python3 perf/plot_convergence.py out_qd.h5 out_elk.h5 -o convergence.png

Needs h5py and matplotlib (pip install h5py matplotlib).
"""
import argparse
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help="outputs of `ungulate run` (or checkpoints)")
    p.add_argument("-o", "--output", default="convergence.png")
    p.add_argument("--update", action="store_true", help="also plot the update norm")
    args = p.parse_args()
    try:
        import h5py
        import matplotlib
    except ImportError as e:
        sys.exit(f"{e}: pip install h5py matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for path in args.files:
        with h5py.File(path, "r") as f:
            if "convergence" not in f:
                sys.exit(f"{path}: no /convergence group (not an ungulate run output)")
            it = f["convergence/iteration"][:]
            res = f["convergence/residual"][:]
            method = f.attrs.get("method", path)
            method = method.decode() if isinstance(method, bytes) else str(method)
            status = f.attrs.get("status", b"")
            status = status.decode() if isinstance(status, bytes) else str(status)
            label = f"{method} ({path}{', ' + status if status else ''})"
            ax.semilogy(it, res, "o-", ms=3, label=label)
            if args.update:
                ax.semilogy(it, f["convergence/update_norm"][:], "--", alpha=0.6,
                            label=f"{method} update norm")
    ax.set_xlabel("iteration")
    ax.set_ylabel("residual  max_t |s_t - f(s_{t-1})|")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
