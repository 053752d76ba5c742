#!/usr/bin/env bash
# Builds ungulate and runs the test suite:
#   1. Release build against Debian's Kokkos (Serial backend): every test;
#   2. AddressSanitizer/UBSan build: the quick subset (label "sanitize");
#   3. Release build against Kokkos with OpenMP (scripts/build-kokkos-openmp.sh, from
#      Debian's trilinos sources): every test, 2 threads;
#   4. ThreadSanitizer build on OpenMP (clang, libomp + Archer): the engine and solver unit
#      tests, 2 threads;
#   5. libFuzzer harnesses (scripts/fuzz.sh, when clang is installed): the seed corpus, then
#      UNGULATE_FUZZ_SECONDS (default 20) of search per harness.
# UNGULATE_SKIP_SANITIZE=1 skips 2 and 4, UNGULATE_SKIP_OPENMP=1 skips 3 and 4,
# UNGULATE_SKIP_FUZZ=1 skips 5.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"
ROOT="$PWD"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DUNGULATE_WERROR=ON
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"

if [ "${UNGULATE_SKIP_SANITIZE:-0}" != "1" ]; then
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUNGULATE_SANITIZE=ON \
        -DUNGULATE_ENABLE_APPS=ON
  # Only what the "sanitize" subset runs: the program, the MPI tests and the quick unit tests.
  cmake --build build-sanitize -j"$JOBS" --target ungulate_app test_mpi make_fixtures \
        test_scan_elements test_chunked_scan test_kalman
  ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-sanitize --output-on-failure -j"$JOBS" -L sanitize
fi

if [ "${UNGULATE_SKIP_OPENMP:-0}" != "1" ]; then
  ./scripts/build-kokkos-openmp.sh "$ROOT/install-kokkos-openmp"
  cmake -S . -B build-omp -DCMAKE_BUILD_TYPE=Release -DUNGULATE_WERROR=ON \
        -DKokkos_ROOT="$ROOT/install-kokkos-openmp"
  cmake --build build-omp -j"$JOBS"
  # Each test uses both threads: run them one at a time.  The MPI tests start up to 4 ranks
  # of 2 threads on 2 cores: spinning OpenMP threads would starve each other (passive wait).
  OMP_NUM_THREADS=2 OMP_PROC_BIND=false OMP_WAIT_POLICY=passive \
    ctest --test-dir build-omp --output-on-failure -j1

  # ThreadSanitizer needs OpenMP synchronisation it can see: clang's libomp with the Archer
  # tool (GCC's libgomp barriers are invisible to it), so Kokkos is built again with clang.
  ARCHER=/usr/lib/llvm-14/lib/libarcher.so
  if [ "${UNGULATE_SKIP_SANITIZE:-0}" != "1" ] && command -v clang++ >/dev/null &&
     [ -e "$ARCHER" ]; then
    CC=clang CXX=clang++ ./scripts/build-kokkos-openmp.sh "$ROOT/install-kokkos-openmp-clang"
    CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DUNGULATE_TSAN=ON -DUNGULATE_ENABLE_APPS=OFF -DUNGULATE_ENABLE_MPI=OFF \
          -DUNGULATE_ENABLE_ETI=OFF \
          -DUNGULATE_ENABLE_HDF5=OFF -DKokkos_ROOT="$ROOT/install-kokkos-openmp-clang"
    TSAN_TESTS=(test_scan_elements test_chunked_scan test_kalman test_convergence test_gradient)
    cmake --build build-tsan -j"$JOBS" --target "${TSAN_TESTS[@]}"
    for t in "${TSAN_TESTS[@]}"; do
      OMP_NUM_THREADS=2 OMP_TOOL_LIBRARIES="$ARCHER" \
        TSAN_OPTIONS="halt_on_error=1 suppressions=$ROOT/tests/tsan.supp" \
        "build-tsan/tests/$t" --gtest_brief=1
    done
  fi
fi

if [ "${UNGULATE_SKIP_FUZZ:-0}" != "1" ]; then
  if command -v clang++ > /dev/null; then
    ./scripts/fuzz.sh "${UNGULATE_FUZZ_SECONDS:-20}"
  else
    echo "test.sh: clang++ not found, fuzzing skipped (scripts/install-deps.sh installs it)"
  fi
fi
