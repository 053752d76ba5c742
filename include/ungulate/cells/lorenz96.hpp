#pragma once
// Lorenz-96 as a recurrence: one classic fourth-order Runge-Kutta step of size dt of
//   dx_j/dt = v_j(x) = (x_{j+1} - x_{j-2}) x_{j-1} - x_j + F + u_j      (indices mod N)
// per time step, where u = x_t is the step's input (a forcing perturbation; zero inputs give
// the autonomous system).  State and input size are both N.
//
// No scratch memory: output j of an RK4 step depends only on the 13 states j-8 .. j+4 (each
// stage widens the stencil by 2 to the left and 1 to the right), so every output is computed
// from its own window of 13 values held in registers.  That costs 22 evaluations of v per
// output instead of 4, a fixed price for a cell that needs no workspace on any backend.
//
// Jacobians: row j of d(RK4 step)/dx by reverse-mode differentiation (the chain rule through
// the four stages, backwards) over the same window.  The vector field's Jacobian is sparse
// (dv_j/dx_{j+1} = x_{j-1}, dv_j/dx_{j-2} = -x_{j-1}, dv_j/dx_{j-1} = x_{j+1} - x_{j-2},
// dv_j/dx_j = -1), so a row of the step's Jacobian has at most 13 non-zeros; for N < 13 the
// window wraps around and entries of the same column add up.
//
// Gradients (vjp): the same reverse sweep also gives d out_j / d u (u enters every stage's
// slope at its own index with weight 1).  The only weight is the forcing F (dt is fixed):
// d out_j / dF = sum_k d out_j / d u_k.
#include <Kokkos_Core.hpp>

#include <vector>

#include "ungulate/cells/parameters.hpp"
#include "ungulate/core/types.hpp"

namespace ungulate::cells {

template <class Scalar>
struct Lorenz96 {
  using value_type = Scalar;

  int n = 0;                 ///< number of variables N (state and input size)
  Scalar forcing = 8;        ///< F
  Scalar dt = Scalar(0.01);  ///< the RK4 step per time step

  Lorenz96() = default;
  Lorenz96(int variables, Scalar forcing_, Scalar step)
      : n(variables), forcing(forcing_), dt(step) {}

  KOKKOS_INLINE_FUNCTION int state_size() const { return n; }
  KOKKOS_INLINE_FUNCTION int input_size() const { return n; }

  /// out = RK4 step from s with inputs u; S is Scalar or a dual number. out must not alias s.
  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* s, const Scalar* u, S* out) const {
    for (int j = 0; j < n; ++j) {
      Window<S> w;
      forward(s, u, j, w);
      out[j] = w.out;
    }
  }

  /// out = f(s, u) and diag = diag(df/ds).
  KOKKOS_INLINE_FUNCTION void evaluate_with_diagonal_jacobian(const Scalar* s, const Scalar* u,
                                                              Scalar* out, Scalar* diag) const {
    for (int j = 0; j < n; ++j) {
      Window<Scalar> w;
      forward(s, u, j, w);
      Scalar g[kWidth];
      backward(w, g);
      out[j] = w.out;
      Scalar d = 0;
      for (int p = 0; p < kWidth; ++p)
        if (wrap(j + p - kLeft) == j) d += g[p];
      diag[j] = d;
    }
  }

  /// out = f(s, u) and jac = df/ds, row-major N x N.
  KOKKOS_INLINE_FUNCTION void evaluate_with_jacobian(const Scalar* s, const Scalar* u, Scalar* out,
                                                     Scalar* jac) const {
    for (int j = 0; j < n; ++j) {
      Window<Scalar> w;
      forward(s, u, j, w);
      Scalar g[kWidth];
      backward(w, g);
      out[j] = w.out;
      Scalar* row = jac + std::size_t(j) * n;
      for (int k = 0; k < n; ++k) row[k] = Scalar(0);
      for (int p = 0; p < kWidth; ++p) row[wrap(j + p - kLeft)] += g[p];
    }
  }

  /// The vector field v(s) + u at one index, for tests and users (host or device).
  template <class S>
  KOKKOS_INLINE_FUNCTION S vector_field(const S* s, const Scalar* u, int j) const {
    return (s[wrap(j + 1)] - s[wrap(j - 2)]) * s[wrap(j - 1)] - s[j] + (forcing + u[j]);
  }

  /// The one weight: F (parameter block "F", shape (1)); dt is not differentiated.
  KOKKOS_INLINE_FUNCTION int parameter_count() const { return 1; }
  std::vector<ParameterBlock> parameter_blocks() const { return {{"F", {1}}}; }

  /// Vector-Jacobian products at (s, u) with the cotangent v (cells/parameters.hpp), by the
  /// reverse sweep of each output's window.
  KOKKOS_INLINE_FUNCTION void vjp(const Scalar* s, const Scalar* u, const Scalar* v, Scalar* grad_s,
                                  Scalar* grad_u, double* grad_weights) const {
    if (grad_s)
      for (int k = 0; k < n; ++k) grad_s[k] = Scalar(0);
    if (grad_u)
      for (int k = 0; k < n; ++k) grad_u[k] = Scalar(0);
    double grad_forcing = 0;
    for (int j = 0; j < n; ++j) {
      Window<Scalar> w;
      forward(s, u, j, w);
      Scalar g[kWidth], gu[kWidth];
      backward(w, g, gu);
      const Scalar vj = v[j];
      for (int p = 0; p < kWidth; ++p) {
        const int idx = wrap(j + p - kLeft);
        if (grad_s) grad_s[idx] += vj * g[p];
        if (grad_u) grad_u[idx] += vj * gu[p];
        grad_forcing += double(vj) * double(gu[p]);
      }
    }
    if (grad_weights) grad_weights[0] += grad_forcing;
  }

