#pragma once
// Full (DEER, ELK) versus diagonal (quasi-DEER, quasi-ELK) Jacobian approximations: how a
// linearisation is stored and applied, and which scan elements it feeds.
#include "ungulate/cells/jacobian.hpp"
#include "ungulate/linalg/small_dense.hpp"
#include "ungulate/scan/affine_dense.hpp"
#include "ungulate/scan/affine_diagonal.hpp"
#include "ungulate/scan/kalman_dense.hpp"
#include "ungulate/scan/kalman_diagonal.hpp"

namespace ungulate::solvers {

/// quasi-DEER / quasi-ELK: F = diag(df/dh), stored as D scalars.
struct DiagonalJacobian {
  template <class S>
  using Affine = scan::AffineDiagonal<S>;
  template <class S>
  using Kalman = scan::KalmanDiagonal<S>;

  KOKKOS_INLINE_FUNCTION static int size(int D) { return D; }
  /// Linearisations worth computing N at a time (cheap enough to interleave).
  static constexpr bool groups_points = true;

  template <class Cell, class S>
  KOKKOS_INLINE_FUNCTION static void linearise(const Cell& cell, const S* h, const S* x, S* f, S* F,
                                               S* scratch) {
    cells::CellJacobian<Cell>::diagonal(cell, h, x, f, F, scratch);
  }
  template <int N, class Cell, class S>
  KOKKOS_INLINE_FUNCTION static void linearise_points(const Cell& cell, const S* const* h,
                                                      const S* const* x, S* const* f, S* const* F,
                                                      S* const* scratch) {
    cells::CellJacobian<Cell>::template diagonal_points<N>(cell, h, x, f, F, scratch);
  }
  /// y = F v
  template <class S>
  KOKKOS_INLINE_FUNCTION static void apply(int D, const S* F, const S* v, S* y) {
    for (int i = 0; i < D; ++i) y[i] = F[i] * v[i];
  }
  /// F^T F (the Kalman information term)
  template <class S>
  KOKKOS_INLINE_FUNCTION static void gram(int D, S scale, const S* F, S* out) {
    for (int i = 0; i < D; ++i) out[i] = scale * F[i] * F[i];
  }
  template <class S>
  KOKKOS_INLINE_FUNCTION static void apply_transpose(int D, S scale, const S* F, const S* v, S* y) {
    for (int i = 0; i < D; ++i) y[i] = scale * F[i] * v[i];
  }
  template <class S>
  KOKKOS_INLINE_FUNCTION static void set_scaled_identity(int D, S value, S* out) {
    for (int i = 0; i < D; ++i) out[i] = value;
  }
  /// RTS gain E = P F^T (F P F^T + I)^-1 (scratch: unused here).
  template <class S>
  KOKKOS_INLINE_FUNCTION static void smoother_gain(int D, const S* F, const S* P, S* E,
                                                   S* /*scratch*/) {
    for (int i = 0; i < D; ++i) E[i] = P[i] * F[i] / (F[i] * F[i] * P[i] + S(1));
  }
  KOKKOS_INLINE_FUNCTION static int smoother_scratch(int) { return 0; }
};

/// DEER / ELK: F = df/dh, dense row-major D x D.
struct DenseJacobian {
  template <class S>
  using Affine = scan::AffineDense<S>;
  template <class S>
  using Kalman = scan::KalmanDense<S>;

  KOKKOS_INLINE_FUNCTION static int size(int D) { return D * D; }
  static constexpr bool groups_points = false;  // the D^3 scan dominates

  template <class Cell, class S>
  KOKKOS_INLINE_FUNCTION static void linearise(const Cell& cell, const S* h, const S* x, S* f, S* F,
                                               S* scratch) {
    cells::CellJacobian<Cell>::dense(cell, h, x, f, F, scratch);
  }
  template <int N, class Cell, class S>
  KOKKOS_INLINE_FUNCTION static void linearise_points(const Cell& cell, const S* const* h,
                                                      const S* const* x, S* const* f, S* const* F,
                                                      S* const* scratch) {
    for (int p = 0; p < N; ++p) linearise(cell, h[p], x[p], f[p], F[p], scratch[p]);
  }
  template <class S>
  KOKKOS_INLINE_FUNCTION static void apply(int D, const S* F, const S* v, S* y) {
    linalg::gemv(D, S(1), F, v, S(0), y);
  }
  template <class S>
  KOKKOS_INLINE_FUNCTION static void gram(int D, S scale, const S* F, S* out) {
    linalg::gemm<linalg::Trans, linalg::NoTrans>(D, scale, F, F, S(0), out);
  }
  template <class S>
  KOKKOS_INLINE_FUNCTION static void apply_transpose(int D, S scale, const S* F, const S* v, S* y) {
    linalg::gemv<linalg::Trans>(D, scale, F, v, S(0), y);
  }
  template <class S>
  KOKKOS_INLINE_FUNCTION static void set_scaled_identity(int D, S value, S* out) {
    for (int i = 0; i < D * D; ++i) out[i] = S(0);
    for (int i = 0; i < D; ++i) out[i * D + i] = value;
  }
  /// RTS gain E = P F^T S^-1 with S = F P F^T + I: solve S X = F P, E = X^T (S, P symmetric).
  template <class S>
  KOKKOS_INLINE_FUNCTION static void smoother_gain(int D, const S* F, const S* P, S* E,
                                                   S* scratch) {
    S *FP = scratch, *Sm = FP + D * D, *piv = Sm + D * D;
    linalg::gemm(D, S(1), F, P, S(0), FP);
    linalg::transpose(D, F, E);  // E is written last, from the solve
    linalg::gemm(D, S(1), FP, E, S(0), Sm);
    for (int i = 0; i < D; ++i) Sm[i * D + i] += S(1);
    linalg::lu_factor(D, Sm, piv);
    linalg::lu_solve(D, Sm, piv, FP, D);
    linalg::transpose(D, FP, E);
  }
  KOKKOS_INLINE_FUNCTION static int smoother_scratch(int D) { return 2 * D * D + D; }
};

}  // namespace ungulate::solvers
