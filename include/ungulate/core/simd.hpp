#pragma once
// UNGULATE_SIMD asks the host compiler to vectorise the loop that follows (OpenMP's simd
// pragma; the CMake target adds -fopenmp-simd, which needs no OpenMP runtime). Without it GCC
// unrolls short fixed-length loops, such as a 16-wide register tile, into scalar operations
// (6 instead of 90 G multiply-adds per second in a 16 x 16 product on this project's CPU).
// The loops it marks carry no reduction, so each lane computes exactly what the scalar loop
// would: results are bitwise the same with or without it. Device passes see nothing.
#include <Kokkos_Macros.hpp>

#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || defined(__SYCL_DEVICE_ONLY__)
#define UNGULATE_SIMD
#elif defined(_OPENMP) || defined(UNGULATE_OPENMP_SIMD)
#define UNGULATE_SIMD _Pragma("omp simd")
#else
#define UNGULATE_SIMD
#endif

namespace ungulate {

/// Lanes per tile of for_each_lane: one 512-bit vector of floats.
constexpr int lane_tile = 16;

/// body(i) for i = 0 .. n - 1, lane-wise work without dependencies between lanes (each i
/// reads and writes its own entries only).  Full tiles of lane_tile are fixed-length SIMD
/// loops; the rest runs one by one.  A state-sized loop whose length is known only at run
/// time pays a vectorised loop's set-up, aliasing checks and epilogue on every call; the
/// diagonal scan elements run several such loops per step (quasi-ELK's iteration: 6% faster
/// in fixed tiles, perf/RESULTS.md).
template <class Body>
KOKKOS_FORCEINLINE_FUNCTION void for_each_lane(int n, Body&& body) {
  int i = 0;
  for (; i + lane_tile <= n; i += lane_tile) {
    UNGULATE_SIMD
    for (int l = 0; l < lane_tile; ++l) body(i + l);
  }
  for (; i < n; ++i) body(i);
}

}  // namespace ungulate
