#pragma once
// Options and results shared by all solvers.
#include <functional>
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
  None,       ///< the method's own iteration throughout
  Damped,     ///< (quasi-)DEER met NaN/Inf or a growing residual and went on with damped
              ///< (Kalman, ELK-type) steps from the last finite iterate
  Sequential  ///< the parallel iteration could not pay: the suffix after the exact prefix
              ///< was evaluated sequentially
};

inline const char* to_string(Fallback f) {
  switch (f) {
    case Fallback::None:
      return "none";
    case Fallback::Damped:
      return "damped";
    case Fallback::Sequential:
      return "sequential";
  }
  return "?";
}

/// One Newton-type iteration, as recorded in SolveResult::history.
struct IterationRecord {
  int iteration;       ///< 1-based
  double residual;     ///< max_t |s_t - f(s_{t-1})| of the iterate this step started from
  double update_norm;  ///< max_t |s^(i+1)_t - s^(i)_t|
  double seconds;      ///< wall time since the solve started
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
  /// lambda -> 0 recovers DEER.
  double lambda = 0.01;
  KalmanEstimate elk_estimate = KalmanEstimate::Smoother;
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
  /// to the same answer as an uninterrupted run.
  int checkpoint_every = 0;
  std::function<void(int iteration)> on_checkpoint;
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
  std::vector<IterationRecord> history;
};

template <class Scalar>
double default_tolerance() {
  return sizeof(Scalar) <= 4 ? 1e-4 : 1e-7;
}

}  // namespace ungulate
