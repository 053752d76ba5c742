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
// Row by row, each row r of the four gates reads its own contiguous rows of W_ih and W_hh.
// prepared() adds the evaluation layout of the GRU (transposed kernels, blocks of row_block
// rows): evaluate and the diagonal Jacobian then vectorise over the rows, with each row's
// sums in the same order as row by row.
#include <Kokkos_Core.hpp>

#include <type_traits>
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

  /// Rows evaluated together: a fixed trip count that the compiler vectorises.
  static constexpr int row_block = 16;
  using Kernel = Kokkos::View<Scalar***, Kokkos::LayoutRight, MemorySpace>;
  /// Evaluation layout made by prepared(), padded with zeros to a multiple of row_block rows:
  ///   packed_input(q, m, r) = weight_ih(q H + r, m), packed_recurrent(q, j, r) =
  ///   weight_hh(q H + r, j), packed_bias(q, r) = bias_ih + bias_hh of row q H + r, and
  ///   packed_bias(4 + q, r) = weight_hh(q H + r, r) (the diagonal Jacobian's).
  Kernel packed_input;
  Kernel packed_recurrent;
  Matrix packed_bias;

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

  /// A copy of this cell with the evaluation layout (packed_*) filled from the weights; the
  /// solvers call it once per solve (cells::prepare).
  LSTM prepared() const {
    LSTM l = *this;
    const int H = hidden_size(), I = input_size();
    const int P = (H + row_block - 1) / row_block * row_block;
    l.packed_input = Kernel("ungulate::lstm::packed_input", 4, I, P);
    l.packed_recurrent = Kernel("ungulate::lstm::packed_recurrent", 4, H, P);
    l.packed_bias = Matrix("ungulate::lstm::packed_bias", 8, P);
    const LSTM src = *this;
    const LSTM dst = l;
    Kokkos::parallel_for(
        "ungulate::lstm::prepare", Kokkos::RangePolicy<typename MemorySpace::execution_space>(0, H),
        KOKKOS_LAMBDA(const int r) {
          for (int q = 0; q < 4; ++q) {
            const int k = q * H + r;
            for (int m = 0; m < I; ++m) dst.packed_input(q, m, r) = src.weight_ih(k, m);
            for (int j = 0; j < H; ++j) dst.packed_recurrent(q, j, r) = src.weight_hh(k, j);
            dst.packed_bias(q, r) = src.bias_ih(k) + src.bias_hh(k);
            dst.packed_bias(4 + q, r) = src.weight_hh(k, r);
          }
        });
    Kokkos::fence();
    return l;
  }

  /// out = f(s, x) with s = (h, c); S is Scalar or a dual number.  out must not alias s.
  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* s, const Scalar* x, S* out) const {
    if constexpr (std::is_same_v<S, Scalar>) {
      if (is_packed()) {
        evaluate_points<1>(&s, &x, &out);
        return;
      }
    }
    const int H = hidden_size();
    for (int r = 0; r < H; ++r) {
      const Row<S> g = row(s, x, r);
      out[r] = g.h;
      out[H + r] = g.c;
    }
  }

  /// out[p] = f(s[p], x[p]) for N independent points at once: their instruction streams
  /// interleave, which hides the latency of the gates' multiply-add chains.
  template <int N>
  KOKKOS_INLINE_FUNCTION void evaluate_points(const Scalar* const* s, const Scalar* const* x,
                                              Scalar* const* out) const {
    if (!is_packed()) {
      for (int p = 0; p < N; ++p) evaluate(s[p], x[p], out[p]);
      return;
    }
    const int H = hidden_size();
    for_each_block<N>(s, x, [&](int p, const BlockRows& b) {
      b.store(b.h, out[p]);
      b.store(b.c, out[p] + H);
    });
  }

  /// out = f(s, x) and diag = diag(df/ds).
  KOKKOS_INLINE_FUNCTION void evaluate_with_diagonal_jacobian(const Scalar* s, const Scalar* x,
                                                              Scalar* out, Scalar* diag) const {
    if (is_packed()) {
      evaluate_points_with_diagonal_jacobian<1>(&s, &x, &out, &diag);
      return;
    }
    const int H = hidden_size();
    for (int r = 0; r < H; ++r) {
      const Row<Scalar> g = row(s, x, r);
      out[r] = g.h;
      out[H + r] = g.c;
      diag[r] = dh_dh(g, s[H + r], r, r);
      diag[H + r] = g.f;
    }
  }

  /// evaluate_with_diagonal_jacobian at N independent points at once (see evaluate_points).
  template <int N>
  KOKKOS_INLINE_FUNCTION void evaluate_points_with_diagonal_jacobian(const Scalar* const* s,
                                                                     const Scalar* const* x,
                                                                     Scalar* const* out,
                                                                     Scalar* const* diag) const {
    if (!is_packed()) {
      for (int p = 0; p < N; ++p) evaluate_with_diagonal_jacobian(s[p], x[p], out[p], diag[p]);
      return;
    }
    const int H = hidden_size();
    for_each_block<N>(s, x, [&](int p, const BlockRows& b) {
      Scalar dh[row_block];
      for (int l = 0; l < row_block; ++l) {
        const int r = b.first + l;
        // dh_dh(g, c, r, r) with the diagonal weights, as row by row.
        const Scalar di = b.i[l] * (Scalar(1) - b.i[l]) * packed_bias(4 + kInput, r);
        const Scalar df = b.f[l] * (Scalar(1) - b.f[l]) * packed_bias(4 + kForget, r);
        const Scalar dg = (Scalar(1) - b.g[l] * b.g[l]) * packed_bias(4 + kCell, r);
        const Scalar dc = b.c_old[l] * df + b.g[l] * di + b.i[l] * dg;
        const Scalar dout = b.o[l] * (Scalar(1) - b.o[l]) * packed_bias(4 + kOutput, r);
        dh[l] = dout * b.tanh_c[l] + b.o[l] * b.dtanh_c[l] * dc;
      }
      b.store(b.h, out[p]);
      b.store(b.c, out[p] + H);
      b.store(dh, diag[p]);
      b.store(b.f, diag[p] + H);
    });
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
  KOKKOS_INLINE_FUNCTION bool is_packed() const {
    return packed_recurrent.extent(0) == 4 && int(packed_recurrent.extent(1)) == hidden_size();
  }

  /// A block of rows [first, first + rows) of one point: row_block entries of each gate and
  /// of the new and old cell state (padding rows hold values never to be written out).
  struct BlockRows {
    int first, rows;
    const Scalar *i, *f, *g, *o, *c, *h, *tanh_c, *dtanh_c, *c_old;
    /// to[first + l] = from[l] for the block's rows (a full block as one fixed-length copy).
    KOKKOS_FORCEINLINE_FUNCTION void store(const Scalar* from, Scalar* to) const {
      if (rows == row_block)
        for (int l = 0; l < row_block; ++l) to[first + l] = from[l];
      else
        for (int l = 0; l < rows; ++l) to[first + l] = from[l];
    }
  };

  /// visit(p, rows) for every point p < N and block of row_block rows: the pre-activations
  /// accumulated as axpys over the packed kernels (each row's sum in row()'s order: biases,
  /// inputs, then h), the gates and the new state as fixed-length loops over the block; the
  /// N points' independent chains interleave.  Needs is_packed().
  template <int N, class Visit>
  KOKKOS_FORCEINLINE_FUNCTION void for_each_block(const Scalar* const* s, const Scalar* const* x,
                                                  Visit&& visit) const {
    const int H = hidden_size(), I = input_size();
    constexpr int L = row_block;
    for (int r0 = 0; r0 < H; r0 += L) {
      Scalar a[N][4][L];
      for (int p = 0; p < N; ++p)
        for (int q = 0; q < 4; ++q)
          for (int l = 0; l < L; ++l) a[p][q][l] = packed_bias(q, r0 + l);
      for (int m = 0; m < I; ++m)
        for (int q = 0; q < 4; ++q) {
          const Scalar* w = &packed_input(q, m, r0);
          for (int p = 0; p < N; ++p) {
            const Scalar xm = x[p][m];
            for (int l = 0; l < L; ++l) a[p][q][l] += w[l] * xm;
          }
        }
      for (int j = 0; j < H; ++j)
        for (int q = 0; q < 4; ++q) {
          const Scalar* w = &packed_recurrent(q, j, r0);
          for (int p = 0; p < N; ++p) {
            const Scalar hj = s[p][j];
            for (int l = 0; l < L; ++l) a[p][q][l] += w[l] * hj;
          }
        }
      const int rows = H - r0 < L ? H - r0 : L;
      Scalar c_old[N][L], c[N][L], h[N][L], tanh_c[N][L], dtanh_c[N][L];
      for (int p = 0; p < N; ++p)
        for (int l = 0; l < L; ++l) c_old[p][l] = l < rows ? s[p][H + r0 + l] : Scalar(0);
      for (int p = 0; p < N; ++p)
        for (int l = 0; l < L; ++l) {  // the gates overwrite the pre-activations in place
          a[p][kInput][l] = math::sigmoid(a[p][kInput][l]);
          a[p][kForget][l] = math::sigmoid(a[p][kForget][l]);
          a[p][kCell][l] = math::tanh(a[p][kCell][l]);
          a[p][kOutput][l] = math::sigmoid(a[p][kOutput][l]);
          c[p][l] = a[p][kForget][l] * c_old[p][l] + a[p][kInput][l] * a[p][kCell][l];
          tanh_c[p][l] = math::tanh(c[p][l]);
          dtanh_c[p][l] = Scalar(1) - tanh_c[p][l] * tanh_c[p][l];
          h[p][l] = a[p][kOutput][l] * tanh_c[p][l];
        }
      for (int p = 0; p < N; ++p)
        visit(p, BlockRows{r0, rows, a[p][kInput], a[p][kForget], a[p][kCell], a[p][kOutput], c[p],
                           h[p], tanh_c[p], dtanh_c[p], c_old[p]});
    }
  }

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
