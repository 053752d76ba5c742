#pragma once
// Affine maps with a dense linear part, x -> A x + b.
#include "ungulate/linalg/small_dense.hpp"

namespace ungulate::scan {

/// Scan element layout: [A (D x D, row-major), b (D)]; carried state: the offset b.
template <class Scalar>
struct AffineDense {
  using value_type = Scalar;
  int dim;

  KOKKOS_INLINE_FUNCTION int element_size() const { return dim * dim + dim; }
  KOKKOS_INLINE_FUNCTION int state_size() const { return dim; }
  KOKKOS_INLINE_FUNCTION int scratch_size() const { return dim; }

  KOKKOS_INLINE_FUNCTION void set_identity(Scalar* e) const {
    linalg::set_identity(dim, e);
    for (int i = 0; i < dim; ++i) e[dim * dim + i] = Scalar(0);
  }

  /// out = `first` followed by `second`: (A2 A1, A2 b1 + b2). out aliases neither input.
  KOKKOS_INLINE_FUNCTION void combine(const Scalar* first, const Scalar* second, Scalar* out,
                                      Scalar* /*scratch*/) const {
    const int dd = dim * dim;
    linalg::gemm(dim, Scalar(1), second, first, Scalar(0), out);
    linalg::gemv(dim, Scalar(1), second, first + dd, Scalar(0), out + dd);
    for (int i = 0; i < dim; ++i) out[dd + i] += second[dd + i];
  }

  KOKKOS_INLINE_FUNCTION void state_of(const Scalar* prefix, Scalar* state) const {
    linalg::copy(dim, prefix + dim * dim, state);
  }

  /// state <- A state + b, in place (scratch holds D values).
  KOKKOS_INLINE_FUNCTION void advance(Scalar* state, const Scalar* e, Scalar* scratch) const {
    linalg::gemv(dim, Scalar(1), e, state, Scalar(0), scratch);
    for (int i = 0; i < dim; ++i) state[i] = scratch[i] + e[dim * dim + i];
  }

  KOKKOS_INLINE_FUNCTION const Scalar* mean(const Scalar* state) const { return state; }
};

}  // namespace ungulate::scan
