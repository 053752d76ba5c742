// Convergence properties of the Newton-type iterations: (quasi-)DEER is exact on a growing
// prefix, ELK with lambda -> 0 is DEER, the iteration history and residuals are what they
// claim to be, and the initialisations behave.
#include "test_helpers.hpp"

namespace {

using namespace ut;
using ungulate::Initialization;
using ungulate::KalmanEstimate;
using ungulate::Method;
using ungulate::Status;

template <class S>
struct Problem {
  int B, T, D, I;
  ungulate::cells::GRU<S> gru;
  View3<S> x;
  View2<S> s0;
  std::vector<double> hx, hs0, href;  // host copies and the sequential answer (double)
};

template <class S>
Problem<S> make_problem(int B, int T, int D, std::uint64_t seed) {
  const int I = 3;
  Rng rng(seed);
  Problem<S> p{B, T, D, I, make_random_gru<S>(D, I, seed, 1.0, 0.5), {}, {}, {}, {}, {}};
  p.x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng));
  p.s0 = make_view2<S>("s0", B, D, uniform_vector(std::size_t(B) * D, rng, -0.7, 0.7));
  p.hx = to_vector(p.x);
  p.hs0 = to_vector(p.s0);
  p.href = host_sequential(HostGru(p.gru), B, T, p.hx, p.hs0);
  return p;
}

template <class S>
struct Run {
  ungulate::SolveResult result;
  std::vector<double> states;
};

template <class S>
Run<S> solve(const Problem<S>& p, const ungulate::SolverOptions& o,
             const std::vector<double>* given = nullptr) {
  View3<S> out("out", p.B, p.T, p.D);
  if (given) from_vector(out, *given);
  Run<S> r;
  r.result = ungulate::solve(p.gru, p.x, p.s0, out, o);
  r.states = to_vector(out);
  return r;
}

/// max over (b, t <= last, i) of |a - b|: the error on the first `last + 1` steps.
double prefix_error(const std::vector<double>& a, const std::vector<double>& b, int B, int T, int D,
                    int last) {
  double m = 0;
  for (int bb = 0; bb < B; ++bb)
    for (int t = 0; t <= last && t < T; ++t)
      for (int i = 0; i < D; ++i) {
        const std::size_t k = (std::size_t(bb) * T + t) * D + i;
        m = std::max(m, std::abs(a[k] - b[k]));
      }
  return m;
}

/// max_t |s_t - f(s_{t-1})| on the host in double.
template <class S>
double host_residual(const Problem<S>& p, const std::vector<double>& s) {
  const HostGru g(p.gru);
  std::vector<double> f(p.D);
  double m = 0;
  for (int b = 0; b < p.B; ++b)
    for (int t = 0; t < p.T; ++t) {
      const double* h =
          t == 0 ? &p.hs0[std::size_t(b) * p.D] : &s[(std::size_t(b) * p.T + t - 1) * p.D];
      g.evaluate(h, &p.hx[(std::size_t(b) * p.T + t) * p.I], f.data());
      for (int i = 0; i < p.D; ++i)
        m = std::max(m, std::abs(s[(std::size_t(b) * p.T + t) * p.D + i] - f[i]));
    }
  return m;
}

template <class S>
double rounding() {
  return sizeof(S) == 4 ? 2e-5 : 1e-12;
}

template <class S>
class Convergence : public ::testing::Test {};
TYPED_TEST_SUITE(Convergence, Scalars, ScalarNames);

