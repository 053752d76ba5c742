#pragma once
// Options and results shared by all solvers.
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ungulate/core/types.hpp"

namespace ungulate {

/// Starting iterate of a Newton-type solve.
enum class Initialization {
  Zeros,  ///< s_t = 0 for all t
  Given,  ///< whatever the caller put in the states view
  Warm    ///< chunk-parallel sequential: every chunk runs sequentially, all at once, from
          ///< a zero state warm_window steps before its first step (the first from s_0)
};

inline const char* to_string(Initialization i) {
  switch (i) {
    case Initialization::Zeros:
      return "zeros";
    case Initialization::Given:
      return "given";
    case Initialization::Warm:
      return "warm";
  }
  return "?";
}

/// What a Newton-type solve did besides its own iteration (SolveResult::fallback).
enum class Fallback {
  None,        ///< the method's own iteration throughout
  Damped,      ///< (quasi-)DEER met NaN/Inf or a growing residual and went on with damped
               ///< (Kalman, ELK-type) steps from the last finite iterate
  Sequential,  ///< the parallel iteration could not pay: the suffix after the exact prefix
               ///< was evaluated sequentially
  WarmRestart  ///< the parallel iteration was slow on a predictable recurrence: the iterate
               ///< was replaced by the windowed warm start (Initialization::Warm) with a
               ///< window from the LLE estimate, and the iteration went on from there
};

inline const char* to_string(Fallback f) {
  switch (f) {
    case Fallback::None:
      return "none";
    case Fallback::Damped:
      return "damped";
    case Fallback::Sequential:
      return "sequential";
    case Fallback::WarmRestart:
      return "warm-restart";
  }
  return "?";
}

/// One Newton-type iteration, as recorded in SolveResult::history.
struct IterationRecord {
  int iteration;       ///< 1-based
  double residual;     ///< max_t |s_t - f(s_{t-1})| of the iterate this step started from
  double update_norm;  ///< max_t |s^(i+1)_t - s^(i)_t| (of the accepted steps)
  double seconds;      ///< wall time since the solve started
  double lambda = 0;   ///< largest trust-region lambda this step used (0: undamped steps)
  int rejected = 0;    ///< sequences whose step was rejected (it raised their merit)
};

/// How ELK-type (damped) steps choose lambda.
enum class TrustRegion {
  Adaptive,  ///< Levenberg-Marquardt on the merit sum_t |s_t - f(s_{t-1})|^2, per sequence:
             ///< a step is kept only if it lowers the merit; lambda shrinks after a kept
             ///< step and grows after a rejected one
  Fixed      ///< SolverOptions::lambda throughout, every step kept (the paper's ELK)
};

inline const char* to_string(TrustRegion r) {
  return r == TrustRegion::Adaptive ? "adaptive" : "fixed";
}

/// The adaptive trust region's state, one entry per sequence (a checkpoint keeps it so that a
/// restart continues exactly).
struct TrustRegionState {
  std::vector<double> lambda;  ///< the lambda of the next step
  std::vector<double> growth;  ///< factor of the next rejection (doubles on each one)
};

/// What SolverOptions::on_checkpoint is told.
struct Checkpoint {
  int iteration;
  TrustRegionState trust_region;  ///< empty unless the trust region is adaptive
};

/// Whether a Newton iteration stores each step's linearisation (F_t, u_t) in its first pass
/// and reuses it, instead of evaluating the cell again in every pass of the scan.
enum class LinearisationCache {
  Auto,    ///< on host backends with diagonal Jacobians (2 D scalars a step, like two
           ///< extra iterates); off on GPUs and for dense Jacobians (D^2 + D a step)
  Always,  ///< whenever it fits in memory (dense ones too)
  Never    ///< the fused path: recompute, store nothing of size T but the iterates
};

struct SolverOptions {
  Method method = Method::QuasiDeer;
  /// Converged when the residual max_t |s_t - f(s_{t-1}, x_t)| <= tolerance (tested once
  /// the update max_t |s^(i+1)_t - s^(i)_t| falls to it).  Negative: 1e-4 in float,
  /// 1e-7 in double (the reference implementation's choices).
  double tolerance = -1;
  /// Iteration cap. Negative: min(T + 1, 1000) for (quasi-)DEER, which is exact after T
  /// iterations; 1000 for (quasi-)ELK, whose damped steps may need more.
  int max_iterations = -1;
  /// ELK / quasi-ELK trust-region strength (observation precision of the Kalman model);
  /// lambda -> 0 recovers DEER.  With TrustRegion::Adaptive, the first step's lambda.
  double lambda = 0.01;
  /// ELK / quasi-ELK, and the damped steps (quasi-)DEER falls back to.
  TrustRegion trust_region = TrustRegion::Adaptive;
  /// Resume an adaptive trust region (a restart from a Checkpoint); empty: start afresh.
  TrustRegionState resume_trust_region;
  /// The filter by default: as few or fewer iterations than the smoother on every case
  /// measured, half the work per iteration, and causal (the exact prefix stays exact); see
  /// docs/stability.md.
  KalmanEstimate elk_estimate = KalmanEstimate::Filter;
  Initialization init = Initialization::Zeros;
  /// Chunks per sequence for the intra-rank scan; <= 0 picks a default from the backend's
  /// concurrency and the batch size.
  int num_chunks = 0;
  LinearisationCache linearisation_cache = LinearisationCache::Auto;
  /// Initialization::Warm: steps each chunk runs from zero before its first step, so that a
  /// contracting recurrence forgets the wrong start.  Negative: chosen from the observed
  /// contraction (solvers::choose_warm_window; 0 when it does not contract).
  int warm_window = -1;
  /// Never worse than sequential, no dead ends: when the projected iterations show that the
  /// parallel iteration cannot pay, finish sequentially from the exact prefix; when
  /// (quasi-)DEER meets NaN/Inf or a growing residual, go on with damped steps.  Off: the
  /// raw methods (for studies of them).
  bool fallback = true;
  /// Called on the host after every iteration (progress reports); may be empty.
  std::function<void(const IterationRecord&)> on_iteration;
  /// Every `checkpoint_every` iterations (if > 0 and on_checkpoint is set) the current
  /// iterate is copied into the caller's `states` view and on_checkpoint(iteration) is
  /// called, e.g. to save it; with Initialization::Given it is a restart point that leads
  /// to the same answer as an uninterrupted run (given resume_trust_region too).
  int checkpoint_every = 0;
  std::function<void(const Checkpoint&)> on_checkpoint;
};

struct SolveResult {
  Method method = Method::Sequential;
  Status status = Status::Converged;
  int iterations = 0;
  double final_residual = 0;  ///< max_t |s_t - f(s_{t-1})| of the returned states
  double final_update = 0;    ///< last update norm (0 for sequential)
  double seconds = 0;
  int warm_window = 0;                 ///< the window the warm start used (Initialization::Warm)
  Fallback fallback = Fallback::None;  ///< the last fallback taken (SolverOptions::fallback)
  int fallback_iteration = 0;          ///< the iteration after which it was taken (0: none)
  /// Largest Lyapunov exponent estimate per step (solvers::estimate_lle): < 0 predictable,
  /// > 0 chaotic; NaN when not estimated (no fallback and no automatic warm window) or
  /// the sequence is too short to tell.
  double lle = std::numeric_limits<double>::quiet_NaN();
  std::vector<IterationRecord> history;
};

template <class Scalar>
double default_tolerance() {
  return sizeof(Scalar) <= 4 ? 1e-4 : 1e-7;
}

}  // namespace ungulate
