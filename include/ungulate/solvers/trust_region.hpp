#pragma once
// The adaptive trust region of ELK-type (damped) steps: Levenberg-Marquardt on the merit
// sum_t |s_t - f(s_{t-1})|^2, one lambda per sequence (the sequences of a batch are
// independent problems; one that needs strong damping must not hold the others back).
//
// A proposed step is kept only if it does not raise its sequence's merit.  Since the
// Jacobian of s -> s - f(s) is unit lower block-triangular, the merit's only stationary
// points are solutions, and a small enough step always lowers it: with lambda growing on
// each rejection, every sequence keeps making progress.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ungulate/solvers/options.hpp"
#include "ungulate/solvers/sequential.hpp"

namespace ungulate::solvers {

struct TrustRegionPolicy {
  /// lambda is divided by this after a kept step ...
  static constexpr double kShrink = 3;
  /// ... down to this (numerically the undamped Newton step).
  static constexpr double kMinLambda = 1e-9;
  /// A rejection multiplies lambda (at least this) by the sequence's growth factor, which
  /// doubles with each consecutive rejection (Nielsen's rule).
  static constexpr double kRejectFloor = 1e-3;
  /// Past this lambda a step moves less than 1e-10 of the Newton step: stalled.
  static constexpr double kMaxLambda = 1e10;
};

/// Keeps or rejects each sequence's proposed step (merit and residuals of the proposal in
/// `proposed`); `merit` becomes that of the kept iterate, `region` the next lambdas.
/// Returns 1 for each rejected sequence, 0 for each kept one.
inline std::vector<int> judge_steps(const SequenceResiduals& proposed, SequenceResiduals& merit,
                                    TrustRegionState& region) {
  using P = TrustRegionPolicy;
  const std::size_t B = merit.merit.size();
  std::vector<int> rejected(B, 0);
  for (std::size_t b = 0; b < B; ++b) {
    if (std::isfinite(proposed.merit[b]) && proposed.merit[b] <= merit.merit[b]) {
      merit.merit[b] = proposed.merit[b];
      merit.max[b] = proposed.max[b];
      region.lambda[b] = std::max(region.lambda[b] / P::kShrink, P::kMinLambda);
      region.growth[b] = 2;
    } else {
      rejected[b] = 1;
      region.lambda[b] = std::max(region.lambda[b], P::kRejectFloor) * region.growth[b];
      region.growth[b] *= 2;
    }
  }
  return rejected;
}

/// True when a sequence that has not converged could only take vanishing steps.
inline bool trust_region_exhausted(const SequenceResiduals& merit, const TrustRegionState& region,
                                   double tol) {
  for (std::size_t b = 0; b < merit.max.size(); ++b)
    if (merit.max[b] > tol && region.lambda[b] > TrustRegionPolicy::kMaxLambda) return true;
  return false;
}

/// next(b) <- current(b) for each rejected sequence b.
template <class ExecSpace, class States>
void restore_rejected(const States& current, const States& next, const std::vector<int>& rejected) {
  for (std::size_t b = 0; b < rejected.size(); ++b)
    if (rejected[b])
      Kokkos::deep_copy(ExecSpace(), Kokkos::subview(next, b, Kokkos::ALL, Kokkos::ALL),
                        Kokkos::subview(current, b, Kokkos::ALL, Kokkos::ALL));
}

}  // namespace ungulate::solvers
