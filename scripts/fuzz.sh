#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang with ASan and UBSan) and runs each for
# SECONDS (default 60).  Each run starts by replaying the committed seed corpus, which holds
# every input that once crashed: a fixed bug that comes back fails here first.  SECONDS=0
# replays the corpus only.  A longer search, e.g. before a release:
#   scripts/fuzz.sh 3600
# New inputs go to build-fuzz/fuzz-work/<harness>/corpus, findings to .../artifacts; see
# docs/safety.md ("Fuzzing") for what a finding needs before it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
JOBS="${JOBS:-2}"
ROOT="$PWD"
BUILD="${UNGULATE_FUZZ_BUILD:-build-fuzz}"
HARNESSES=(fuzz_options fuzz_model_reader)

CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUNGULATE_FUZZ=ON -DUNGULATE_WERROR=ON -DUNGULATE_ENABLE_TESTS=OFF -DUNGULATE_ENABLE_APPS=OFF \
  -DUNGULATE_ENABLE_ETI=OFF
cmake --build "$BUILD" -j"$JOBS" --target "${HARNESSES[@]}"

# HDF5 (not instrumented) answers a corrupt size field with a huge malloc and handles the
# NULL; ungulate's own allocations use operator new, which still reports.  Such a malloc
# (16 GiB from H5C_protect, seen) costs nothing in the real program, which never touches it,
# but ASan poisons an eighth of it in shadow memory, over the 2 GB resident limit: a false
# out-of-memory finding.  max_allocation_size_mb makes any single request above 1 GiB return
# NULL, as HDF5 expects; the harness reads at most 64 Ki values, so ungulate's own code
# never asks for that much (and would crash on the NULL, a finding all the same).
# intercept_tls_get_addr=0: LLVM 14's interceptor of __tls_get_addr takes a dynamic TLS block
# (OpenMPI's plugins have them) whose address happens to be 16 bytes into a page for a glibc
# 2.19 block with a header, reads a bogus range from it and LeakSanitizer's tracer then dies on
# SIGSEGV with no report (google/sanitizers#1322; fixed in LLVM 17).  Static TLS and every
# thread's stack are still scanned.
export ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=1024:intercept_tls_get_addr=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$ROOT/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# A crash or hang whose innermost frame (below the sanitizer, libFuzzer and libc) is in HDF5
# is HDF5's own: Debian's 1.10 crashes on some corrupt attribute tables and spins on some
# corrupt global heaps (docs/safety.md).  Such an input is kept aside and the search goes on;
# anything else fails the run.
in_hdf5() {
  awk '/ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer|UndefinedBehaviorSanitizer)/ { on = 1 }
       on && /^ +#[0-9]+ / && !/fuzzer::|__sanitizer|__asan|__ubsan|__interceptor|libc\.so|sysdeps\// &&
       !/ in (free|malloc|calloc|realloc|mem[a-z]+|str[a-z]+) \(/ {
         exit ($0 ~ /libhdf5/) ? 0 : 1 }
       END { if (!on) exit 1 }' "$1"
}
for h in "${HARNESSES[@]}"; do
  work="$BUILD/fuzz-work/$h"
  mkdir -p "$work/corpus" "$work/artifacts" "$work/hdf5-crashes"
  end=$(( $(date +%s) + SECONDS_EACH ))
  echo "== $h: ${SECONDS_EACH} s"
  : > "$work/all.log"
  for attempt in $(seq 1 20); do
    left=$(( end - $(date +%s) ))
    if [ "$SECONDS_EACH" = "0" ]; then
      limit=(-runs=0)
    elif [ "$left" -gt 0 ]; then
      limit=(-max_total_time="$left")  # 0 would mean no limit
    else
      break
    fi
    # One process (the machines are small); -close_fd_mask=1 drops inspect's and --help's
    # output; HDF5 may malloc a corrupt size it never touches, so only RSS is limited.
    if "$BUILD/tests/fuzz/$h" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1048576 -close_fd_mask=1 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus" "tests/fuzz/corpus/$h" \
        2> "$work/log"; then
      cat "$work/log" >> "$work/all.log"
      break
    fi
    cat "$work/log" >> "$work/all.log"
    if in_hdf5 "$work/log"; then
      echo "   HDF5 failed inside itself (attempt $attempt); input kept in $work/hdf5-crashes"
      mv "$work"/artifacts/* "$work/hdf5-crashes/" 2> /dev/null || true
      [ "$SECONDS_EACH" != "0" ] && continue
      break
    fi
    tail -n 60 "$work/log"
    echo "fuzz.sh: $h found a bug; the input is in $work/artifacts/" >&2
    exit 1
  done
  awk '/^stat::number_of_executed_units/ { n += $2 } /cov: / { c = $0 }
       END { sub(/^.*cov: /, "", c); sub(/ .*/, "", c)
             printf "   %d executions, %s edges covered\n", n, c }' "$work/all.log"
done