// After k iterations (quasi-)DEER has the first k steps exactly (step 1 is exact and each
// iteration extends the exact prefix by at least one), so T iterations give the answer.
TYPED_TEST(Convergence, DeerIsExactOnAGrowingPrefix) {
  using S = TypeParam;
  for (int T : {7, 20})
    for (int D : {3, 8})
      for (Method m : {Method::QuasiDeer, Method::Deer})
        for (Initialization init : {Initialization::Zeros, Initialization::Given}) {
          const auto p = make_problem<S>(2, T, D, 10 * T + D);
          Rng rng(T + D);
          const auto guess = normal_vector(std::size_t(p.B) * T * D, rng, 0.5);
          for (int k = 1; k <= T; ++k) {
            ungulate::SolverOptions o;
            o.method = m;
            o.init = init;
            o.max_iterations = k;
            o.tolerance = 1e-300;
            o.fallback = false;  // the raw iteration's property
            o.num_chunks = 3;
            const auto r = solve(p, o, &guess);
            const std::string where = std::string(ungulate::to_string(m)) + " " +
                                      ungulate::to_string(init) + " T=" + std::to_string(T) +
                                      " D=" + std::to_string(D) + " k=" + std::to_string(k);
            ASSERT_NE(r.result.status, Status::Diverged) << where;
            // Fewer iterations only when an update was exactly zero (converged).
            EXPECT_LE(r.result.iterations, k) << where;
            if (r.result.iterations < k) {
              EXPECT_EQ(r.result.status, Status::Converged) << where;
              EXPECT_EQ(r.result.final_update, 0.0) << where;
            }
            EXPECT_LT(prefix_error(r.states, p.href, p.B, T, D, k - 1), rounding<S>()) << where;
            if (k == 1) {
              // ... and only that prefix: one iteration from an arbitrary iterate is not the
              // answer (otherwise this test would prove nothing).
              EXPECT_GT(prefix_error(r.states, p.href, p.B, T, D, T - 1), 1e-3) << where;
            }
            if (k == T) {
              EXPECT_LT(scaled_diff(r.states, p.href), rounding<S>()) << where;
            }
          }
        }
}

// ELK's Kalman step with lambda -> 0 is DEER's Newton step (observations carry no weight),
// iterate by iterate; likewise quasi-ELK and quasi-DEER.  A large lambda is different.
TYPED_TEST(Convergence, ElkWithTinyLambdaReproducesDeerIterates) {
  using S = TypeParam;
  const double tol = sizeof(S) == 4 ? 1e-4 : 1e-7;
  for (int D : {1, 4})
    for (int T : {5, 60}) {
      const auto p = make_problem<S>(2, T, D, 300 + D + T);
      for (bool quasi : {false, true})
        for (int k : {1, 2, 3}) {
          ungulate::SolverOptions o;
          o.max_iterations = k;
          o.tolerance = 1e-300;
          o.trust_region = ungulate::TrustRegion::Fixed;  // lambda as given, every step kept
          o.method = quasi ? Method::QuasiDeer : Method::Deer;
          const auto deer = solve(p, o);
          ASSERT_TRUE(all_finite(deer.states));
          for (KalmanEstimate est : {KalmanEstimate::Filter, KalmanEstimate::Smoother}) {
            o.method = quasi ? Method::QuasiElk : Method::Elk;
            o.elk_estimate = est;
            const std::string where = std::string(ungulate::to_string(o.method)) +
                                      (est == KalmanEstimate::Filter ? " filter" : " smoother") +
                                      " D=" + std::to_string(D) + " T=" + std::to_string(T) +
                                      " k=" + std::to_string(k);
            o.lambda = 1e-9;
            EXPECT_LT(scaled_diff(solve(p, o).states, deer.states), tol) << where;
            o.lambda = 0.0;  // allowed: exactly DEER
            EXPECT_LT(scaled_diff(solve(p, o).states, deer.states), sizeof(S) == 4 ? 1e-5 : 1e-12)
                << where << " lambda=0";
            o.lambda = 1.0;  // a real trust region: a different, shorter step
            if (k < T) {
              EXPECT_GT(scaled_diff(solve(p, o).states, deer.states), 1e-3) << where << " lambda=1";
            }
          }
        }
    }
}

