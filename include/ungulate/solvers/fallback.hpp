#pragma once
// Knowing when a parallel Newton iteration cannot pay, and finishing sequentially.
//
// Every DEER-type iteration makes at least one more step exact: the steps before the first
// one whose residual exceeds the tolerance (the exact prefix) are the answer already.  On a
// predictable recurrence the residual falls geometrically and the iteration converges in
// O(log) iterations; on a chaotic one the residual does not fall and the prefix advances by
// a few steps an iteration, so the iteration would need ~T iterations, each costing more than
// a sequential pass.  The planner projects the iterations still needed from both rates and
// gives up on the parallel iteration when the projection is large; the remaining suffix is
// then evaluated sequentially from the exact prefix.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ungulate/solvers/sequential.hpp"

namespace ungulate::solvers {

class SequentialFallbackPlanner {
 public:
  /// Iterations a solve always gets before the planner judges (early iterations of a
  /// converging Newton method may still raise the residual).
  static constexpr int kProbeIterations = 8;
  /// Rates are measured over this many iterations.
  static constexpr int kWindow = 4;
  /// More projected iterations than this: parallel cannot pay.  Machine-independent on
  /// purpose: converging (geometric) runs project a few iterations, chaotic ones ~T / rate.
  static constexpr double kAffordableIterations = 32;

  SequentialFallbackPlanner(long long length, double tolerance)
      : length_(length), tolerance_(tolerance) {}

  /// Records the state an iteration started from: its exact prefix (global steps) and its
  /// residual.  Returns true when the rest should be evaluated sequentially.
  bool record(long long exact_prefix, double residual) {
    prefixes_.push_back(exact_prefix);
    residuals_.push_back(residual);
    const int n = int(prefixes_.size());
    if (n < kProbeIterations || n <= kWindow) return false;
    return projected_iterations() > kAffordableIterations;
  }

  /// Iterations still needed, by the faster of the prefix's and the residual's progress
  /// over the last kWindow iterations.
  double projected_iterations() const {
    const int n = int(prefixes_.size());
    const double infinite = std::numeric_limits<double>::infinity();
    if (n <= kWindow) return infinite;
    const long long prefix = prefixes_[n - 1];
    const double advance = double(prefix - prefixes_[n - 1 - kWindow]) / kWindow;
    const double by_prefix = advance > 0 ? double(length_ - prefix) / advance : infinite;
    const double now = residuals_[n - 1], before = residuals_[n - 1 - kWindow];
    double by_residual = infinite;
    if (now <= tolerance_)
      by_residual = 0;
    else if (now > 0 && now < before)
      by_residual = std::log(now / tolerance_) / (std::log(before / now) / kWindow);
    return std::min(by_prefix, by_residual);
  }

  long long exact_prefix() const { return prefixes_.empty() ? 0 : prefixes_.back(); }

 private:
  long long length_;
  double tolerance_;
  std::vector<long long> prefixes_;
  std::vector<double> residuals_;
};

/// Global exact prefix from each rank's first inexact local step (INT_MAX: none on this
/// rank): min over ranks of first_step + local, or the global length.
template <class Decomposition>
long long global_exact_prefix(int first_inexact_local, long long local_length,
                              const Decomposition& decomp) {
  const long long mine = first_inexact_local == std::numeric_limits<int>::max()
                             ? decomp.global_length(local_length)
                             : decomp.first_step() + first_inexact_local;
  return (long long)(-decomp.max_all(-double(mine)));  // exact below 2^53
}

/// states <- the sequential evaluation of every global step from exact_prefix on, keeping
/// the steps before it; across ranks each continues from its left neighbour's last states
/// (the sequential baseline's hand-over, pipelined over the batch).  `previous` is (B, D) scratch.
template <class ExecSpace, class Cell, class Inputs, class Initial, class States, class Boundary,
          class Decomposition>
void finish_sequentially(const Cell& cell, const Inputs& inputs, const Initial& s0,
                         const States& states, const Boundary& previous, long long exact_prefix,
                         const Decomposition& decomp) {
  const long long local_length = (long long)states.extent(1);
  const long long first = std::min(std::max(exact_prefix - decomp.first_step(), 0LL), local_length);
  evaluate_sequential_handover<ExecSpace>(cell, inputs, s0, states, previous, int(first), decomp);
}

}  // namespace ungulate::solvers
