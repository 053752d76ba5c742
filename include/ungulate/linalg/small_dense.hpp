#pragma once
// Device-callable kernels on small dense row-major n x n matrices held in contiguous memory.
// Matrix products go through Kokkos Kernels' batched SerialGemm; the LU solve is our own
// because SerialLU does not pivot and the Kalman combine needs a robust (I + C J)^-1.
#include <KokkosBatched_Gemm_Decl.hpp>
#include <KokkosBatched_Gemm_Serial_Impl.hpp>
#include <Kokkos_Core.hpp>

#include <type_traits>

#include "ungulate/core/math.hpp"

namespace ungulate::linalg {

template <class T>
using MatrixRef = Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::AnonymousSpace,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

/// Tag types for operand transposition.
struct NoTrans {};
struct Trans {};

namespace detail {
template <class Tag>
struct BatchedTrans;
template <>
struct BatchedTrans<NoTrans> {
  using type = KokkosBatched::Trans::NoTranspose;
};
template <>
struct BatchedTrans<Trans> {
  using type = KokkosBatched::Trans::Transpose;
};
}  // namespace detail

/// C = alpha op(A) op(B) + beta C for n x n matrices. C must not alias A or B.
template <class TA = NoTrans, class TB = NoTrans, class T>
KOKKOS_INLINE_FUNCTION void gemm(int n, T alpha, const T* A, const T* B, T beta, T* C) {
  MatrixRef<const T> a(A, n, n), b(B, n, n);
  MatrixRef<T> c(C, n, n);
  KokkosBatched::SerialGemm<typename detail::BatchedTrans<TA>::type,
                            typename detail::BatchedTrans<TB>::type,
                            KokkosBatched::Algo::Gemm::Unblocked>::invoke(alpha, a, b, beta, c);
}

/// y = alpha op(A) x + beta y.  y must not alias x.
template <class TA = NoTrans, class T>
KOKKOS_INLINE_FUNCTION void gemv(int n, T alpha, const T* A, const T* x, T beta, T* y) {
  for (int i = 0; i < n; ++i) {
    T acc = 0;
    for (int j = 0; j < n; ++j) {
      const T aij = std::is_same<TA, Trans>::value ? A[j * n + i] : A[i * n + j];
      acc += aij * x[j];
    }
    y[i] = alpha * acc + (beta == T(0) ? T(0) : beta * y[i]);
  }
}

template <class T>
KOKKOS_INLINE_FUNCTION void set_identity(int n, T* M) {
  for (int i = 0; i < n * n; ++i) M[i] = T(0);
  for (int i = 0; i < n; ++i) M[i * n + i] = T(1);
}

template <class T>
KOKKOS_INLINE_FUNCTION void copy(int len, const T* src, T* dst) {
  for (int i = 0; i < len; ++i) dst[i] = src[i];
}

/// In-place LU factorisation with partial pivoting: P M = L U, L unit lower. The pivot
/// indices may be stored in any arithmetic type (scan scratch is scalar-typed).
/// A zero pivot leaves a zero on U's diagonal; the solve then produces Inf/NaN, which the
/// solvers' divergence check catches.
template <class T, class Index>
KOKKOS_INLINE_FUNCTION void lu_factor(int n, T* M, Index* piv) {
  for (int k = 0; k < n; ++k) {
    int p = k;
    T best = math::abs(M[k * n + k]);
    for (int i = k + 1; i < n; ++i) {
      const T v = math::abs(M[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    piv[k] = Index(p);
    if (p != k)
      for (int j = 0; j < n; ++j) {
        const T tmp = M[k * n + j];
        M[k * n + j] = M[p * n + j];
        M[p * n + j] = tmp;
      }
    const T inv = T(1) / M[k * n + k];
    for (int i = k + 1; i < n; ++i) {
      const T l = M[i * n + k] * inv;
      M[i * n + k] = l;
      for (int j = k + 1; j < n; ++j) M[i * n + j] -= l * M[k * n + j];
    }
  }
}

/// Solves M X = B in place (B is n x m, row-major) from lu_factor's output.
template <class T, class Index>
KOKKOS_INLINE_FUNCTION void lu_solve(int n, const T* LU, const Index* piv, T* B, int m) {
  for (int k = 0; k < n; ++k) {
    const int p = static_cast<int>(piv[k]);
    if (p != k)
      for (int j = 0; j < m; ++j) {
        const T tmp = B[k * m + j];
        B[k * m + j] = B[p * m + j];
        B[p * m + j] = tmp;
      }
  }
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < i; ++k) {
      const T l = LU[i * n + k];
      for (int j = 0; j < m; ++j) B[i * m + j] -= l * B[k * m + j];
    }
  for (int i = n - 1; i >= 0; --i) {
    for (int k = i + 1; k < n; ++k) {
      const T u = LU[i * n + k];
      for (int j = 0; j < m; ++j) B[i * m + j] -= u * B[k * m + j];
    }
    const T inv = T(1) / LU[i * n + i];
    for (int j = 0; j < m; ++j) B[i * m + j] *= inv;
  }
}

}  // namespace ungulate::linalg