 private:
  // Window positions p = 0 .. 12 stand for the variables j + p - 8 (mod N).
  static constexpr int kLeft = 8, kWidth = 13, kCentre = kLeft;
  // Positions where each stage's slope is needed: k1 on [2, 11], k2 on [4, 10], k3 on [6, 9],
  // k4 at 8 only (each from the previous stage's point on two more to the left, one more to
  // the right).
  KOKKOS_INLINE_FUNCTION static constexpr int lo(int stage) { return 2 + 2 * stage; }
  KOKKOS_INLINE_FUNCTION static constexpr int hi(int stage) { return 11 - stage; }

  template <class S>
  struct Window {
    S x[kWidth];       // the state
    Scalar u[kWidth];  // the inputs
    S y[3][kWidth];    // the stage points x + c dt k: y[0] = x + dt/2 k1, y[1] = x + dt/2 k2,
                       // y[2] = x + dt k3 (valid where the next stage reads them)
    S k[4][kWidth];    // the stage slopes on [lo, hi]
    S out;
  };

  KOKKOS_INLINE_FUNCTION int wrap(int j) const {
    j %= n;
    return j < 0 ? j + n : j;
  }

  // v at window position q from the point pt (positions q - 2 .. q + 1).
  template <class S>
  KOKKOS_INLINE_FUNCTION S slope(const S* pt, const Scalar* u, int q) const {
    return (pt[q + 1] - pt[q - 2]) * pt[q - 1] - pt[q] + (forcing + u[q]);
  }

  template <class S>
  KOKKOS_INLINE_FUNCTION void forward(const S* s, const Scalar* u, int j, Window<S>& w) const {
    for (int p = 0; p < kWidth; ++p) {
      const int idx = wrap(j + p - kLeft);
      w.x[p] = s[idx];
      w.u[p] = u[idx];
    }
    const Scalar half = dt / Scalar(2);
    const Scalar step[3] = {half, half, dt};
    for (int stage = 0; stage < 4; ++stage) {
      const S* pt = stage == 0 ? w.x : w.y[stage - 1];
      for (int q = lo(stage); q <= hi(stage); ++q) w.k[stage][q] = slope(pt, w.u, q);
      if (stage < 3)
        for (int q = lo(stage); q <= hi(stage); ++q)
          w.y[stage][q] = w.x[q] + step[stage] * w.k[stage][q];
    }
    const int c = kCentre;
    w.out = w.x[c] + (dt / Scalar(6)) *
                         (w.k[0][c] + Scalar(2) * w.k[1][c] + Scalar(2) * w.k[2][c] + w.k[3][c]);
  }

  // g[p] = d out / d x[p]: the chain rule through the stages in reverse; with gu, also
  // gu[p] = d out / d u[p].
  KOKKOS_INLINE_FUNCTION void backward(const Window<Scalar>& w, Scalar* g,
                                       Scalar* gu = nullptr) const {
    Scalar gk[4][kWidth], gy[kWidth];
    for (int p = 0; p < kWidth; ++p) {
      g[p] = 0;
      if (gu) gu[p] = 0;
      for (int stage = 0; stage < 4; ++stage) gk[stage][p] = 0;
    }
    const int c = kCentre;
    g[c] = 1;
    gk[0][c] = dt / Scalar(6);
    gk[1][c] = dt / Scalar(3);
    gk[2][c] = dt / Scalar(3);
    gk[3][c] = dt / Scalar(6);
    const Scalar half = dt / Scalar(2);
    const Scalar step[3] = {half, half, dt};
    for (int stage = 3; stage >= 0; --stage) {
      // Adjoint of the point this stage's slopes read: x (stage 0) or y[stage - 1].
      const Scalar* pt = stage == 0 ? w.x : w.y[stage - 1];
      for (int p = 0; p < kWidth; ++p) gy[p] = 0;
      for (int q = lo(stage); q <= hi(stage); ++q) {
        const Scalar a = gk[stage][q];
        if (gu) gu[q] += a;  // the slope at q reads u[q] with weight 1
        gy[q + 1] += a * pt[q - 1];
        gy[q - 2] -= a * pt[q - 1];
        gy[q - 1] += a * (pt[q + 1] - pt[q - 2]);
        gy[q] -= a;
      }
      if (stage == 0) {
        for (int p = 0; p < kWidth; ++p) g[p] += gy[p];
      } else {
        // y[stage - 1] = x + step k[stage - 1]
        for (int p = 0; p < kWidth; ++p) {
          g[p] += gy[p];
          gk[stage - 1][p] += step[stage - 1] * gy[p];
        }
      }
    }
  }
};

}  // namespace ungulate::cells
