#pragma once
// Long short-term memory cell in the PyTorch convention (torch.nn.LSTM / LSTMCell, gate order
// i, f, g, o along the first axis of the weights):
//   a = W_ih x + b_ih + W_hh h + b_hh            (4H pre-activations)
//   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//   c' = f * c + i * g,   h' = o * tanh(c')
// The recurrence's state is s = (h, c): 2H values, h first.  Analytic diagonal and dense
// Jacobians ds'/ds (2H x 2H):
//   dc'/dh = diag(c i_f') W_hf + diag(g i') W_hi + diag(i g') W_hg,   dc'/dc = diag(f)
//   dh'/dh = diag(o' tanh c') W_ho + diag(o (1 - tanh^2 c')) dc'/dh,
//   dh'/dc = diag(o (1 - tanh^2 c') f)
// with sigma' = sigma (1 - sigma) and tanh' = 1 - tanh^2 of each gate.
//
// Vector-Jacobian products (vjp: ds, dx and the weights) are analytic as well.
//
// A plain row-by-row implementation: each row r of the four gates reads its own contiguous rows
// of W_ih and W_hh.  No evaluation layout (prepared()) is needed.
#include <Kokkos_Core.hpp>

#include <vector>

#include "ungulate/cells/parameters.hpp"
#include "ungulate/core/math.hpp"
#include "ungulate/core/types.hpp"

namespace ungulate::cells {

template <class Scalar, class MemorySpace = DefaultExecutionSpace::memory_space>
struct LSTM {
  using value_type = Scalar;
  using memory_space = MemorySpace;
  using Matrix = Kokkos::View<Scalar**, Kokkos::LayoutRight, MemorySpace>;
  using Vector = Kokkos::View<Scalar*, Kokkos::LayoutRight, MemorySpace>;

  /// PyTorch's names and shapes: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H),
  /// bias_hh (4H); rows [q H, (q + 1) H) belong to gate q = i, f, g, o.
  Matrix weight_ih;
  Matrix weight_hh;
  Vector bias_ih;
  Vector bias_hh;

  /// Gate indices along the first axis of the weights.
  enum Gate : int { kInput = 0, kForget = 1, kCell = 2, kOutput = 3 };

  LSTM() = default;
  /// Allocates zero weights for the given sizes.
  LSTM(int hidden, int inputs)
      : weight_ih("ungulate::lstm::weight_ih", 4 * hidden, inputs),
        weight_hh("ungulate::lstm::weight_hh", 4 * hidden, hidden),
        bias_ih("ungulate::lstm::bias_ih", 4 * hidden),
        bias_hh("ungulate::lstm::bias_hh", 4 * hidden) {}

  KOKKOS_INLINE_FUNCTION int hidden_size() const { return int(weight_hh.extent(1)); }
  /// The state is (h, c).
  KOKKOS_INLINE_FUNCTION int state_size() const { return 2 * hidden_size(); }
  KOKKOS_INLINE_FUNCTION int input_size() const { return int(weight_ih.extent(1)); }

  /// out = f(s, x) with s = (h, c); S is Scalar or a dual number.  out must not alias s.
  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* s, const Scalar* x, S* out) const {
    const int H = hidden_size();
    for (int r = 0; r < H; ++r) {
      const Row<S> g = row(s, x, r);
      out[r] = g.h;
      out[H + r] = g.c;
    }
  }

  /// out = f(s, x) and diag = diag(df/ds).
  KOKKOS_INLINE_FUNCTION void evaluate_with_diagonal_jacobian(const Scalar* s, const Scalar* x,
                                                              Scalar* out, Scalar* diag) const {
    const int H = hidden_size();
    for (int r = 0; r < H; ++r) {
      const Row<Scalar> g = row(s, x, r);
      out[r] = g.h;
      out[H + r] = g.c;
      diag[r] = dh_dh(g, s[H + r], r, r);
      diag[H + r] = g.f;
    }
  }

  /// out = f(s, x) and jac = df/ds, row-major 2H x 2H (rows and columns ordered h, then c).
  KOKKOS_INLINE_FUNCTION void evaluate_with_jacobian(const Scalar* s, const Scalar* x, Scalar* out,
                                                     Scalar* jac) const {
    const int H = hidden_size(), D = 2 * H;
    for (int r = 0; r < H; ++r) {
      const Row<Scalar> g = row(s, x, r);
      const Scalar c = s[H + r];
      out[r] = g.h;
      out[H + r] = g.c;
      Scalar* jh = jac + std::size_t(r) * D;      // row of h'_r
      Scalar* jc = jac + std::size_t(H + r) * D;  // row of c'_r
      for (int j = 0; j < H; ++j) {
        jc[j] = dc_dh(g, c, r, j);
        jh[j] = dh_dh(g, c, r, j);
      }
      for (int j = 0; j < H; ++j) {
        jh[H + j] = Scalar(0);
        jc[H + j] = Scalar(0);
      }
      jh[H + r] = g.o * g.dtanh_c * g.f;
      jc[H + r] = g.f;
    }
  }

  /// Number of weights: the blocks of parameter_blocks() in order.
  KOKKOS_INLINE_FUNCTION int parameter_count() const {
    const int H = hidden_size(), I = input_size();
    return 4 * H * I + 4 * H * H + 8 * H;
  }
  std::vector<ParameterBlock> parameter_blocks() const {
    const std::size_t H = std::size_t(hidden_size()), I = std::size_t(input_size());
    return {{"weight_ih", {4 * H, I}},
            {"weight_hh", {4 * H, H}},
            {"bias_ih", {4 * H}},
            {"bias_hh", {4 * H}}};
  }

