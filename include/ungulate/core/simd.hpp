#pragma once
// UNGULATE_SIMD asks the host compiler to vectorise the loop that follows (OpenMP's simd
// pragma; the CMake target adds -fopenmp-simd, which needs no OpenMP runtime). Without it GCC
// unrolls short fixed-length loops, such as a 16-wide register tile, into scalar operations
// (6 instead of 90 G multiply-adds per second in a 16 x 16 product on this project's CPU).
// The loops it marks carry no reduction, so each lane computes exactly what the scalar loop
// would: results are bitwise the same with or without it. Device passes see nothing.
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || defined(__SYCL_DEVICE_ONLY__)
#define UNGULATE_SIMD
#elif defined(_OPENMP) || defined(UNGULATE_OPENMP_SIMD)
#define UNGULATE_SIMD _Pragma("omp simd")
#else
#define UNGULATE_SIMD
#endif
