// Every parallel method against sequential evaluation on random GRUs.
//
// Comparison tolerance, relative to the data's scale (max |s| + 1): 1e-3 in float, 1e-6 in
// double, with the solver's default stopping tolerance (update norm 1e-4 / 1e-7).  Measured
// errors on these cases are at most ~3e-5 (float) and ~3e-8 (double): the linearly convergent
// methods (quasi-DEER, ELK) stop with an error of the order of the last update, and float
// rounding through 1000 steps adds ~1e-5.  An off-by-one step, a wrong Jacobian or a
// misordered combine gives O(0.1) errors.
#include <algorithm>
#include <functional>
#include <limits>

#include "test_helpers.hpp"

namespace {

using namespace ut;
using ungulate::Initialization;
using ungulate::Method;
using ungulate::Status;

/// One recurrence problem: a GRU, inputs and initial states, with the sequential answer.
template <class S>
struct GruProblem {
  int B, T, D, I;
  ungulate::cells::GRU<S> gru;
  View3<S> x;
  View2<S> s0;
  View3<S> reference;  // Method::Sequential
  std::vector<double> href;
};

/// kind 0: the benchmark workload (orthogonal recurrent kernels, zero biases, zero s0);
/// otherwise random weights with non-zero biases and a non-zero random s0.
template <class S>
GruProblem<S> make_gru_problem(int B, int T, int D, int kind, std::uint64_t seed) {
  const int I = kind == 0 ? D : D + 2;
  GruProblem<S> p{B, T, D, I, {}, {}, {}, {}, {}};
  Rng rng(seed);
  if (kind == 0) {
    p.gru = ungulate::make_benchmark_gru<S>(D, I, seed);
    p.x = ungulate::make_benchmark_inputs<S>(B, T, I, seed + 1);
    p.s0 = View2<S>("s0", B, D);
  } else {
    p.gru = make_random_gru<S>(D, I, seed, 1.0, 0.5);
    p.x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng));
    p.s0 = make_view2<S>("s0", B, D, uniform_vector(std::size_t(B) * D, rng, -0.9, 0.9));
  }
  p.reference = View3<S>("reference", B, T, D);
  ungulate::SolverOptions o;
  o.method = Method::Sequential;
  const auto r = ungulate::solve(p.gru, p.x, p.s0, p.reference, o);
  EXPECT_EQ(r.status, Status::Converged);
  EXPECT_EQ(r.final_residual, 0.0);
  p.href = to_vector(p.reference);
  return p;
}

/// Iteration cap for the comparisons: generous (the methods converge in ~5-25 iterations
/// here, T + 1 at worst for quasi-DEER), bounded so that a broken solver fails quickly.
int cap_for(int T) {
  return std::min(T + 60, 200);
}

template <class S>
void expect_matches_sequential(const GruProblem<S>& p, const ungulate::SolverOptions& o,
                               const std::string& where) {
  View3<S> out("out", p.B, p.T, p.D);
  if (o.init == Initialization::Given) {
    Rng rng(std::hash<std::string>()(where));
    from_vector(out, normal_vector(std::size_t(p.B) * p.T * p.D, rng, 0.5));
  }
  const auto r = ungulate::solve(p.gru, p.x, p.s0, out, o);
  const auto got = to_vector(out);
  EXPECT_EQ(r.status, Status::Converged) << where << " (" << r.iterations << " iterations)";
  EXPECT_LT(scaled_diff(got, p.href), solver_tol<S>()) << where;
  EXPECT_TRUE(all_finite(got)) << where;
  EXPECT_EQ(int(r.history.size()), r.iterations) << where;
  // "Converged" is a promise about the residual, not about the last step.
  const double tol = o.tolerance > 0 ? o.tolerance : ungulate::default_tolerance<S>();
  EXPECT_LE(r.final_residual, tol) << where;
}

enum class Prec { Float, Double };

using Param = std::tuple<Prec, int /*hidden*/, int /*variant index*/>;

class SolverVsSequential : public ::testing::TestWithParam<Param> {
 protected:
  template <class S>
  void run() {
    const int D = std::get<1>(GetParam());
    const Variant v = all_variants()[std::get<2>(GetParam())];
    for (int T : {1, 2, 7, 1000})
      for (int B : {1, 4})
        for (int kind : {0, 1, 2}) {
          const std::uint64_t seed = 31 * T + 7 * B + kind + 1000 * D;
          const auto p = make_gru_problem<S>(B, T, D, kind, seed);
          ungulate::SolverOptions o;
          v.apply(o);
          o.max_iterations = cap_for(T);
          expect_matches_sequential(p, o,
                                    v.name() + " " + scalar_name<S>() + " D=" + std::to_string(D) +
                                        " T=" + std::to_string(T) + " B=" + std::to_string(B) +
                                        " kind=" + std::to_string(kind));
        }
  }
};