// SolveResult: one history record per iteration, numbered from 1, whose residual is that of
// the iterate the step started from and whose update norm is the step's max-abs change;
// final_residual is the residual of the returned states; on_iteration sees the same records.
TYPED_TEST(Convergence, HistoryRecordsEveryIteration) {
  using S = TypeParam;
  const auto p = make_problem<S>(2, 40, 3, 77);
  for (const auto& v : all_variants()) {
    ungulate::SolverOptions o;
    v.apply(o);
    o.max_iterations = 100;
    std::vector<ungulate::IterationRecord> seen;
    o.on_iteration = [&](const ungulate::IterationRecord& r) { seen.push_back(r); };
    const auto full = solve(p, o);
    const auto& h = full.result.history;
    const std::string where = v.name();
    ASSERT_EQ(full.result.status, Status::Converged) << where;
    ASSERT_EQ(int(h.size()), full.result.iterations) << where;
    ASSERT_GE(h.size(), 2u) << where;
    ASSERT_EQ(seen.size(), h.size()) << where;
    const double tol = ungulate::default_tolerance<S>();
    for (std::size_t i = 0; i < h.size(); ++i) {
      EXPECT_EQ(h[i].iteration, int(i) + 1) << where;
      EXPECT_EQ(seen[i].iteration, h[i].iteration) << where;
      EXPECT_EQ(seen[i].update_norm, h[i].update_norm) << where;
      EXPECT_EQ(seen[i].residual, h[i].residual) << where;
      EXPECT_TRUE(std::isfinite(h[i].update_norm) && h[i].update_norm >= 0) << where;
      if (i > 0) {
        EXPECT_GE(h[i].seconds, h[i - 1].seconds) << where;
      }
      // Every method stops on a small update and a residual within tol.  Undamped steps
      // check the residual only after a small update; adaptive trust-region steps know the
      // kept iterate's residual from their merit pass (it is the next record's residual).
      if (i + 1 < h.size()) {
        if (v.damped()) {
          EXPECT_TRUE(h[i].update_norm > tol || h[i + 1].residual > tol)
              << where << " stopped late at " << i + 1;
        } else {
          EXPECT_GT(h[i].update_norm, tol) << where << " stopped late";
        }
      }
      EXPECT_EQ(h[i].lambda > 0, v.damped()) << where;
    }
    EXPECT_LE(full.result.final_residual, tol) << where;
    EXPECT_LE(h.back().update_norm, tol) << where;
    EXPECT_EQ(full.result.final_update, h.back().update_norm) << where;
    EXPECT_LT(full.result.final_residual, 10 * tol) << where;
    EXPECT_NEAR(full.result.final_residual, host_residual(p, full.states), rounding<S>()) << where;
    // Replay the first iterations one at a time: record k's residual is that of iterate k-1
    // (iterate 0 = zeros), its update norm is |iterate k - iterate k-1|.
    std::vector<double> prev(full.states.size(), 0.0);
    ungulate::SolverOptions step = o;
    step.on_iteration = nullptr;
    for (int k = 1; k <= std::min<int>(4, int(h.size())); ++k) {
      step.max_iterations = k;
      const auto r = solve(p, step);
      EXPECT_NEAR(h[k - 1].residual, host_residual(p, prev),
                  10 * rounding<S>() * (1 + h[k - 1].residual))
          << where << " k=" << k;
      EXPECT_NEAR(h[k - 1].update_norm, max_abs_diff(r.states, prev),
                  10 * rounding<S>() * (1 + h[k - 1].update_norm))
          << where << " k=" << k;
      EXPECT_NEAR(r.result.final_residual, host_residual(p, r.states),
                  10 * rounding<S>() * (1 + r.result.final_residual))
          << where << " k=" << k;
      prev = r.states;
    }
  }
}

// Starting from the exact answer, the first update is at rounding level: one iteration.
TYPED_TEST(Convergence, GivenExactAnswerConvergesInOneIteration) {
  using S = TypeParam;
  const auto p = make_problem<S>(3, 200, 5, 91);
  View3<S> seq("seq", p.B, p.T, p.D);
  ungulate::SolverOptions o;
  o.method = Method::Sequential;
  ungulate::solve(p.gru, p.x, p.s0, seq, o);
  const auto exact = to_vector(seq);
  for (const auto& v : all_variants()) {
    v.apply(o);
    o.init = Initialization::Given;
    const auto r = solve(p, o, &exact);
    EXPECT_EQ(r.result.status, Status::Converged) << v.name();
    EXPECT_EQ(r.result.iterations, 1) << v.name();
    EXPECT_LT(max_abs_diff(r.states, exact), ungulate::default_tolerance<S>()) << v.name();
  }
}

