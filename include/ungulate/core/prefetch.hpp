#pragma once
// A hint to the host CPU to fetch memory that a loop will read a few steps later.  The
// Newton sweeps stream several (B, T, ...) arrays at once; on the CPUs measured the hardware
// prefetchers left the sweep stalled on those loads (perf/RESULTS.md).  A hint never faults
// and changes no result; device passes and other compilers see nothing.
#include <Kokkos_Macros.hpp>

namespace ungulate {

/// Prefetches the cache lines of [p, p + bytes) for reading.
KOKKOS_FORCEINLINE_FUNCTION void prefetch_for_read(const void* p, int bytes) {
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && \
    !defined(__SYCL_DEVICE_ONLY__)
  constexpr int line = 64;
  const char* c = static_cast<const char*>(p);
  for (int k = 0; k < bytes; k += line) __builtin_prefetch(c + k, 0, 3);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace ungulate
