#pragma once
// Gated recurrent unit in the flax/PyTorch convention (gate order r, z, n):
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
// with analytic diagonal and dense Jacobians dh'/dh.
#include <Kokkos_Core.hpp>

#include "ungulate/core/math.hpp"
#include "ungulate/core/types.hpp"

namespace ungulate::cells {

template <class Scalar, class MemorySpace = DefaultExecutionSpace::memory_space>
struct GRU {
  using value_type = Scalar;
  using memory_space = MemorySpace;
  /// Weights: input_kernel(gate, i, k) = W_i{r,z,n}[i][k], recurrent_kernel(gate, i, j),
  /// input_bias(gate, i), recurrent_bias(gate, i).
  using Kernel = Kokkos::View<Scalar***, Kokkos::LayoutRight, MemorySpace>;
  using Bias = Kokkos::View<Scalar**, Kokkos::LayoutRight, MemorySpace>;

  Kernel input_kernel;
  Kernel recurrent_kernel;
  Bias input_bias;
  Bias recurrent_bias;

  GRU() = default;
  /// Allocates zero weights for the given sizes.
  GRU(int hidden, int inputs)
      : input_kernel("ungulate::gru::input_kernel", 3, hidden, inputs),
        recurrent_kernel("ungulate::gru::recurrent_kernel", 3, hidden, hidden),
        input_bias("ungulate::gru::input_bias", 3, hidden),
        recurrent_bias("ungulate::gru::recurrent_bias", 3, hidden) {}

  KOKKOS_INLINE_FUNCTION int state_size() const { return int(recurrent_kernel.extent(1)); }
  KOKKOS_INLINE_FUNCTION int input_size() const { return int(input_kernel.extent(2)); }

  /// out = f(h, x); S is Scalar or a dual number. out must not alias h.
  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* h, const Scalar* x, S* out) const {
    const int D = state_size();
    for (int i = 0; i < D; ++i) {
      Gates<S> g = gates(h, x, i);
      out[i] = (Scalar(1) - g.z) * g.n + g.z * h[i];
    }
  }

  /// out = f(h, x) and diag = diag(df/dh).
  KOKKOS_INLINE_FUNCTION void evaluate_with_diagonal_jacobian(const Scalar* h, const Scalar* x,
                                                              Scalar* out, Scalar* diag) const {
    const int D = state_size();
    for (int i = 0; i < D; ++i) {
      const Gates<Scalar> g = gates(h, x, i);
      out[i] = (Scalar(1) - g.z) * g.n + g.z * h[i];
      diag[i] = jacobian_entry(g, h[i], i, i);
    }
  }

  /// out = f(h, x) and jac = df/dh, row-major D x D.
  KOKKOS_INLINE_FUNCTION void evaluate_with_jacobian(const Scalar* h, const Scalar* x, Scalar* out,
                                                     Scalar* jac) const {
    const int D = state_size();
    for (int i = 0; i < D; ++i) {
      const Gates<Scalar> g = gates(h, x, i);
      out[i] = (Scalar(1) - g.z) * g.n + g.z * h[i];
      for (int j = 0; j < D; ++j) jac[i * D + j] = jacobian_entry(g, h[i], i, j);
    }
  }

 private:
  template <class S>
  struct Gates {
    S r, z, n, hn;  // hn = W_hn h + b_hn, needed by the Jacobian
  };

  template <class S>
  KOKKOS_INLINE_FUNCTION Gates<S> gates(const S* h, const Scalar* x, int i) const {
    const int D = state_size(), I = input_size();
    // Rows of the three gates' kernels are contiguous (LayoutRight); walk them by pointer.
    const Scalar* wir = &input_kernel(0, i, 0);
    const Scalar* wiz = &input_kernel(1, i, 0);
    const Scalar* win = &input_kernel(2, i, 0);
    const Scalar* whr = &recurrent_kernel(0, i, 0);
    const Scalar* whz = &recurrent_kernel(1, i, 0);
    const Scalar* whn = &recurrent_kernel(2, i, 0);
    Scalar xr = input_bias(0, i) + recurrent_bias(0, i);
    Scalar xz = input_bias(1, i) + recurrent_bias(1, i);
    Scalar xn = input_bias(2, i);
    for (int k = 0; k < I; ++k) {
      xr += wir[k] * x[k];
      xz += wiz[k] * x[k];
      xn += win[k] * x[k];
    }
    S ar = S(xr), az = S(xz), hn = S(recurrent_bias(2, i));
    for (int j = 0; j < D; ++j) {
      ar += whr[j] * h[j];
      az += whz[j] * h[j];
      hn += whn[j] * h[j];
    }
    Gates<S> g;
    g.r = math::sigmoid(ar);
    g.z = math::sigmoid(az);
    g.n = math::tanh(xn + g.r * hn);
    g.hn = hn;
    return g;
  }

  // d h'_i / d h_j from the gates of row i.
  KOKKOS_INLINE_FUNCTION Scalar jacobian_entry(const Gates<Scalar>& g, Scalar hi, int i,
                                               int j) const {
    const Scalar dr = g.r * (Scalar(1) - g.r) * recurrent_kernel(0, i, j);
    const Scalar dz = g.z * (Scalar(1) - g.z) * recurrent_kernel(1, i, j);
    const Scalar dn = (Scalar(1) - g.n * g.n) * (dr * g.hn + g.r * recurrent_kernel(2, i, j));
    return (Scalar(1) - g.z) * dn + (hi - g.n) * dz + (i == j ? g.z : Scalar(0));
  }
};

}  // namespace ungulate::cells
