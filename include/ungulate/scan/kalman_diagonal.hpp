#pragma once
// Parallel Kalman filter elements (Sarkka & Garcia-Fernandez 2021) for D independent scalar
// state-space models: the quasi-ELK step.
#include "ungulate/core/math.hpp"

namespace ungulate::scan {

/// Element layout: [A, b, C, J, eta], each D scalars.  A prefix that starts at the first
/// time step has A = J = eta = 0, so its carried state is the filter (mean b, variance C).
template <class Scalar>
struct KalmanDiagonal {
  using value_type = Scalar;
  int dim;

  KOKKOS_INLINE_FUNCTION int element_size() const { return 5 * dim; }
  KOKKOS_INLINE_FUNCTION int state_size() const { return 2 * dim; }
  KOKKOS_INLINE_FUNCTION int scratch_size() const { return 0; }

  KOKKOS_INLINE_FUNCTION void set_identity(Scalar* e) const {
    for (int i = 0; i < dim; ++i) {
      e[i] = Scalar(1);
      for (int k = 1; k < 5; ++k) e[k * dim + i] = Scalar(0);
    }
  }

  /// out = `first` (i) followed by `second` (j); out aliases neither input (restrict: the
  /// loops vectorise, divisions included).
  KOKKOS_INLINE_FUNCTION void combine(const Scalar* KOKKOS_RESTRICT first,
                                      const Scalar* KOKKOS_RESTRICT second,
                                      Scalar* KOKKOS_RESTRICT out, Scalar* /*scratch*/) const {
    const int D = dim;
    for (int k = 0; k < D; ++k) {
      const Scalar Ai = first[k], bi = first[D + k], Ci = first[2 * D + k], Ji = first[3 * D + k],
                   ei = first[4 * D + k];
      const Scalar Aj = second[k], bj = second[D + k], Cj = second[2 * D + k],
                   Jj = second[3 * D + k], ej = second[4 * D + k];
      const Scalar inv = Scalar(1) / (Scalar(1) + Ci * Jj);
      out[k] = Aj * Ai * inv;
      out[D + k] = Aj * (bi + Ci * ej) * inv + bj;
      out[2 * D + k] = Aj * Aj * Ci * inv + Cj;
      out[3 * D + k] = Ai * Ai * Jj * inv + Ji;
      out[4 * D + k] = Ai * (ej - Jj * bi) * inv + ei;
    }
  }

  /// State layout: [mean (D), variance (D)].
  KOKKOS_INLINE_FUNCTION void state_of(const Scalar* prefix, Scalar* state) const {
    for (int k = 0; k < dim; ++k) {
      state[k] = prefix[dim + k];
      state[dim + k] = prefix[2 * dim + k];
    }
  }

  /// One filter step from (m, P): the combine of a start-anchored prefix with element j.
  KOKKOS_INLINE_FUNCTION void advance(Scalar* KOKKOS_RESTRICT state,
                                      const Scalar* KOKKOS_RESTRICT e, Scalar* /*scratch*/) const {
    const int D = dim;
    for (int k = 0; k < D; ++k) {
      const Scalar m = state[k], P = state[D + k];
      const Scalar Aj = e[k], bj = e[D + k], Cj = e[2 * D + k], Jj = e[3 * D + k],
                   ej = e[4 * D + k];
      const Scalar inv = Scalar(1) / (Scalar(1) + P * Jj);
      state[k] = Aj * (m + P * ej) * inv + bj;
      state[D + k] = Aj * Aj * P * inv + Cj;
    }
  }

  KOKKOS_INLINE_FUNCTION const Scalar* mean(const Scalar* state) const { return state; }
  KOKKOS_INLINE_FUNCTION const Scalar* covariance(const Scalar* state) const { return state + dim; }
};

}  // namespace ungulate::scan
