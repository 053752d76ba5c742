#pragma once
// Gated recurrent unit in the flax/PyTorch convention (gate order r, z, n):
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
// with analytic diagonal and dense Jacobians dh'/dh, and analytic vector-Jacobian products
// (vjp: dh, dx and the weights; see cells/parameters.hpp).
#include <Kokkos_Core.hpp>

#include <type_traits>
#include <vector>

#include "ungulate/cells/parameters.hpp"
#include "ungulate/core/math.hpp"
#include "ungulate/core/simd.hpp"
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

  /// Rows evaluated together: a fixed trip count that the compiler vectorises.
  static constexpr int row_block = 16;
  /// Evaluation layout made by prepared(): kernels transposed so that consecutive state
  /// rows are contiguous, padded with zeros to a multiple of row_block.
  ///   packed_input(gate, k, i) = W_i{gate}[i][k],  packed_recurrent(gate, j, i) = W_h{gate}[i][j],
  ///   packed_bias(0..3, i) = b_ir + b_hr, b_iz + b_hz, b_in, b_hn, and
  ///   packed_bias(4..6, i) = W_hr[i][i], W_hz[i][i], W_hn[i][i] (the diagonal Jacobian's).
  Kernel packed_input;
  Kernel packed_recurrent;
  Bias packed_bias;

  GRU() = default;
  /// Allocates zero weights for the given sizes.
  GRU(int hidden, int inputs)
      : input_kernel("ungulate::gru::input_kernel", 3, hidden, inputs),
        recurrent_kernel("ungulate::gru::recurrent_kernel", 3, hidden, hidden),
        input_bias("ungulate::gru::input_bias", 3, hidden),
        recurrent_bias("ungulate::gru::recurrent_bias", 3, hidden) {}

  KOKKOS_INLINE_FUNCTION int state_size() const { return int(recurrent_kernel.extent(1)); }
  KOKKOS_INLINE_FUNCTION int input_size() const { return int(input_kernel.extent(2)); }

  /// A copy of this cell with the evaluation layout (packed_*) filled from the weights; the
  /// solvers call it once per solve (cells::prepare).  Without it the cell evaluates row by
  /// row, which gives the same values, more slowly.
  GRU prepared() const {
    GRU g = *this;
    const int D = state_size(), I = input_size();
    const int P = (D + row_block - 1) / row_block * row_block;
    g.packed_input = Kernel("ungulate::gru::packed_input", 3, I, P);
    g.packed_recurrent = Kernel("ungulate::gru::packed_recurrent", 3, D, P);
    g.packed_bias = Bias("ungulate::gru::packed_bias", 7, P);
    const GRU src = *this;
    const GRU dst = g;
    Kokkos::parallel_for(
        "ungulate::gru::prepare", Kokkos::RangePolicy<typename MemorySpace::execution_space>(0, D),
        KOKKOS_LAMBDA(const int i) {
          for (int gate = 0; gate < 3; ++gate) {
            for (int k = 0; k < I; ++k) dst.packed_input(gate, k, i) = src.input_kernel(gate, i, k);
            for (int j = 0; j < D; ++j)
              dst.packed_recurrent(gate, j, i) = src.recurrent_kernel(gate, i, j);
          }
          dst.packed_bias(0, i) = src.input_bias(0, i) + src.recurrent_bias(0, i);
          dst.packed_bias(1, i) = src.input_bias(1, i) + src.recurrent_bias(1, i);
          dst.packed_bias(2, i) = src.input_bias(2, i);
          dst.packed_bias(3, i) = src.recurrent_bias(2, i);
          for (int gate = 0; gate < 3; ++gate)
            dst.packed_bias(4 + gate, i) = src.recurrent_kernel(gate, i, i);
        });
    Kokkos::fence();
    return g;
  }

  /// out = f(h, x); S is Scalar or a dual number. out must not alias h.
  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* h, const Scalar* x, S* out) const {
    if constexpr (std::is_same_v<S, Scalar>) {
      if (is_packed()) {
        evaluate_points<1>(&h, &x, &out);
        return;
      }
    }
    const int D = state_size();
    for (int i = 0; i < D; ++i) out[i] = output(gates(h, x, i), h[i]);
  }

  /// out[p] = f(h[p], x[p]) for N independent points at once: their instruction streams
  /// interleave, which hides the latency of the gates' multiply-add chains.
  template <int N>
  KOKKOS_INLINE_FUNCTION void evaluate_points(const Scalar* const* h, const Scalar* const* x,
                                              Scalar* const* out) const {
    if (!is_packed()) {
      for (int p = 0; p < N; ++p) evaluate(h[p], x[p], out[p]);
      return;
    }
    for_each_block<N>(h, x, [&](int p, const BlockGates& g) {
      Scalar o[row_block];
      // (1 - z) n + z h, fused as the compilers first chose it (math::multiply_add).
      for (int l = 0; l < row_block; ++l)
        o[l] = math::multiply_add(Scalar(1) - g.z[l], g.n[l], g.z[l] * g.h[l]);
      store_rows(g.first, g.rows, o, out[p]);
    });
  }

  /// out = f(h, x) and diag = diag(df/dh).
  KOKKOS_INLINE_FUNCTION void evaluate_with_diagonal_jacobian(const Scalar* h, const Scalar* x,
                                                              Scalar* out, Scalar* diag) const {
    if (!is_packed()) {
      const int D = state_size();
      for (int i = 0; i < D; ++i) {
        const Gates<Scalar> g = gates(h, x, i);
        out[i] = output(g, h[i]);
        diag[i] = jacobian_entry(g, h[i], recurrent_kernel(0, i, i), recurrent_kernel(1, i, i),
                                 recurrent_kernel(2, i, i), true);
      }
      return;
    }
    evaluate_points_with_diagonal_jacobian<1>(&h, &x, &out, &diag);
  }

  /// evaluate_with_diagonal_jacobian at N independent points at once (see evaluate_points).
  template <int N>
  KOKKOS_INLINE_FUNCTION void evaluate_points_with_diagonal_jacobian(const Scalar* const* h,
                                                                     const Scalar* const* x,
                                                                     Scalar* const* out,
                                                                     Scalar* const* diag) const {
    if (!is_packed()) {
      for (int p = 0; p < N; ++p) evaluate_with_diagonal_jacobian(h[p], x[p], out[p], diag[p]);
      return;
    }
    for_each_block<N>(h, x, [&](int p, const BlockGates& g) {
      Scalar o[row_block], d[row_block];
      for (int l = 0; l < row_block; ++l) {
        const int i = g.first + l;
        const Scalar r = g.r[l], z = g.z[l], n = g.n[l], hi = g.h[l];
        o[l] = math::multiply_add(Scalar(1) - z, n, z * hi);
        const Scalar dr = r * (Scalar(1) - r) * packed_bias(4, i);
        const Scalar dz = z * (Scalar(1) - z) * packed_bias(5, i);
        const Scalar dn = (Scalar(1) - n * n) * (dr * g.hn[l] + r * packed_bias(6, i));
        d[l] = (Scalar(1) - z) * dn + (hi - n) * dz + z;
      }
      store_rows(g.first, g.rows, o, out[p]);
      store_rows(g.first, g.rows, d, diag[p]);
    });
  }

  /// out = f(h, x) and jac = df/dh, row-major D x D.
  KOKKOS_INLINE_FUNCTION void evaluate_with_jacobian(const Scalar* h, const Scalar* x, Scalar* out,
                                                     Scalar* jac) const {
    const int D = state_size();
    const auto row = [&](int i, const Gates<Scalar>& g, Scalar hi) {
      out[i] = output(g, hi);
      jacobian_row(g, hi, i, D, &recurrent_kernel(0, i, 0), &recurrent_kernel(1, i, 0),
                   &recurrent_kernel(2, i, 0), jac + i * D);
    };
    if (!is_packed()) {
      for (int i = 0; i < D; ++i) row(i, gates(h, x, i), h[i]);
      return;
    }
    for_each_block<1>(&h, &x, [&](int, const BlockGates& g) {
      for (int l = 0; l < g.rows; ++l) row(g.first + l, g.gates(l), g.h[l]);
    });
  }

  /// Number of weights: the blocks of parameter_blocks() in order.
  KOKKOS_INLINE_FUNCTION int parameter_count() const {
    const int D = state_size(), I = input_size();
    return 3 * D * I + 3 * D * D + 6 * D;
  }
  std::vector<ParameterBlock> parameter_blocks() const {
    const std::size_t D = std::size_t(state_size()), I = std::size_t(input_size());
    return {{"input_kernel", {3, D, I}},
            {"recurrent_kernel", {3, D, D}},
            {"input_bias", {3, D}},
            {"recurrent_bias", {3, D}}};
  }

  /// Vector-Jacobian products at (h, x) with the cotangent v (cells/parameters.hpp).  Backward
  /// through the gates, row by row: with dn = v (1 - z), dz = v (h - n),
  ///   da_n = dn (1 - n^2), d(W_hn h + b_hn) = da_n r, da_r = da_n (W_hn h + b_hn) r (1 - r),
  ///   da_z = dz z (1 - z),  dh = v z + W_hr^T da_r + W_hz^T da_z + W_hn^T (da_n r),
  ///   dx = W_ir^T da_r + W_iz^T da_z + W_in^T da_n,
  /// and the weights' outer products.  No workspace; uses the plain (unpacked) weights.
  KOKKOS_INLINE_FUNCTION void vjp(const Scalar* h, const Scalar* x, const Scalar* v, Scalar* grad_h,
                                  Scalar* grad_x, double* grad_weights) const {
    const int D = state_size(), I = input_size();
    if (grad_h)
      for (int j = 0; j < D; ++j) grad_h[j] = Scalar(0);
    if (grad_x)
      for (int k = 0; k < I; ++k) grad_x[k] = Scalar(0);
    // The gates as evaluate computes them: blocked (vectorised) once prepared.
    if (is_packed()) {
      for_each_block<1>(&h, &x, [&](int, const BlockGates& g) {
        for (int l = 0; l < g.rows; ++l)
          vjp_row(g.first + l, g.gates(l), h, x, v, grad_h, grad_x, grad_weights);
      });
      return;
    }
    for (int i = 0; i < D; ++i) vjp_row(i, gates(h, x, i), h, x, v, grad_h, grad_x, grad_weights);
  }

 private:
  template <class S>
  struct Gates {
    S r, z, n, hn;  // hn = W_hn h + b_hn, needed by the Jacobian
  };

  KOKKOS_INLINE_FUNCTION bool is_packed() const {
    return packed_recurrent.extent(0) == 3 && int(packed_recurrent.extent(1)) == state_size();
  }

  template <class S>
  KOKKOS_INLINE_FUNCTION static S output(const Gates<S>& g, const S& h) {
    return (Scalar(1) - g.z) * g.n + g.z * h;
  }

  /// to[first + l] = from[l] for a block's rows (a full block as one fixed-length copy).
  KOKKOS_FORCEINLINE_FUNCTION static void store_rows(int first, int rows, const Scalar* from,
                                                     Scalar* to) {
    if (rows == row_block)
      for (int l = 0; l < row_block; ++l) to[first + l] = from[l];
    else
      for (int l = 0; l < rows; ++l) to[first + l] = from[l];
  }

  /// The gates of rows [first, first + rows) (rows <= row_block) of one point: row_block
  /// entries each (padding rows are zeros, never to be written out), with the matching
  /// entries of h.
  struct BlockGates {
    int first, rows;
    const Scalar *r, *z, *n, *hn, *h;
    KOKKOS_INLINE_FUNCTION Gates<Scalar> gates(int l) const { return {r[l], z[l], n[l], hn[l]}; }
  };

  /// visit(p, gates) for every point p < N and block of row_block rows.  Pre-activations are
  /// accumulated as axpys over the packed (transposed) kernels: fixed-length, contiguous loops
  /// that vectorise, as do the sigmoids and tanhs over a block; the N points' independent
  /// chains interleave.  Needs is_packed().
  template <int N, class Visit>
  KOKKOS_FORCEINLINE_FUNCTION void for_each_block(const Scalar* const* h, const Scalar* const* x,
                                                  Visit&& visit) const {
    const int D = state_size(), I = input_size();
    constexpr int L = row_block;
    for (int i0 = 0; i0 < D; i0 += L) {
      Scalar ar[N][L], az[N][L], an[N][L], hn[N][L];
      for (int p = 0; p < N; ++p)
        for (int l = 0; l < L; ++l) {
          ar[p][l] = packed_bias(0, i0 + l);
          az[p][l] = packed_bias(1, i0 + l);
          an[p][l] = packed_bias(2, i0 + l);
          hn[p][l] = packed_bias(3, i0 + l);
        }
      for (int k = 0; k < I; ++k) {
        const Scalar* wr = &packed_input(0, k, i0);
        const Scalar* wz = &packed_input(1, k, i0);
        const Scalar* wn = &packed_input(2, k, i0);
        for (int p = 0; p < N; ++p) {
          const Scalar xk = x[p][k];
          for (int l = 0; l < L; ++l) {
            ar[p][l] += wr[l] * xk;
            az[p][l] += wz[l] * xk;
            an[p][l] += wn[l] * xk;
          }
        }
      }
      for (int j = 0; j < D; ++j) {
        const Scalar* wr = &packed_recurrent(0, j, i0);
        const Scalar* wz = &packed_recurrent(1, j, i0);
        const Scalar* wn = &packed_recurrent(2, j, i0);
        for (int p = 0; p < N; ++p) {
          const Scalar hj = h[p][j];
          for (int l = 0; l < L; ++l) {
            ar[p][l] += wr[l] * hj;
            az[p][l] += wz[l] * hj;
            hn[p][l] += wn[l] * hj;
          }
        }
      }
      const int rows = D - i0 < L ? D - i0 : L;
      Scalar hb[N][L];  // the gates overwrite the pre-activations in place
      for (int p = 0; p < N; ++p)
        for (int l = 0; l < L; ++l) {
          hb[p][l] = l < rows ? h[p][i0 + l] : Scalar(0);
          ar[p][l] = math::sigmoid(ar[p][l]);
          az[p][l] = math::sigmoid(az[p][l]);
          an[p][l] = math::tanh(an[p][l] + ar[p][l] * hn[p][l]);
        }
      for (int p = 0; p < N; ++p) visit(p, BlockGates{i0, rows, ar[p], az[p], an[p], hn[p], hb[p]});
    }
  }

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

  // The backward step of row i of the vjp (see vjp), from the row's gates.
  KOKKOS_INLINE_FUNCTION void vjp_row(int i, const Gates<Scalar>& g, const Scalar* h,
                                      const Scalar* x, const Scalar* v, Scalar* grad_h,
                                      Scalar* grad_x, double* grad_weights) const {
    const int D = state_size(), I = input_size();
    const Scalar vi = v[i];
    const Scalar dan = vi * (Scalar(1) - g.z) * (Scalar(1) - g.n * g.n);
    const Scalar dhn = dan * g.r;
    const Scalar dar = dan * g.hn * g.r * (Scalar(1) - g.r);
    const Scalar daz = vi * (h[i] - g.n) * g.z * (Scalar(1) - g.z);
    if (grad_h) {
      grad_h[i] += vi * g.z;
      const Scalar* whr = &recurrent_kernel(0, i, 0);
      const Scalar* whz = &recurrent_kernel(1, i, 0);
      const Scalar* whn = &recurrent_kernel(2, i, 0);
      for (int j = 0; j < D; ++j) grad_h[j] += whr[j] * dar + whz[j] * daz + whn[j] * dhn;
    }
    if (grad_x) {
      const Scalar* wir = &input_kernel(0, i, 0);
      const Scalar* wiz = &input_kernel(1, i, 0);
      const Scalar* win = &input_kernel(2, i, 0);
      for (int k = 0; k < I; ++k) grad_x[k] += wir[k] * dar + wiz[k] * daz + win[k] * dan;
    }
    if (grad_weights) {
      const double d[3] = {double(dar), double(daz), double(dan)};
      const double dr[3] = {double(dar), double(daz), double(dhn)};
      double* gwi = grad_weights;
      double* gwh = gwi + 3 * D * I;
      double* gbi = gwh + 3 * D * D;
      double* gbh = gbi + 3 * D;
      for (int gate = 0; gate < 3; ++gate) {
        double* wi_row = gwi + (gate * D + i) * I;
        for (int k = 0; k < I; ++k) wi_row[k] += d[gate] * double(x[k]);
        double* wh_row = gwh + (gate * D + i) * D;
        for (int j = 0; j < D; ++j) wh_row[j] += dr[gate] * double(h[j]);
        gbi[gate * D + i] += d[gate];
        gbh[gate * D + i] += dr[gate];
      }
    }
  }

  /// The factors of row i of df/dh that do not depend on the column j:
  ///   d h'_i / d h_j = (1 - z) (1 - n^2) (r (1 - r) W_hr[i][j] hn + r W_hn[i][j])
  ///                    + (h_i - n) z (1 - z) W_hz[i][j] + z [i == j].
  struct JacobianRow {
    Scalar r, hn, sr, sz, sn, omz, hmn;
    KOKKOS_INLINE_FUNCTION JacobianRow(const Gates<Scalar>& g, Scalar hi)
        : r(g.r),
          hn(g.hn),
          sr(g.r * (Scalar(1) - g.r)),
          sz(g.z * (Scalar(1) - g.z)),
          sn(Scalar(1) - g.n * g.n),
          omz(Scalar(1) - g.z),
          hmn(hi - g.n) {}
    /// The entry without the diagonal's z, from the kernels' entries (i, j) of each gate.
    KOKKOS_INLINE_FUNCTION Scalar entry(Scalar wr, Scalar wz, Scalar wn) const {
      const Scalar dr = sr * wr;
      const Scalar dz = sz * wz;
      const Scalar dn = sn * (dr * hn + r * wn);
      return omz * dn + hmn * dz;
    }
  };

  /// Row i of df/dh from the rows of W_hr, W_hz, W_hn, one loop over the columns that
  /// vectorises (restrict-qualified rows, factors hoisted).
  KOKKOS_INLINE_FUNCTION static void jacobian_row(const Gates<Scalar>& g, Scalar hi, int i, int D,
                                                  const Scalar* KOKKOS_RESTRICT wr,
                                                  const Scalar* KOKKOS_RESTRICT wz,
                                                  const Scalar* KOKKOS_RESTRICT wn,
                                                  Scalar* KOKKOS_RESTRICT row) {
    const JacobianRow f(g, hi);
    UNGULATE_SIMD
    for (int j = 0; j < D; ++j) row[j] = f.entry(wr[j], wz[j], wn[j]);
    row[i] += g.z;
  }

  // d h'_i / d h_j from the gates of row i and the kernels' entries (i, j) of each gate.
  KOKKOS_INLINE_FUNCTION static Scalar jacobian_entry(const Gates<Scalar>& g, Scalar hi, Scalar wr,
                                                      Scalar wz, Scalar wn, bool diagonal) {
    return JacobianRow(g, hi).entry(wr, wz, wn) + (diagonal ? g.z : Scalar(0));
  }
};

}  // namespace ungulate::cells
