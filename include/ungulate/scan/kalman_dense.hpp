#pragma once
// Parallel Kalman filter elements (Sarkka & Garcia-Fernandez 2021) with dense D x D blocks:
// the ELK step.
#include "ungulate/linalg/small_dense.hpp"

namespace ungulate::scan {

/// Element layout: [A (DxD), b (D), C (DxD), J (DxD), eta (D)], matrices row-major.
/// C and J are symmetric.  Carried state of a start-anchored prefix: [mean (D), cov (DxD)].
template <class Scalar>
struct KalmanDense {
  using value_type = Scalar;
  int dim;

  KOKKOS_INLINE_FUNCTION int element_size() const { return 3 * dim * dim + 2 * dim; }
  KOKKOS_INLINE_FUNCTION int state_size() const { return dim * dim + dim; }
  KOKKOS_INLINE_FUNCTION int scratch_size() const { return 4 * dim * dim + 3 * dim; }

  // Offsets of the blocks inside an element.
  KOKKOS_INLINE_FUNCTION int offA() const { return 0; }
  KOKKOS_INLINE_FUNCTION int offb() const { return dim * dim; }
  KOKKOS_INLINE_FUNCTION int offC() const { return dim * dim + dim; }
  KOKKOS_INLINE_FUNCTION int offJ() const { return 2 * dim * dim + dim; }
  KOKKOS_INLINE_FUNCTION int offEta() const { return 3 * dim * dim + dim; }

  KOKKOS_INLINE_FUNCTION void set_identity(Scalar* e) const {
    for (int i = 0; i < element_size(); ++i) e[i] = Scalar(0);
    for (int i = 0; i < dim; ++i) e[i * dim + i] = Scalar(1);
  }

  /// out = `first` (i) followed by `second` (j), with M = I + C_i J_j:
  ///   A = A_j M^-1 A_i,  b = A_j M^-1 (b_i + C_i eta_j) + b_j,  C = A_j M^-1 C_i A_j^T + C_j,
  ///   eta = X^T (eta_j - J_j b_i) + eta_i,  J = X^T J_j A_i + J_i,  X = M^-1 A_i
  /// (using (I + J_j C_i)^-1 = M^-T since C and J are symmetric).
  KOKKOS_INLINE_FUNCTION void combine(const Scalar* first, const Scalar* second, Scalar* out,
                                      Scalar* scratch) const {
    const int D = dim, DD = D * D;
    const Scalar *Ai = first + offA(), *bi = first + offb(), *Ci = first + offC(),
                 *Ji = first + offJ(), *ei = first + offEta();
    const Scalar *Aj = second + offA(), *bj = second + offb(), *Cj = second + offC(),
                 *Jj = second + offJ(), *ej = second + offEta();
    Scalar *M = scratch, *X = M + DD, *Z = X + DD, *W = Z + DD, *piv = W + DD, *y = piv + D,
           *v = y + D;
    factor_I_plus(Ci, Jj, M, piv);
    linalg::copy(DD, Ai, X);
    linalg::lu_solve(D, M, piv, X, D);
    linalg::gemv(D, Scalar(1), Ci, ej, Scalar(0), y);
    for (int k = 0; k < D; ++k) y[k] += bi[k];
    linalg::lu_solve(D, M, piv, y, 1);
    linalg::copy(DD, Ci, Z);
    linalg::lu_solve(D, M, piv, Z, D);

    linalg::gemm(D, Scalar(1), Aj, X, Scalar(0), out + offA());
    linalg::gemv(D, Scalar(1), Aj, y, Scalar(0), out + offb());
    for (int k = 0; k < D; ++k) out[offb() + k] += bj[k];
    linalg::gemm(D, Scalar(1), Aj, Z, Scalar(0), W);
    linalg::transpose(D, Aj, M);  // M's factors are no longer needed
    linalg::copy(DD, Cj, out + offC());
    linalg::gemm(D, Scalar(1), W, M, Scalar(1), out + offC());

    linalg::gemv(D, Scalar(1), Jj, bi, Scalar(0), v);
    for (int k = 0; k < D; ++k) v[k] = ej[k] - v[k];
    linalg::gemv<linalg::Trans>(D, Scalar(1), X, v, Scalar(0), out + offEta());
    for (int k = 0; k < D; ++k) out[offEta() + k] += ei[k];
    linalg::gemm(D, Scalar(1), Jj, Ai, Scalar(0), W);
    linalg::copy(DD, Ji, out + offJ());
    linalg::gemm<linalg::Trans, linalg::NoTrans>(D, Scalar(1), X, W, Scalar(1), out + offJ());
  }

  KOKKOS_INLINE_FUNCTION void state_of(const Scalar* prefix, Scalar* state) const {
    linalg::copy(dim, prefix + offb(), state);
    linalg::copy(dim * dim, prefix + offC(), state + dim);
  }

  /// One filter step from (m, P): m' = A M^-1 (m + P eta) + b, P' = A M^-1 P A^T + C,
  /// M = I + P J.
  KOKKOS_INLINE_FUNCTION void advance(Scalar* state, const Scalar* e, Scalar* scratch) const {
    const int D = dim, DD = D * D;
    Scalar* m = state;
    Scalar* P = state + D;
    Scalar *M = scratch, *Z = M + DD, *W = Z + DD, *piv = W + DD, *y = piv + D;
    factor_I_plus(P, e + offJ(), M, piv);
    linalg::gemv(D, Scalar(1), P, e + offEta(), Scalar(0), y);
    for (int k = 0; k < D; ++k) y[k] += m[k];
    linalg::lu_solve(D, M, piv, y, 1);
    linalg::copy(DD, P, Z);
    linalg::lu_solve(D, M, piv, Z, D);
    linalg::gemv(D, Scalar(1), e + offA(), y, Scalar(0), m);
    for (int k = 0; k < D; ++k) m[k] += e[offb() + k];
    linalg::gemm(D, Scalar(1), e + offA(), Z, Scalar(0), W);
    linalg::transpose(D, e + offA(), M);  // M's factors are no longer needed
    linalg::copy(DD, e + offC(), P);
    linalg::gemm(D, Scalar(1), W, M, Scalar(1), P);
  }

  KOKKOS_INLINE_FUNCTION const Scalar* mean(const Scalar* state) const { return state; }
  KOKKOS_INLINE_FUNCTION const Scalar* covariance(const Scalar* state) const { return state + dim; }

 private:
  /// M = I + C J, LU-factored in place.
  KOKKOS_INLINE_FUNCTION void factor_I_plus(const Scalar* C, const Scalar* J, Scalar* M,
                                            Scalar* piv) const {
    linalg::gemm(dim, Scalar(1), C, J, Scalar(0), M);
    for (int k = 0; k < dim; ++k) M[k * dim + k] += Scalar(1);
    linalg::lu_factor(dim, M, piv);
  }
};

}  // namespace ungulate::scan