/// Host reference of the warm start: chunk c > 0 runs from zero `window` steps before its
/// first step, or from s0 at step 0 when the window reaches back that far.
template <class S>
std::vector<double> host_warm_start(const Problem<S>& p, int chunks, int window) {
  const HostGru g(p.gru);
  const int T = p.T, L = (T + chunks - 1) / chunks;
  std::vector<double> ref(std::size_t(p.B) * T * p.D), zero(p.D, 0.0), h(p.D), out(p.D);
  for (int b = 0; b < p.B; ++b)
    for (int begin = 0; begin < T; begin += L) {
      const int first = std::max(begin - window, 0);
      if (first == 0)
        std::copy_n(&p.hs0[std::size_t(b) * p.D], p.D, h.begin());
      else
        h = zero;
      for (int t = first; t < std::min(begin + L, T); ++t) {
        g.evaluate(h.data(), &p.hx[(std::size_t(b) * T + t) * p.I], out.data());
        h = out;
        if (t >= begin) std::copy_n(out.begin(), p.D, &ref[(std::size_t(b) * T + t) * p.D]);
      }
    }
  return ref;
}

// The warm start is what it says, for windows 0 (each chunk from zero at its first step),
// odd windows shorter than a chunk and windows reaching back to the start of the sequence.
TYPED_TEST(Convergence, WarmStartIsChunkwiseSequentialFromAWindow) {
  using S = TypeParam;
  const int T = 1000, C = 8;
  const auto p = make_problem<S>(2, T, 4, 55);
  for (int window : {0, 1, 37, 125, 300, 5000}) {
    ungulate::SolverOptions o;
    o.init = Initialization::Warm;
    o.num_chunks = C;
    o.warm_window = window;
    o.max_iterations = 0;
    const auto warm = solve(p, o);
    if (window == 0) {
      EXPECT_EQ(warm.result.status, Status::MaxIterations);
    }
    EXPECT_EQ(warm.result.warm_window, window);
    EXPECT_LT(scaled_diff(warm.states, host_warm_start(p, C, window)), 10 * rounding<S>())
        << "window " << window;
    if (window >= T) {
      EXPECT_LT(scaled_diff(warm.states, p.href), 10 * rounding<S>());
    }
  }
}

// Solving from the warm start converges, never in many more iterations than from zeros, and
// with the window chosen from the observed contraction in one or two iterations on this
// contracting GRU.
TYPED_TEST(Convergence, WarmStartConverges) {
  using S = TypeParam;
  const auto p = make_problem<S>(2, 2000, 4, 55);
  for (const auto& v : all_variants()) {
    ungulate::SolverOptions o;
    v.apply(o);
    o.num_chunks = 4;
    o.max_iterations = 200;
    o.init = Initialization::Zeros;
    const auto cold = solve(p, o);
    o.init = Initialization::Warm;
    for (int window : {0, -1}) {
      o.warm_window = window;
      const auto hot = solve(p, o);
      EXPECT_EQ(hot.result.status, Status::Converged) << v.name();
      EXPECT_LT(scaled_diff(hot.states, p.href), solver_tol<S>()) << v.name();
      EXPECT_LE(hot.result.iterations, cold.result.iterations + 3) << v.name();
      if (window < 0) {
        EXPECT_GT(hot.result.warm_window, 0) << v.name();
        EXPECT_LE(hot.result.iterations, 2) << v.name();
      }
    }
  }
}

// A recurrence that does not forget its start (update gate saturated at 1: h' = h) gets no
// window, and one chunk never needs one.
TYPED_TEST(Convergence, WarmWindowIsZeroWithoutContraction) {
  using S = TypeParam;
  auto p = make_problem<S>(2, 1000, 4, 56);
  auto bias = Kokkos::create_mirror_view(p.gru.input_bias);
  Kokkos::deep_copy(bias, p.gru.input_bias);
  for (int i = 0; i < p.D; ++i) bias(1, i) = S(60);  // z = sigmoid(60 + ...) = 1
  Kokkos::deep_copy(p.gru.input_bias, bias);
  EXPECT_EQ(ungulate::solvers::choose_warm_window(p.gru, p.x, p.s0, 8, 1e-4), 0);
  const auto q = make_problem<S>(2, 1000, 4, 55);
  EXPECT_GT(ungulate::solvers::choose_warm_window(q.gru, q.x, q.s0, 8, 1e-4), 0);
  EXPECT_EQ(ungulate::solvers::choose_warm_window(q.gru, q.x, q.s0, 1, 1e-4), 0);
}

