#pragma once
// Predictability of a recurrence: an estimate of its largest Lyapunov exponent (LLE), the
// mean log growth per step of a perturbation carried along the trajectory.
//
// Parallel Newton iterations pay on predictable recurrences (LLE < 0): an error in a state
// is forgotten after ~ log(tol) / LLE steps, so a chunk started from a wrong state is right
// after that window, and Newton converges in few iterations.  On chaotic ones (LLE > 0) an
// error grows along the sequence: every parallel method needs ~T iterations there (Gonzalez,
// Kozachkov, Zoltowski, Clarkson, Linderman, "Predictability Enables Parallelization of
// Nonlinear State Space Models", NeurIPS 2025), and sequential evaluation is the answer.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ungulate/cells/jacobian.hpp"
#include "ungulate/core/math.hpp"
#include "ungulate/core/types.hpp"
#include "ungulate/scan/chunk_layout.hpp"

namespace ungulate::solvers {

/// Steps of the trajectory the estimate follows, per sequence and slice (the first quarter
/// is a burn-in that lets the perturbation align with the growing direction).
inline constexpr int kLyapunovSteps = 1024;
/// The estimate where a perturbation vanishes altogether (a Jacobian that is 0).
inline constexpr double kVanishingLle = -50;

/// LLE estimate per step (natural log): each sequence runs sequentially over the first
/// min(steps, T) steps of this process's slice, from s0 on the first slice and from a zero
/// state on the others, carrying a perturbation v <- J_t v / |J_t v|.  Returns the largest
/// over sequences and processes (one chaotic sequence is enough to make parallel pay less);
/// NaN when the slices are too short to tell (fewer than 8 steps) or the trajectory
/// overflows.  Costs `steps` dense Jacobians per sequence: about steps * D cell
/// evaluations, small against one pass over T = 1e5.
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial,
          class Decomposition>
double estimate_lle(const Cell& cell, const Inputs& inputs, const Initial& s0,
                    const Decomposition& decomp, int steps = kLyapunovSteps) {
  using Scalar = typename Cell::value_type;
  using Jacobian = cells::CellJacobian<Cell>;
  const int B = int(inputs.extent(0)), D = cell.state_size();
  const int n = std::min<long long>(steps, (long long)inputs.extent(1));
  const int burn_in = n / 4;
  const bool from_s0 = decomp.starts_sequence();
  const int width = 4 * D + D * D + Jacobian::scratch_size(cell);
  Kokkos::View<Scalar**, Kokkos::LayoutRight, typename ExecSpace::memory_space> scratch(
      "ungulate::lyapunov_scratch", std::size_t(B), std::size_t(width));
  double largest = -std::numeric_limits<double>::infinity();
  if (n >= 8 && B > 0) {
    Kokkos::parallel_reduce(
        "ungulate::estimate_lle", Kokkos::RangePolicy<ExecSpace>(0, B),
        KOKKOS_LAMBDA(const int b, double& max_value) {
          Scalar *h = &scratch(b, 0), *f = h + D, *v = f + D, *w = v + D, *F = w + D,
                 *rest = F + D * D;
          for (int i = 0; i < D; ++i) {
            h[i] = from_s0 ? s0(b, i) : Scalar(0);
            v[i] = Scalar(1);
          }
          double sum = 0, lle = 0;
          bool ended = false;
          for (int t = 0; t < n && !ended; ++t) {
            Jacobian::dense(cell, h, &inputs(b, t, 0), f, F, rest);
            double norm2 = 0;
            for (int i = 0; i < D; ++i) {
              Scalar acc = 0;
              for (int j = 0; j < D; ++j) acc += F[i * D + j] * v[j];
              w[i] = acc;
              norm2 += double(acc) * double(acc);
            }
            const double norm = math::kmath::sqrt(norm2);
            if (!math::is_finite(norm)) {  // the perturbation (or the state) overflows
              lle = Kokkos::Experimental::infinity<double>::value;
              ended = true;
            } else if (!(norm > 1e-300)) {  // it vanishes: as predictable as it gets
              lle = kVanishingLle;
              ended = true;
            } else {
              if (t >= burn_in) sum += math::kmath::log(norm);
              for (int i = 0; i < D; ++i) {
                v[i] = Scalar(w[i] / norm);
                h[i] = f[i];
              }
            }
          }
          if (!ended) lle = sum / double(n - burn_in);
          if (lle > max_value) max_value = lle;
        },
        Kokkos::Max<double>(largest));
  }
  const double global = decomp.max_all(largest);
  return global > -std::numeric_limits<double>::infinity()
             ? global
             : std::numeric_limits<double>::quiet_NaN();
}

/// Whether a recurrence with this LLE estimate counts as predictable (errors shrink along
/// the sequence).  Unknown (NaN) counts as not.
inline bool is_predictable(double lle) {
  return lle < 0;
}

/// The warm-start window after which a wrong chunk start has shrunk below tol / 4 (states of
/// order 1), with a 1.5x margin for the transient before the asymptotic rate; at most one
/// chunk (then the warm start costs two sequential passes, run chunk-parallel).  0 when not
/// predictable.
inline int warm_window_for_lle(double lle, double tol, const scan::ChunkLayout& layout) {
  if (!is_predictable(lle)) return 0;
  const double steps = 1.5 * std::log(tol / 4) / lle;
  return int(std::min<double>(std::ceil(steps), layout.chunk_length));
}

}  // namespace ungulate::solvers