TEST_P(SolverVsSequential, RandomGru) {
  if (std::get<0>(GetParam()) == Prec::Float)
    run<float>();
  else
    run<double>();
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string n = all_variants()[std::get<2>(info.param)].name();
  for (auto& ch : n)
    if (ch == '-') ch = '_';
  return n + "_" + (std::get<0>(info.param) == Prec::Float ? "float" : "double") + "_h" +
         std::to_string(std::get<1>(info.param));
}

// 19: a state that spans a 16-row block of the cell and a rest.
INSTANTIATE_TEST_SUITE_P(AllMethods, SolverVsSequential,
                         ::testing::Combine(::testing::Values(Prec::Float, Prec::Double),
                                            ::testing::Values(1, 3, 8, 16, 19),
                                            ::testing::Range(0, 6)),
                         param_name);

// ---- sequential itself -----------------------------------------------------------------------

template <class S>
class Sequential : public ::testing::Test {};
TYPED_TEST_SUITE(Sequential, Scalars, ScalarNames);

TYPED_TEST(Sequential, MatchesHostDoubleLoop) {
  using S = TypeParam;
  for (int kind : {0, 1})
    for (int D : {1, 5, 16}) {
      const auto p = make_gru_problem<S>(3, 500, D, kind, 5 + D);
      const auto host = host_sequential(HostGru(p.gru), p.B, p.T, to_vector(p.x), to_vector(p.s0));
      EXPECT_LT(scaled_diff(p.href, host), sizeof(S) == 4 ? 1e-4 : 1e-12) << "D=" << D;
    }
}

// ---- initialisations and chunk counts -----------------------------------------------------

template <class S>
class SolverOptionsSweep : public ::testing::Test {};
TYPED_TEST_SUITE(SolverOptionsSweep, Scalars, ScalarNames);

TYPED_TEST(SolverOptionsSweep, EveryInitialisation) {
  using S = TypeParam;
  for (int T : {1, 7, 300}) {
    const auto p = make_gru_problem<S>(2, T, 4, 1, 900 + T);
    for (const auto& v : all_variants())
      for (Initialization init :
           {Initialization::Zeros, Initialization::Given, Initialization::Warm})
        for (int chunks : {0, 3}) {
          ungulate::SolverOptions o;
          v.apply(o);
          o.init = init;
          o.num_chunks = chunks;
          o.max_iterations = cap_for(T);
          expect_matches_sequential(p, o,
                                    v.name() + " init=" + ungulate::to_string(init) + " chunks=" +
                                        std::to_string(chunks) + " T=" + std::to_string(T));
        }
  }
}

TYPED_TEST(SolverOptionsSweep, ExplicitChunkCountsIncludingMoreThanT) {
  using S = TypeParam;
  for (int T : {1, 2, 7, 100}) {
    const auto p = make_gru_problem<S>(3, T, 3, 2, 700 + T);
    for (const auto& v : all_variants())
      for (int chunks : {1, 2, 5, 64, 5000}) {
        ungulate::SolverOptions o;
        v.apply(o);
        o.num_chunks = chunks;
        o.max_iterations = cap_for(T);
        expect_matches_sequential(
            p, o, v.name() + " chunks=" + std::to_string(chunks) + " T=" + std::to_string(T));
      }
  }
}

// The answer does not depend on the chunking beyond rounding: one chunk vs many.
TYPED_TEST(SolverOptionsSweep, ChunkingChangesOnlyRounding) {
  using S = TypeParam;
  const auto p = make_gru_problem<S>(2, 257, 3, 1, 4321);
  for (const auto& v : all_variants()) {
    std::vector<double> first;
    for (int chunks : {1, 4, 13, 257}) {
      View3<S> out("out", p.B, p.T, p.D);
      ungulate::SolverOptions o;
      v.apply(o);
      o.num_chunks = chunks;
      o.max_iterations = 3;  // not converged: compares the iterates themselves
      ungulate::solve(p.gru, p.x, p.s0, out, o);
      const auto got = to_vector(out);
      if (first.empty())
        first = got;
      else
        EXPECT_LT(scaled_diff(got, first), sizeof(S) == 4 ? 1e-4 : 1e-11)
            << v.name() << " chunks=" << chunks;
    }
  }
}

// Storing the linearisation (host default for diagonal Jacobians) must not change the
// iterates: every cache choice gives the same iteration count and the same answer.
TYPED_TEST(SolverOptionsSweep, LinearisationCacheChangesNothing) {
  using S = TypeParam;
  using ungulate::LinearisationCache;
  for (int T : {1, 7, 257}) {
    const auto p = make_gru_problem<S>(3, T, 5, 1, 5150 + T);
    for (const auto& v : all_variants())
      for (int chunks : {0, 4}) {
        std::vector<double> first;
        int first_iterations = -1;
        for (auto cache :
             {LinearisationCache::Never, LinearisationCache::Auto, LinearisationCache::Always}) {
          View3<S> out("out", p.B, p.T, p.D);
          ungulate::SolverOptions o;
          v.apply(o);
          o.num_chunks = chunks;
          o.linearisation_cache = cache;
          o.max_iterations = cap_for(T);
          const auto r = ungulate::solve(p.gru, p.x, p.s0, out, o);
          const std::string where = v.name() + " T=" + std::to_string(T) +
                                    " chunks=" + std::to_string(chunks) +
                                    " cache=" + std::to_string(int(cache));
          EXPECT_EQ(r.status, Status::Converged) << where;
          const auto got = to_vector(out);
          if (first.empty()) {
            first = got;
            first_iterations = r.iterations;
          } else {
            EXPECT_EQ(r.iterations, first_iterations) << where;
            EXPECT_LT(scaled_diff(got, first), sizeof(S) == 4 ? 1e-6 : 1e-14) << where;
          }
        }
      }
  }
}

