#!/usr/bin/env bash
# Creates perf/.venv with what the baselines and plots need, from PyPI: JAX (CPU),
# PyTorch, h5py, NumPy, Matplotlib.  Idempotent; not part of CI (large downloads).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import jax, torch, h5py, numpy, matplotlib" 2>/dev/null; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "jax[cpu]" torch h5py numpy matplotlib
fi
"$VENV/bin/python" -c "import jax, torch; print('baselines: jax', jax.__version__, '| torch', torch.__version__)"
