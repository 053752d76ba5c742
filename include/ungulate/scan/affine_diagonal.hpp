#pragma once
// Affine maps with a diagonal linear part, x -> a .* x + b (D independent scalar recurrences).
#include "ungulate/core/math.hpp"

namespace ungulate::scan {

/// Scan element layout: [a (D), b (D)].  The carried state of a prefix is its offset b,
/// which is the recurrence's value once the first element has absorbed the initial state.
template <class Scalar>
struct AffineDiagonal {
  using value_type = Scalar;
  int dim;

  KOKKOS_INLINE_FUNCTION int element_size() const { return 2 * dim; }
  KOKKOS_INLINE_FUNCTION int state_size() const { return dim; }
  KOKKOS_INLINE_FUNCTION int scratch_size() const { return 0; }

  KOKKOS_INLINE_FUNCTION void set_identity(Scalar* e) const {
    for (int i = 0; i < dim; ++i) {
      e[i] = Scalar(1);
      e[dim + i] = Scalar(0);
    }
  }

  /// out = `first` followed by `second`: (a2 a1, a2 b1 + b2). out aliases neither input
  /// (restrict: the loop vectorises).
  KOKKOS_INLINE_FUNCTION void combine(const Scalar* KOKKOS_RESTRICT first,
                                      const Scalar* KOKKOS_RESTRICT second,
                                      Scalar* KOKKOS_RESTRICT out, Scalar* /*scratch*/) const {
    for (int i = 0; i < dim; ++i) {
      out[i] = second[i] * first[i];
      out[dim + i] = second[i] * first[dim + i] + second[dim + i];
    }
  }

  KOKKOS_INLINE_FUNCTION void state_of(const Scalar* prefix, Scalar* state) const {
    for (int i = 0; i < dim; ++i) state[i] = prefix[dim + i];
  }

  /// state <- a .* state + b, in place.
  KOKKOS_INLINE_FUNCTION void advance(Scalar* KOKKOS_RESTRICT state,
                                      const Scalar* KOKKOS_RESTRICT e, Scalar* /*scratch*/) const {
    for (int i = 0; i < dim; ++i) state[i] = e[i] * state[i] + e[dim + i];
  }

  /// The recurrence value held in a state (what the solvers read).
  KOKKOS_INLINE_FUNCTION const Scalar* mean(const Scalar* state) const { return state; }
};

}  // namespace ungulate::scan
