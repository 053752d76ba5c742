#pragma once
// The Newton-type iteration shared by DEER, quasi-DEER, ELK and quasi-ELK.  Each iteration
// linearises the cell at the current iterate and solves the resulting linear (DEER) or
// trust-region (ELK) problem with the scan engine; only the element type differs.
#include <Kokkos_Core.hpp>
#include <Kokkos_Timer.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "ungulate/scan/chunk_layout.hpp"
#include "ungulate/scan/chunked_scan.hpp"
#include "ungulate/solvers/fallback.hpp"
#include "ungulate/solvers/jacobian_structure.hpp"
#include "ungulate/solvers/linearised_residuals.hpp"
#include "ungulate/solvers/newton_elements.hpp"
#include "ungulate/solvers/options.hpp"
#include "ungulate/solvers/predictability.hpp"
#include "ungulate/solvers/sequential.hpp"
#include "ungulate/solvers/trust_region.hpp"
#include "ungulate/solvers/warm_start.hpp"
#include "ungulate/solvers/workspace.hpp"

namespace ungulate::solvers {

/// Whether to store linearisations (see LinearisationCache in options.hpp).
template <class ExecSpace, class Structure>
bool use_linearisation_cache(LinearisationCache choice) {
  constexpr bool host =
      Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecSpace::memory_space>::accessible;
  constexpr bool diagonal = std::is_same_v<Structure, DiagonalJacobian>;
  return choice == LinearisationCache::Always ||
         (choice == LinearisationCache::Auto && host && diagonal);
}

template <class Structure, class ExecSpace, class Cell, class Decomposition>
SolveResult newton_solve(const Cell& cell,
                         const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                                            typename ExecSpace::memory_space>& inputs,
                         const Kokkos::View<const typename Cell::value_type**, Kokkos::LayoutRight,
                                            typename ExecSpace::memory_space>& s0,
                         const Kokkos::View<typename Cell::value_type***, Kokkos::LayoutRight,
                                            typename ExecSpace::memory_space>& states,
                         const SolverOptions& opt, const Decomposition& decomp,
                         Workspace<typename Cell::value_type, ExecSpace>& workspace) {
  using Scalar = typename Cell::value_type;
  using Role = typename Workspace<Scalar, ExecSpace>::Role;
  using Memory = typename ExecSpace::memory_space;
  using View3 = Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory>;
  using View2 = Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory>;
  using AffineOp = typename Structure::template Affine<Scalar>;
  using KalmanOp = typename Structure::template Kalman<Scalar>;

  const int B = int(states.extent(0)), T = int(states.extent(1)), D = cell.state_size();
  const bool kalman = opt.method == Method::Elk || opt.method == Method::QuasiElk;
  const bool smoother = kalman && opt.elk_estimate == KalmanEstimate::Smoother;
  const double tol = opt.tolerance > 0 ? opt.tolerance : default_tolerance<Scalar>();
  const long long T_global = decomp.global_length(T);
  // DEER-type iterations are exact after at most T steps (one more to see a zero update);
  // ELK's damped steps need more on short sequences.
  const int max_iter = opt.max_iterations >= 0 ? opt.max_iterations
                       : kalman                ? 1000
                                               : int(std::min<long long>(T_global + 1, 1000));
  const int chunks = opt.num_chunks > 0 ? opt.num_chunks : scan::default_chunks<ExecSpace>(B, T);

  SolveResult result;
  result.method = opt.method;
  Kokkos::Timer timer;

  // Predictability decides the warm window and what to do when the iteration is slow.
  if (T_global > 0 && (opt.fallback || (opt.init == Initialization::Warm && opt.warm_window < 0)))
    result.lle = estimate_lle<ExecSpace>(cell, inputs, s0, decomp);
  const int lle_window = warm_window_for_lle(result.lle, tol, scan::ChunkLayout(T, chunks));
  View2 previous("ungulate::slice_previous_state", B, D);
  // target <- the windowed warm start (collective).
  auto warm_start = [&](const View3& target, int window) {
    evaluate_chunks_warm<ExecSpace>(cell, inputs, s0, target, chunks, window,
                                    decomp.starts_sequence());
    // The window cannot reach into the previous rank's steps: start this slice's first chunk
    // from that rank's last warm state instead (one chunk re-evaluated).
    decomp.exchange_halo(target, previous, s0);
    if (!decomp.starts_sequence())
      evaluate_sequential<ExecSpace>(cell, inputs, previous, target, 0,
                                     scan::ChunkLayout(T, chunks).end(0));
  };
  switch (opt.init) {
    case Initialization::Zeros:
      Kokkos::deep_copy(states, Scalar(0));
      break;
    case Initialization::Given:
      break;
    case Initialization::Warm:
      result.warm_window = opt.warm_window >= 0 ? opt.warm_window
                           : is_predictable(result.lle)
                               ? lle_window
                               : choose_warm_window<ExecSpace>(cell, inputs, s0, chunks, tol,
                                                               decomp.starts_sequence());
      warm_start(states, result.warm_window);
      break;
  }

  View3 current = states;
  View3 next = workspace.array(Role::NextIterate, B, T, D);
  SliceBoundary<Scalar, Memory> boundary;
  boundary.previous = previous;
  boundary.starts_sequence = decomp.starts_sequence();
  boundary.ends_sequence = decomp.ends_sequence();
  if (smoother) {  // collective: every rank takes part
    View2 next_input("ungulate::next_slice_input", B, cell.input_size());
    decomp.exchange_next_input(inputs, next_input);
    boundary.next_input = next_input;
  }
  View3 filtered_cov;
  if (smoother) filtered_cov = workspace.array(Role::FilteredCovariance, B, T, Structure::size(D));

  // Store each step's linearisation in pass 1 and reuse it in the later passes (one cell
  // evaluation per iteration instead of two to four) where memory is cheap: host backends,
  // diagonal Jacobians (2 D scalars a step).  GPUs keep the fused, recompute-everything path.
  using Cache = StoredLinearisation<Scalar, Memory>;
  Cache cache;
  if (use_linearisation_cache<ExecSpace, Structure>(opt.linearisation_cache))
    cache.data = workspace.array(Role::Linearisation, B, T, Structure::size(D) + D);
  const Cache store = cache.with(Cache::Store), load = cache.with(Cache::Load);

  using AffineGen = LinearisedElements<Cell, Structure, AffineBuilder<Structure>, Memory>;
  using KalmanGen = LinearisedElements<Cell, Structure, KalmanBuilder<Structure>, Memory>;
  using SmootherGen = SmootherElements<Cell, Structure, Memory>;
  const AffineOp affine_op{D};
  const KalmanOp kalman_op{D};
  // Scratch sizes do not depend on the iterate; size the engines once.
  const int affine_scratch = AffineGen{cell, {}, inputs, states, boundary, D}.scratch_size();
  const int kalman_scratch =
      KalmanGen{cell, {opt.lambda, nullptr}, inputs, states, boundary, D}.scratch_size();
  const int smoother_scratch =
      SmootherGen{cell, inputs, states, states, states, boundary, D, T}.scratch_size();
  const bool need_affine = !kalman || smoother;
  // (quasi-)DEER may go on with damped (Kalman filter) steps: see Fallback::Damped.
  const bool may_damp = !kalman && opt.fallback;
  bool damped = false;
  // Adaptive trust region: lambda per sequence (see TrustRegion::Adaptive).
  const bool adaptive = opt.trust_region == TrustRegion::Adaptive;
  TrustRegionState region{std::vector<double>(B, opt.lambda), std::vector<double>(B, 2.0)};
  if (!opt.resume_trust_region.lambda.empty()) {
    if (int(opt.resume_trust_region.lambda.size()) != B ||
        int(opt.resume_trust_region.growth.size()) != B)
      throw std::invalid_argument("ungulate::solve: resume_trust_region holds " +
                                  std::to_string(opt.resume_trust_region.lambda.size()) +
                                  " sequences, the batch " + std::to_string(B));
    region = opt.resume_trust_region;
  }
  const Kokkos::View<double*, Memory> lambda_d("ungulate::lambda_by_sequence", B);
  SequenceResiduals merit;  // of `current`, while adaptive damped steps run
  // With stored linearisations the merit pass linearises too: after a step kept for every
  // sequence, the next one builds its elements from the store, one cell evaluation per step
  // instead of two.
  const bool merit_linearises = adaptive && bool(cache.data.data());
  bool stored_current = false;  // the store holds `current`'s linearisation, from a merit pass
  // Residuals of `states` per sequence, over all ranks (collective); with merit_linearises
  // also its linearisation into the store and its exact prefix into `prefix`.
  auto residuals_of = [&](const View3& states_, const View3& reference,
                          const Kokkos::View<int, Memory>& prefix) {
    decomp.exchange_halo(states_, previous, s0);
    SequenceResiduals r =
        merit_linearises
            ? linearise_by_sequence<Structure, ExecSpace>(
                  cell, inputs, previous, decomp.starts_sequence(), states_, chunks, reference,
                  cache.data, prefix, Scalar(tol))
            : residuals_by_sequence<ExecSpace>(cell, inputs, previous, states_, chunks, reference);
    decomp.sum_all(r.merit);
    decomp.max_all(r.max);
    decomp.max_all(r.change);
    return r;
  };
  scan::ChunkedScan<AffineOp, ExecSpace> affine_scan(affine_op, need_affine ? B : 0, T, chunks,
                                                     kalman ? smoother_scratch : affine_scratch,
                                                     AffineGen::group_size);
  scan::ChunkedScan<KalmanOp, ExecSpace> kalman_scan(kalman_op, kalman || may_damp ? B : 0, T,
                                                     chunks, kalman_scratch, KalmanGen::group_size);
  // The first local step whose residual exceeds tol, found when linearising (the exact
  // prefix): of `current`, and of `next` where the fused pass below linearises it.
  Kokkos::View<int, Memory> first_inexact("ungulate::first_inexact");
  Kokkos::View<int, Memory> next_first_inexact("ungulate::next_first_inexact");
  const auto prefix_sink = [&](const Kokkos::View<int, Memory>& v) {
    return opt.fallback ? v : Kokkos::View<int, Memory>();
  };
  // Plain steps (undamped DEER-type, or ELK-type with a fixed lambda and the filter: every
  // step kept, elements that depend on the iterate alone) with stored linearisations fuse
  // each iteration's last pass with the next iteration's first: while a chunk writes the new
  // iterate it linearises it too.  The aggregates then already hold the new iterate's
  // linearisation, and its residual is known without another pass.
  const bool fuse = bool(cache.data.data());
  bool current_linearised = false;  // the aggregates hold `current`'s linearisation
  bool next_linearised = false;
  Scalar current_residual = 0, next_residual = 0;  // local, with the aggregates

  // Forgets an exact prefix before a pass measures it again.
  const auto reset_prefix = [&](const Kokkos::View<int, Memory>& prefix) {
    if (opt.fallback) Kokkos::deep_copy(prefix, std::numeric_limits<int>::max());
  };
  // A plain step with `scan`; make(at, cache, prefix) is the generator linearising at `at`.
  auto plain_step = [&](auto& scan, const auto& make, const auto& write) {
    const Kokkos::View<int, Memory> none;
    Scalar residual = current_residual;
    if (!current_linearised) {
      reset_prefix(first_inexact);
      residual =
          scan.reduce_chunks(make(current, store, prefix_sink(first_inexact)), Direction::Forward);
    }
    decomp.carry_in(scan, Direction::Forward);
    const auto replay = make(current, load, none);
    if (!fuse)
      return std::pair<Scalar, Scalar>{residual, scan.finish(replay, write, Direction::Forward)};
    reset_prefix(next_first_inexact);
    const auto next_gen = make(next, store, prefix_sink(next_first_inexact));
    const auto [update, body_residual] = scan.finish_and_reduce(replay, write, next_gen);
    // Each chunk's first step reads the previous chunk's (or rank's) last new state.
    decomp.exchange_halo(next, previous, s0);
    const Scalar head_residual = scan.prepend_chunk_heads(next_gen);
    next_residual = body_residual > head_residual ? body_residual : head_residual;
    next_linearised = true;
    return std::pair<Scalar, Scalar>{residual, update};
  };
  // One iteration from `current` into `next`; returns {residual of current, update norm}.
  auto iterate = [&]() -> std::pair<Scalar, Scalar> {
    next_linearised = false;
    if (!kalman && !damped)
      return plain_step(
          affine_scan,
          [&](const View3& at, const Cache& c, const Kokkos::View<int, Memory>& prefix) {
            return AffineGen{cell, {}, inputs, at, boundary, D, c, prefix, Scalar(tol)};
          },
          WriteIterate<AffineOp, Memory>{affine_op, next, current});
    if (!adaptive && !smoother)
      return plain_step(
          kalman_scan,
          [&](const View3& at, const Cache& c, const Kokkos::View<int, Memory>& prefix) {
            return KalmanGen{cell,       {opt.lambda, nullptr}, inputs, at, boundary, D, c, prefix,
                             Scalar(tol)};
          },
          WriteIterate<KalmanOp, Memory>{kalman_op, next, current});
    const KalmanBuilder<Structure> builder{opt.lambda, adaptive ? lambda_d.data() : nullptr};
    // From the store where the merit pass left `current`'s linearisation there (its
    // residual and exact prefix with it), else linearising.
    const KalmanGen gen{cell,
                        builder,
                        inputs,
                        current,
                        boundary,
                        D,
                        stored_current ? load : store,
                        prefix_sink(first_inexact),
                        Scalar(tol)};
    const KalmanGen replay{cell, builder, inputs, current, boundary, D, load};
    Scalar residual = kalman_scan.reduce_chunks(gen, Direction::Forward);
    if (stored_current) {
      residual = Scalar(0);
      for (double r : merit.max) residual = std::max(residual, Scalar(r));
    }
    decomp.carry_in(kalman_scan, Direction::Forward);
    if (!smoother) {
      const Scalar update = kalman_scan.finish(
          replay, WriteIterate<KalmanOp, Memory>{kalman_op, next, current}, Direction::Forward);
      return {residual, update};
    }
    // Filter into `next` (means) and filtered_cov, then smooth `next` in place backwards.
    const Scalar filtered_max = kalman_scan.finish(
        replay, StoreFiltered<KalmanOp, Memory>{kalman_op, next, filtered_cov}, Direction::Forward);
    const SmootherGen sgen{cell, inputs, current, next, filtered_cov, boundary, D, T, load};
    affine_scan.reduce_chunks(sgen, Direction::Reverse);
    decomp.carry_in(affine_scan, Direction::Reverse);
    Scalar update = affine_scan.finish(
        sgen, WriteIterate<AffineOp, Memory>{affine_op, next, current}, Direction::Reverse);
    if (!math::is_finite(filtered_max)) update = filtered_max;
    return {residual, update};
  };

  // Residual max_t |s_t - f(s_{t-1})| of `current` (collective).
  auto residual_of_current = [&]() {
    decomp.exchange_halo(current, previous, s0);
    return decomp.max_all(double(residual_max<ExecSpace>(cell, inputs, previous, current, chunks)));
  };
  result.status = Status::MaxIterations;
  bool residual_known = false;
  SequentialFallbackPlanner planner(T_global, tol);
  // Ends the solve with the sequential evaluation of every step from the exact prefix of
  // `current` on; the last finite iterate stays if that overflows (the recurrence itself
  // diverges).
  auto finish_from_prefix = [&](long long prefix, int it) {
    Kokkos::deep_copy(next, current);
    finish_sequentially<ExecSpace>(cell, inputs, s0, next, previous, prefix, decomp);
    if (decomp.max_all(all_finite<ExecSpace>(next) ? 0.0 : 1.0) > 0) {
      result.status = Status::Diverged;
    } else {
      std::swap(current, next);
      result.fallback = Fallback::Sequential;
      result.fallback_iteration = it;
    }
    result.final_residual = residual_of_current();
    residual_known = true;
    if (result.status != Status::Diverged)
      result.status = result.final_residual <= tol ? Status::Converged : Status::Stalled;
  };
  double last_residual = Kokkos::Experimental::infinity<double>::value;
  // A windowed warm start of a contracting recurrence is already the answer to rounding:
  // check its residual (one cell evaluation per step) before linearising.  Not for a given
  // start: a restart from a checkpoint continues exactly as the interrupted run would have.
  if (opt.init == Initialization::Warm && T_global > 0) {
    result.final_residual = residual_of_current();
    residual_known = true;
    if (result.final_residual <= tol) {
      result.status = Status::Converged;
    }
  }
  for (int it = 1; it <= max_iter && T_global > 0 && result.status != Status::Converged; ++it) {
    residual_known = false;
    const bool trust_region_step = (kalman || damped) && adaptive;
    if (trust_region_step) {
      if (merit.merit.empty()) {
        reset_prefix(first_inexact);
        merit = residuals_of(current, View3(), prefix_sink(first_inexact));
        stored_current = merit_linearises;
      }
      Kokkos::deep_copy(lambda_d, Kokkos::View<const double*, Kokkos::HostSpace>(
                                      region.lambda.data(), std::size_t(B)));
    }
    decomp.exchange_halo(current, previous, s0);
    // Plain steps reset it themselves (unless the fused pass has measured `current`).
    if (trust_region_step || smoother) {
      if (!stored_current) reset_prefix(first_inexact);
    }
    const auto step = iterate();
    stored_current = false;                   // until a merit pass below stores the new iterate's
    const bool linearised = next_linearised;  // only a swap below hands them on
    current_linearised = false;
    const double residual = decomp.max_all(double(step.first));
    const double update = decomp.max_all(double(step.second));
    long long prefix = 0;  // of `current`
    if (opt.fallback) {
      int local = 0;
      Kokkos::deep_copy(local, first_inexact);
      prefix = global_exact_prefix(local, T, decomp);
    }
    IterationRecord record{it, residual, update, timer.seconds()};
    if (trust_region_step) {
      for (double l : region.lambda) record.lambda = std::max(record.lambda, l);
      reset_prefix(next_first_inexact);
      const SequenceResiduals proposed =
          residuals_of(next, current, prefix_sink(next_first_inexact));
      const std::vector<int> rejected = judge_steps(proposed, merit, region);
      record.rejected = int(std::count(rejected.begin(), rejected.end(), 1));
      record.update_norm = 0;  // of the steps kept
      for (int b = 0; b < B; ++b)
        if (!rejected[b]) record.update_norm = std::max(record.update_norm, proposed.change[b]);
      if (record.rejected > 0) restore_rejected<ExecSpace>(current, next, rejected);
    }
    result.history.push_back(record);
    if (opt.on_iteration) opt.on_iteration(record);
    result.iterations = it;
    // Trust-region steps that overflow are rejected like any other that raises the merit.
    const bool finite =
        trust_region_step || (update < Kokkos::Experimental::infinity<double>::value &&
                              residual < Kokkos::Experimental::infinity<double>::value);
    // Keep the last finite iterate; never hand back NaN/Inf as an answer.
    if (!finite && !opt.fallback) {
      result.status = Status::Diverged;
      result.iterations = it - 1;
      break;
    }
    // A residual that merely rises is normal for a Newton iteration from far away (the
    // suffix beyond the exact prefix is still wrong: on the benchmark GRU at T = 1e5 it rises
    // by ~2x once); one that jumps by an order of magnitude, or overflows, is an overshoot.
    constexpr double kOvershootGrowth = 10;
    if (may_damp && !damped && (!finite || residual > kOvershootGrowth * last_residual)) {
      // The full Newton step overshoots: go on from `current` with damped steps.
      damped = true;
      result.fallback = Fallback::Damped;
      result.fallback_iteration = it;
      last_residual = residual;
      continue;
    }
    last_residual = residual;
    if (!finite || (opt.fallback && planner.record(prefix, residual))) {
      if (finite && is_predictable(result.lle) && result.fallback != Fallback::WarmRestart) {
        // Slow on a predictable recurrence (far from the answer, strongly nonlinear): start
        // again from the windowed warm start, which such a recurrence makes nearly exact.
        result.fallback = Fallback::WarmRestart;
        result.fallback_iteration = it;
        result.warm_window = lle_window;
        warm_start(current, lle_window);
        planner = SequentialFallbackPlanner(T_global, tol);
        merit.merit.clear();
        last_residual = Kokkos::Experimental::infinity<double>::value;
        result.final_residual = residual_of_current();
        residual_known = true;
        if (result.final_residual <= tol) {
          result.status = Status::Converged;
          break;
        }
        continue;
      }
      // Damped steps fail too, or the parallel iteration cannot pay: evaluate sequentially,
      // which also tells whether the recurrence itself overflows.
      finish_from_prefix(prefix, it);
      break;
    }
    std::swap(current, next);
    if (trust_region_step && merit_linearises && record.rejected == 0) {
      stored_current = true;
      std::swap(first_inexact, next_first_inexact);
    }
    if (linearised) {
      current_linearised = true;
      current_residual = next_residual;
      std::swap(first_inexact, next_first_inexact);
    }
    result.final_update = record.update_norm;
    if (trust_region_step) {
      // The merit pass measured the new iterate's residual already.
      result.final_residual = 0;
      for (double r : merit.max) result.final_residual = std::max(result.final_residual, r);
      residual_known = true;
      // The same two-part test as undamped steps: the reference's small step, and the
      // residual.  The residual alone stops a linearly converging iteration as soon as it
      // dips under tol, and the error against the answer can then exceed tol (the residual
      // is amplified along the sequence): quasi-ELK stopped one iteration early with error
      // 1.4e-4 at tol 1e-4.  Rejected steps move nothing, so they count as zero.
      if (result.final_residual <= tol && record.update_norm <= tol) {
        result.status = Status::Converged;
        break;
      }
      if (trust_region_exhausted(merit, region, tol)) {
        result.status = Status::Stalled;
        if (opt.fallback) finish_from_prefix(0, it);
        break;
      }
      residual_known = false;
    } else if (update <= tol) {
      // A small step is not an answer by itself: under damping (large lambda) every step is
      // small.  Converged only if the new iterate's residual meets the tolerance too; a
      // small step that no longer reduces the residual is a stall.  An update of exactly 0
      // is a fixed point of the iteration in working precision (for every method, damped
      // ones included, a zero step means s = f(s)), whatever tolerance was asked for.
      result.final_residual =
          current_linearised ? decomp.max_all(double(current_residual)) : residual_of_current();
      residual_known = true;
      if (result.final_residual <= tol || update == 0) {
        result.status = Status::Converged;
        break;
      }
      if (!(result.final_residual < 0.5 * residual)) {
        result.status = Status::Stalled;
        // Not a dead end with the fallback: evaluate sequentially.  Damped (Kalman) steps may
        // move steps inside the old prefix, so those restart from step 0.
        if (opt.fallback) finish_from_prefix(kalman || damped ? 0 : prefix, it);
        break;
      }
      residual_known = false;  // still making progress: go on
    }
    if (opt.on_checkpoint && opt.checkpoint_every > 0 && it % opt.checkpoint_every == 0) {
      if (current.data() != states.data()) Kokkos::deep_copy(states, current);
      opt.on_checkpoint(
          Checkpoint{it, adaptive && (kalman || damped) ? region : TrustRegionState{}});
    }
  }
  if (T_global == 0) result.status = Status::Converged;
  if (!residual_known)
    result.final_residual = T_global == 0        ? 0.0
                            : current_linearised ? decomp.max_all(double(current_residual))
                                                 : residual_of_current();
  // Hitting the cap with a residual within tolerance is an answer all the same.
  if (result.status == Status::MaxIterations && result.final_residual <= tol)
    result.status = Status::Converged;
  if (current.data() != states.data()) Kokkos::deep_copy(states, current);
  result.seconds = timer.seconds();
  return result;
}

}  // namespace ungulate::solvers