// max_iterations caps the iterations; the result then says MaxIterations.
TYPED_TEST(Convergence, IterationCapIsHonoured) {
  using S = TypeParam;
  const auto p = make_problem<S>(1, 300, 4, 12);
  for (const auto& v : all_variants())
    for (int cap : {1, 2, 3}) {
      ungulate::SolverOptions o;
      v.apply(o);
      o.max_iterations = cap;
      const auto r = solve(p, o);
      EXPECT_EQ(r.result.status, Status::MaxIterations) << v.name();
      EXPECT_EQ(r.result.iterations, cap) << v.name();
      EXPECT_EQ(int(r.result.history.size()), cap) << v.name();
    }
}

// Checkpoints: every `checkpoint_every` iterations the current iterate is in the caller's
// `states` and on_checkpoint runs; restarting from it with Initialization::Given
// finishes exactly like the uninterrupted run.
TYPED_TEST(Convergence, CheckpointsAreRestartPoints) {
  using S = TypeParam;
  const auto p = make_problem<S>(2, 120, 3, 31);
  for (const auto& v : all_variants()) {
    ungulate::SolverOptions o;
    v.apply(o);
    o.max_iterations = 200;
    const auto plain = solve(p, o);
    ASSERT_EQ(plain.result.status, Status::Converged) << v.name();
    ASSERT_GE(plain.result.iterations, 4) << v.name() << ": too easy to test checkpoints";

    View3<S> out("out", p.B, p.T, p.D);
    std::vector<int> calls;
    std::vector<std::vector<double>> saved;
    std::vector<ungulate::TrustRegionState> regions;
    o.checkpoint_every = 2;
    o.on_checkpoint = [&](const ungulate::Checkpoint& c) {
      calls.push_back(c.iteration);
      saved.push_back(to_vector(out));
      regions.push_back(c.trust_region);
    };
    const auto r = ungulate::solve(p.gru, p.x, p.s0, out, o);
    EXPECT_EQ(r.iterations, plain.result.iterations) << v.name();
    EXPECT_EQ(max_abs_diff(to_vector(out), plain.states), 0.0) << v.name();
    // Called at 2, 4, ... for every iteration that did not end the solve.
    ASSERT_EQ(int(calls.size()), (r.iterations - 1) / 2) << v.name();
    for (std::size_t k = 0; k < calls.size(); ++k) EXPECT_EQ(calls[k], 2 * int(k) + 2) << v.name();
    for (std::size_t k = 0; k < calls.size(); ++k) {
      // The saved states are iterate calls[k] ...
      ungulate::SolverOptions capped = o;
      capped.on_checkpoint = nullptr;
      capped.max_iterations = calls[k];
      EXPECT_EQ(max_abs_diff(saved[k], solve(p, capped).states), 0.0)
          << v.name() << " checkpoint " << calls[k];
      // ... and a restart from them (and the trust region's state) ends where the
      // uninterrupted run ended.
      ungulate::SolverOptions restart = capped;
      restart.resume_trust_region = regions[k];
      restart.max_iterations = 200;
      restart.init = Initialization::Given;
      const auto resumed = solve(p, restart, &saved[k]);
      EXPECT_EQ(resumed.result.status, Status::Converged) << v.name();
      EXPECT_EQ(resumed.result.iterations + calls[k], plain.result.iterations) << v.name();
      EXPECT_EQ(max_abs_diff(resumed.states, plain.states), 0.0) << v.name();
    }
    // No callback, or checkpoint_every = 0: nothing is called.
    calls.clear();
    o.checkpoint_every = 0;
    ungulate::solve(p.gru, p.x, p.s0, out, o);
    EXPECT_TRUE(calls.empty()) << v.name();
  }
}

}  // namespace