  /// Vector-Jacobian products at s = (h, c), x with the cotangent v = (v_h, v_c) of (h', c')
  /// (cells/parameters.hpp).  Per row r: dc' = v_c + v_h o (1 - tanh^2 c'), do = v_h tanh c',
  /// dc = dc' f, and the pre-activation adjoints da_i = dc' g i (1 - i),
  /// da_f = dc' c f (1 - f), da_g = dc' i (1 - g^2), da_o = do o (1 - o); then
  /// dh = W_hh^T da, dx = W_ih^T da and the weights' outer products (both biases get da).
  KOKKOS_INLINE_FUNCTION void vjp(const Scalar* s, const Scalar* x, const Scalar* v, Scalar* grad_s,
                                  Scalar* grad_x, double* grad_weights) const {
    const int H = hidden_size(), I = input_size();
    if (grad_s)
      for (int j = 0; j < 2 * H; ++j) grad_s[j] = Scalar(0);
    if (grad_x)
      for (int m = 0; m < I; ++m) grad_x[m] = Scalar(0);
    for (int r = 0; r < H; ++r) {
      const Row<Scalar> g = row(s, x, r);
      const Scalar dc = v[H + r] + v[r] * g.o * g.dtanh_c;
      const Scalar dout = v[r] * g.tanh_c;
      Scalar da[4];
      da[kInput] = dc * g.g * g.i * (Scalar(1) - g.i);
      da[kForget] = dc * s[H + r] * g.f * (Scalar(1) - g.f);
      da[kCell] = dc * g.i * (Scalar(1) - g.g * g.g);
      da[kOutput] = dout * g.o * (Scalar(1) - g.o);
      if (grad_s) grad_s[H + r] += dc * g.f;
      for (int q = 0; q < 4; ++q) {
        const int k = q * H + r;
        if (grad_s) {
          const Scalar* wh = &weight_hh(k, 0);
          for (int j = 0; j < H; ++j) grad_s[j] += wh[j] * da[q];
        }
        if (grad_x) {
          const Scalar* wi = &weight_ih(k, 0);
          for (int m = 0; m < I; ++m) grad_x[m] += wi[m] * da[q];
        }
        if (grad_weights) {
          const double d = double(da[q]);
          double* gih = grad_weights + std::size_t(k) * I;
          double* ghh = grad_weights + std::size_t(4 * H) * I + std::size_t(k) * H;
          double* gbih = grad_weights + std::size_t(4 * H) * (I + H);
          double* gbhh = gbih + 4 * H;
          for (int m = 0; m < I; ++m) gih[m] += d * double(x[m]);
          for (int j = 0; j < H; ++j) ghh[j] += d * double(s[j]);
          gbih[k] += d;
          gbhh[k] += d;
        }
      }
    }
  }

 private:
  /// The gates of one row and what the Jacobian needs of them.
  template <class S>
  struct Row {
    S i, f, g, o;  // gate activations
    S c, h;        // c'_r and h'_r
    S tanh_c;      // tanh(c'_r)
    S dtanh_c;     // 1 - tanh^2(c'_r)
  };

  template <class S>
  KOKKOS_INLINE_FUNCTION Row<S> row(const S* s, const Scalar* x, int r) const {
    const int H = hidden_size(), I = input_size();
    S a[4];
    for (int q = 0; q < 4; ++q) {
      const int k = q * H + r;
      // Input part in Scalar (x is data, never differentiated), then the recurrent part.
      const Scalar* wi = &weight_ih(k, 0);
      Scalar xa = bias_ih(k) + bias_hh(k);
      for (int m = 0; m < I; ++m) xa += wi[m] * x[m];
      const Scalar* wh = &weight_hh(k, 0);
      S acc = S(xa);
      for (int j = 0; j < H; ++j) acc += wh[j] * s[j];
      a[q] = acc;
    }
    Row<S> g;
    g.i = math::sigmoid(a[kInput]);
    g.f = math::sigmoid(a[kForget]);
    g.g = math::tanh(a[kCell]);
    g.o = math::sigmoid(a[kOutput]);
    g.c = g.f * s[H + r] + g.i * g.g;
    g.tanh_c = math::tanh(g.c);
    g.dtanh_c = Scalar(1) - g.tanh_c * g.tanh_c;
    g.h = g.o * g.tanh_c;
    return g;
  }

  /// d c'_r / d h_j (c = c_r, the old cell state of row r).
  KOKKOS_INLINE_FUNCTION Scalar dc_dh(const Row<Scalar>& g, Scalar c, int r, int j) const {
    const int H = hidden_size();
    const Scalar di = g.i * (Scalar(1) - g.i) * weight_hh(kInput * H + r, j);
    const Scalar df = g.f * (Scalar(1) - g.f) * weight_hh(kForget * H + r, j);
    const Scalar dg = (Scalar(1) - g.g * g.g) * weight_hh(kCell * H + r, j);
    return c * df + g.g * di + g.i * dg;
  }

  /// d h'_r / d h_j.
  KOKKOS_INLINE_FUNCTION Scalar dh_dh(const Row<Scalar>& g, Scalar c, int r, int j) const {
    const int H = hidden_size();
    const Scalar dout = g.o * (Scalar(1) - g.o) * weight_hh(kOutput * H + r, j);
    return dout * g.tanh_c + g.o * g.dtanh_c * dc_dh(g, c, r, j);
  }
};

}  // namespace ungulate::cells
