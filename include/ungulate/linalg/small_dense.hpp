#pragma once
// Device-callable kernels on small dense row-major n x n matrices held in contiguous memory.
// Our own loops rather than Kokkos Kernels' unblocked SerialGemm (strided dot products, about
// 5% of this project's CPU's FMA peak): products accumulate register-wide column tiles of
// four rows at once over contiguous rows of B, and the substitutions update whole rows, so
// the inner loops vectorise (UNGULATE_SIMD) without store-to-load chains. On GPUs each thread
// runs the same loop nest on its own matrices. The LU factorisation pivots (SerialLU does
// not), since the Kalman combine needs a robust (I + C J)^-1.
#include <Kokkos_Core.hpp>

#include <type_traits>

#include "ungulate/core/math.hpp"
#include "ungulate/core/simd.hpp"

namespace ungulate::linalg {

/// Tag types for operand transposition.
struct NoTrans {};
struct Trans {};

/// y += a x over len contiguous entries; x and y must not overlap.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void axpy(int len, T a, const T* KOKKOS_RESTRICT x,
                                      T* KOKKOS_RESTRICT y) {
  UNGULATE_SIMD
  for (int j = 0; j < len; ++j) y[j] += a * x[j];
}

/// y = beta y over len entries, with beta 0 overwriting (NaN in y must not survive).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void scale(int len, T beta, T* y) {
  if (beta == T(0)) {
    UNGULATE_SIMD
    for (int j = 0; j < len; ++j) y[j] = T(0);
  } else if (beta != T(1)) {
    UNGULATE_SIMD
    for (int j = 0; j < len; ++j) y[j] *= beta;
  }
}

/// dst = src^T for n x n matrices; dst must not alias src.
template <class T>
KOKKOS_INLINE_FUNCTION void transpose(int n, const T* KOKKOS_RESTRICT src, T* KOKKOS_RESTRICT dst) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) dst[j * n + i] = src[i * n + j];
}

namespace detail {
/// alpha acc + beta c, where beta 0 ignores c (NaN in C must not survive beta = 0).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T scaled_sum(T alpha, T acc, T beta, T c) {
  return alpha * acc + (beta == T(0) ? T(0) : beta * c);
}

/// Columns one register holds on a 64-byte-vector CPU: the products accumulate tiles of this
/// width in registers instead of read-modify-writing rows of C (store-to-load chains).
template <class T>
inline constexpr int tile_width = int(64 / sizeof(T));

/// acc[r][j] = sum_{k < K} a[r * a_row + k * a_k] b[k * ldb + j] for R rows and W columns:
/// R independent multiply-add chains share each load of b's row.
template <int R, int W, class T>
KOKKOS_FORCEINLINE_FUNCTION void accumulate_tile(int K, const T* KOKKOS_RESTRICT a, int a_row,
                                                 int a_k, const T* KOKKOS_RESTRICT b, int ldb,
                                                 T (&acc)[R][W]) {
  for (int r = 0; r < R; ++r) {
    UNGULATE_SIMD
    for (int j = 0; j < W; ++j) acc[r][j] = T(0);
  }
  for (int k = 0; k < K; ++k) {
    const T* KOKKOS_RESTRICT bk = b + k * ldb;
    for (int r = 0; r < R; ++r) {
      const T ark = a[r * a_row + k * a_k];
      UNGULATE_SIMD
      for (int j = 0; j < W; ++j) acc[r][j] += ark * bk[j];
    }
  }
}

/// Rows [i, i + R) of C's column tile [j0, j0 + W) for gemm without transposed B.
template <int R, int W, class T>
KOKKOS_FORCEINLINE_FUNCTION void gemm_tile(int n, int i, int j0, T alpha, const T* A, int a_row,
                                           int a_k, const T* B, T beta, T* KOKKOS_RESTRICT C) {
  T acc[R][W];
  accumulate_tile<R, W>(n, A + i * a_row, a_row, a_k, B + j0, n, acc);
  for (int r = 0; r < R; ++r) {
    T* KOKKOS_RESTRICT c = C + (i + r) * n + j0;
    UNGULATE_SIMD
    for (int j = 0; j < W; ++j) c[j] = scaled_sum(alpha, acc[r][j], beta, c[j]);
  }
}
}  // namespace detail