// A Workspace shared by successive solves of different lengths and methods, holding
// whatever the previous solve left (NaN here), must give exactly what solves without one
// give: the solver writes every entry before it reads it.  It grows to the largest request.
TYPED_TEST(SolverOptionsSweep, SharedWorkspaceChangesNothing) {
  using S = TypeParam;
  using Workspace = ungulate::Workspace<S>;
  const int B = 3, D = 5;
  Workspace workspace;
  const auto poison = [&](std::size_t T) {
    for (auto role : {Workspace::Role::NextIterate, Workspace::Role::Linearisation,
                      Workspace::Role::FilteredCovariance})
      Kokkos::deep_copy(workspace.array(role, B, T, 2 * D), std::numeric_limits<S>::quiet_NaN());
  };
  std::size_t largest = 0;
  for (int T : {257, 7, 1000, 1, 300}) {
    const auto p = make_gru_problem<S>(B, T, D, 1, 7310 + T);
    for (const auto& v : all_variants())
      for (bool warm : {false, true}) {
        ungulate::SolverOptions o;
        v.apply(o);
        o.init = warm ? Initialization::Warm : Initialization::Zeros;
        o.max_iterations = cap_for(T);
        View3<S> fresh("fresh", B, T, D), shared("shared", B, T, D);
        const auto r_fresh = ungulate::solve(p.gru, p.x, p.s0, fresh, o);
        poison(std::size_t(T));
        const auto r_shared =
            ungulate::solve(p.gru, p.x, p.s0, shared, o, ungulate::dist::SingleRank(), workspace);
        const std::string where =
            v.name() + " T=" + std::to_string(T) + (warm ? " warm" : " zeros");
        EXPECT_EQ(r_shared.status, r_fresh.status) << where;
        EXPECT_EQ(r_shared.iterations, r_fresh.iterations) << where;
        EXPECT_EQ(to_vector(shared), to_vector(fresh)) << where;
        largest = std::max(largest, workspace.bytes());
      }
    // The buffers never shrink: a shorter problem reuses them.
    EXPECT_EQ(workspace.bytes(), largest) << "T=" << T;
  }
  EXPECT_GE(workspace.bytes(), std::size_t(3) * B * 1000 * 2 * D * sizeof(S));
  workspace.release();
  EXPECT_EQ(workspace.bytes(), 0u);
}

// ---- long sequences (cheap methods only) -------------------------------------------------

TEST(LongSequence, QuasiDeerHidden8Float) {
  const auto p = make_gru_problem<float>(1, 100003, 8, 0, 17);
  ungulate::SolverOptions o;
  o.method = Method::QuasiDeer;
  expect_matches_sequential(p, o, "quasi-deer T=100003");
}

TEST(LongSequence, QuasiElkHidden3Double) {
  const auto p = make_gru_problem<double>(1, 100003, 3, 1, 18);
  for (auto est : {ungulate::KalmanEstimate::Filter, ungulate::KalmanEstimate::Smoother}) {
    ungulate::SolverOptions o;
    o.method = Method::QuasiElk;
    o.elk_estimate = est;
    expect_matches_sequential(p, o, "quasi-elk T=100003");
  }
}

TEST(LongSequence, DeerAndElkHidden3Float) {
  const auto p = make_gru_problem<float>(1, 100003, 3, 1, 19);
  for (const auto& v : {Variant{Method::Deer, ungulate::KalmanEstimate::Smoother},
                        Variant{Method::Elk, ungulate::KalmanEstimate::Filter}}) {
    ungulate::SolverOptions o;
    v.apply(o);
    expect_matches_sequential(p, o, v.name() + " T=100003");
  }
}

// ---- defaults ---------------------------------------------------------------------------------

// With default options (max_iterations < 0) every method must converge on an easy problem.
// The default cap min(T + 1, 1000) is quasi-DEER's worst case, but ELK's damped steps
// (each contracts the error by only ~lambda / (1 + lambda) even at T = 1) need more.
TEST(SolverDefaults, EveryMethodConvergesWithDefaultIterationCap) {
  for (int T : {1, 2, 7}) {
    const auto p = make_gru_problem<double>(2, T, 4, 1, 60 + T);
    for (const auto& v : all_variants()) {
      ungulate::SolverOptions o;
      v.apply(o);
      expect_matches_sequential(p, o, v.name() + " default options T=" + std::to_string(T));
    }
  }
}

}  // namespace
