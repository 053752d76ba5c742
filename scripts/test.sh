#!/usr/bin/env bash
# Builds ungulate and runs the test suite: a Release build with every test, then an
# AddressSanitizer/UBSan build running the quick subset (label "sanitize").
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"

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
