#!/usr/bin/env bash
# The one command of the CPU benchmark: builds ungulate twice (Debian's Serial Kokkos, and
# the OpenMP Kokkos of scripts/build-kokkos-openmp.sh), sets up perf/.venv for the JAX and
# PyTorch baselines, runs perf/sweep.py and writes the plots and tables of perf/report.py.
#
#   perf/run_sweep.sh                    # the full sweep (about an hour on 2 cores)
#   perf/run_sweep.sh --lengths 10000 --hidden 16 --batch 16 --repeats 1   # a quick one
#
# Arguments go to perf/sweep.py.  Results: perf/out/*.csv, perf/out/*.png.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-2}"
./scripts/build-kokkos-openmp.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS" --target ungulate_app >/dev/null
cmake -S . -B build-omp -DCMAKE_BUILD_TYPE=Release -DUNGULATE_ENABLE_TESTS=OFF \
      -DKokkos_ROOT="$ROOT/install-kokkos-openmp" >/dev/null
cmake --build build-omp -j"$JOBS" --target ungulate_app >/dev/null
./perf/setup_baselines.sh
perf/.venv/bin/python perf/sweep.py "$@"
perf/.venv/bin/python perf/report.py