/// C = alpha op(A) op(B) + beta C for n x n matrices. C must not alias A or B.
/// Without transposed B, full column tiles accumulate in registers, four rows at a time. The
/// columns past the last full tile (all of them for small n), and every column of A B^T (whose
/// B has no contiguous rows), run as independent dot products. Hot callers of A B^T transpose
/// B into scratch and multiply without transposition instead.
template <class TA = NoTrans, class TB = NoTrans, class T>
KOKKOS_INLINE_FUNCTION void gemm(int n, T alpha, const T* KOKKOS_RESTRICT A,
                                 const T* KOKKOS_RESTRICT B, T beta, T* KOKKOS_RESTRICT C) {
  constexpr bool trans_a = std::is_same<TA, Trans>::value, trans_b = std::is_same<TB, Trans>::value;
  const int a_row = trans_a ? 1 : n, a_k = trans_a ? n : 1;  // A(i, k) = A[i a_row + k a_k]
  const int b_k = trans_b ? 1 : n, b_col = trans_b ? n : 1;  // B(k, j) = B[k b_k + j b_col]
  constexpr int W = detail::tile_width<T>;
  const int tiled = trans_b ? 0 : n - n % W;
  for (int j0 = 0; j0 < tiled; j0 += W) {
    int i = 0;
    for (; i + 4 <= n; i += 4) detail::gemm_tile<4, W>(n, i, j0, alpha, A, a_row, a_k, B, beta, C);
    for (; i < n; ++i) detail::gemm_tile<1, W>(n, i, j0, alpha, A, a_row, a_k, B, beta, C);
  }
  for (int i = 0; i < n; ++i)
    for (int j = tiled; j < n; ++j) {
      T acc = 0;
      for (int k = 0; k < n; ++k) acc += A[i * a_row + k * a_k] * B[k * b_k + j * b_col];
      C[i * n + j] = detail::scaled_sum(alpha, acc, beta, C[i * n + j]);
    }
}

/// y = alpha op(A) x + beta y.  y must not alias x or A.
template <class TA = NoTrans, class T>
KOKKOS_INLINE_FUNCTION void gemv(int n, T alpha, const T* KOKKOS_RESTRICT A,
                                 const T* KOKKOS_RESTRICT x, T beta, T* KOKKOS_RESTRICT y) {
  if constexpr (std::is_same<TA, Trans>::value) {
    scale(n, beta, y);
    for (int j = 0; j < n; ++j) axpy(n, alpha * x[j], A + j * n, y);
  } else {
    for (int i = 0; i < n; ++i) {
      T acc = 0;
      for (int j = 0; j < n; ++j) acc += A[i * n + j] * x[j];
      y[i] = detail::scaled_sum(alpha, acc, beta, y[i]);
    }
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
      axpy(n - k - 1, -l, M + k * n + k + 1, M + i * n + k + 1);
    }
  }
}

/// Solves M X = B in place (B is n x m, row-major) from lu_factor's output.
template <class T, class Index>
KOKKOS_INLINE_FUNCTION void lu_solve(int n, const T* KOKKOS_RESTRICT LU, const Index* piv, T* B,
                                     int m) {
  for (int k = 0; k < n; ++k) {
    const int p = static_cast<int>(piv[k]);
    if (p != k)
      for (int j = 0; j < m; ++j) {
        const T tmp = B[k * m + j];
        B[k * m + j] = B[p * m + j];
        B[p * m + j] = tmp;
      }
  }
  // Forward (L unit lower) and back substitution, right-looking: once row k is final, it
  // updates every later row. Consecutive updates go to different rows, so they do not wait on
  // each other (row-by-row accumulation would chain through one row's stores).
  for (int k = 0; k < n; ++k)
    for (int i = k + 1; i < n; ++i) axpy(m, -LU[i * n + k], B + k * m, B + i * m);
  for (int k = n - 1; k >= 0; --k) {
    const T inv = T(1) / LU[k * n + k];
    for (int j = 0; j < m; ++j) B[k * m + j] *= inv;
    for (int i = 0; i < k; ++i) axpy(m, -LU[i * n + k], B + k * m, B + i * m);
  }
}

}  // namespace ungulate::linalg
