// Divergence: a raw Newton-type iteration (fallback off) that blows up must end with
// Status::Diverged and hand back the last finite iterate, never NaN/Inf.  With the fallback
// (the default) only a recurrence whose sequential evaluation overflows diverges.
//
// The case: the chaotic logistic map h' = 3.9 h (1 - h) (elementwise), s0 = 0.3.  DEER from
// zeros linearises at h = 0, where f' = 3.9: the first linear recurrence s_t = 3.9 s_{t-1}
// overflows float after ~65 steps (double after ~520), and later iterates square the error.
#include "test_helpers.hpp"

namespace {

using namespace ut;
using ungulate::Initialization;
using ungulate::Method;
using ungulate::Status;

template <class S>
struct LogisticCase {
  int B, T, D;
  LogisticMap<S> cell;
  View3<S> x;
  View2<S> s0;
};

template <class S>
LogisticCase<S> make_case(int B, int T, int D) {
  LogisticCase<S> c{B, T, D, {}, {}, {}};
  c.cell.r = S(3.9);
  c.cell.dim = D;
  Rng rng(5);
  c.x = make_view3<S>("x", B, T, 1, normal_vector(std::size_t(B) * T, rng));
  std::vector<double> s0(std::size_t(B) * D);
  for (std::size_t i = 0; i < s0.size(); ++i) s0[i] = 0.3 + 0.01 * double(i);
  c.s0 = make_view2<S>("s0", B, D, s0);
  return c;
}

template <class S>
class Divergence : public ::testing::Test {};
TYPED_TEST_SUITE(Divergence, Scalars, ScalarNames);

TYPED_TEST(Divergence, ChaoticMapDivergesCleanly) {
  using S = TypeParam;
  const auto c = make_case<S>(2, 2000, 2);
  for (Method m : {Method::Deer, Method::QuasiDeer}) {
    View3<S> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    o.method = m;
    o.max_iterations = 50;
    o.fallback = false;
    const auto r = ungulate::solve(c.cell, c.x, c.s0, out, o);
    const auto states = to_vector(out);
    EXPECT_EQ(r.status, Status::Diverged) << ungulate::to_string(m);
    EXPECT_TRUE(all_finite(states)) << ungulate::to_string(m);
    ASSERT_FALSE(r.history.empty());
    // The diverged step is recorded; `iterations` counts the finite ones.
    EXPECT_EQ(int(r.history.size()), r.iterations + 1);
    EXPECT_FALSE(std::isfinite(r.history.back().update_norm) &&
                 std::isfinite(r.history.back().residual));
    // Here the very first step overflows, so the returned iterate is the initial zeros.
    EXPECT_EQ(r.iterations, 0);
    EXPECT_EQ(max_abs(states), 0.0);
  }
}

// A slower blow-up (double, T = 40): the first iterates are finite but huge, a later one
// overflows.  The states returned are exactly the last finite iterate.
TEST(DivergenceDouble, ReturnsLastFiniteIterate) {
  const auto c = make_case<double>(1, 40, 1);
  View3<double> out("out", c.B, c.T, c.D);
  ungulate::SolverOptions o;
  o.method = Method::Deer;
  o.max_iterations = 100;
  o.fallback = false;
  const auto r = ungulate::solve(c.cell, c.x, c.s0, out, o);
  EXPECT_EQ(r.status, Status::Diverged);
  ASSERT_GE(r.iterations, 1) << "this case is meant to diverge after some finite iterates";
  const auto states = to_vector(out);
  EXPECT_TRUE(all_finite(states));
  EXPECT_GT(max_abs(states), 1e10);  // not silently reset to something harmless
  // Re-run with the cap at the last finite iteration: same iterate.
  View3<double> again("again", c.B, c.T, c.D);
  o.max_iterations = r.iterations;
  const auto r2 = ungulate::solve(c.cell, c.x, c.s0, again, o);
  EXPECT_EQ(r2.status, Status::MaxIterations);
  EXPECT_EQ(max_abs_diff(to_vector(again), states), 0.0);
}

// The sequential evaluation of the same map is fine (the logistic map stays in [0, 1]).
TYPED_TEST(Divergence, SequentialIsFine) {
  using S = TypeParam;
  const auto c = make_case<S>(2, 2000, 2);
  View3<S> out("out", c.B, c.T, c.D);
  ungulate::SolverOptions o;
  o.method = Method::Sequential;
  const auto r = ungulate::solve(c.cell, c.x, c.s0, out, o);
  EXPECT_EQ(r.status, Status::Converged);
  const auto s = to_vector(out);
  for (double v : s) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }
}

// ELK on the same problem: whether or not it gets there, it never returns NaN/Inf, and
// whatever status it reports is consistent with the states.
TYPED_TEST(Divergence, ElkNeverReturnsNonFinite) {
  using S = TypeParam;
  const auto c = make_case<S>(1, 200, 1);
  for (const auto& v : all_variants()) {
    View3<S> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    v.apply(o);
    o.lambda = 1.0;
    o.max_iterations = 30;
    const auto r = ungulate::solve(c.cell, c.x, c.s0, out, o);
    EXPECT_TRUE(all_finite(to_vector(out))) << v.name() << " " << ungulate::to_string(r.status);
    if (r.status != Status::Diverged) {
      EXPECT_TRUE(std::isfinite(r.final_residual)) << v.name();
    }
  }
}

// A GRU with huge recurrent weights: DEER's Jacobian products overflow float.
TEST(DivergenceGru, HugeWeightsDeerFloat) {
  const int D = 4, T = 3000;
  auto gru = make_random_gru<float>(D, D, 3, 400.0, 0.0);
  const auto x = ungulate::make_benchmark_inputs<float>(1, T, D, 4);
  View2<float> s0("s0", 1, D);
  View3<float> out("out", 1, T, D);
  ungulate::SolverOptions o;
  o.method = Method::Deer;
  o.max_iterations = 100;
  o.fallback = false;
  const auto r = ungulate::solve(gru, x, s0, out, o);
  EXPECT_EQ(r.status, Status::Diverged);
  EXPECT_TRUE(all_finite(to_vector(out)));
  // With the fallback the same GRU (whose sequential evaluation is bounded) is evaluated.
  o.fallback = true;
  const auto f = ungulate::solve(gru, x, s0, out, o);
  EXPECT_EQ(f.status, Status::Converged);
  EXPECT_NE(f.fallback, ungulate::Fallback::None);
  EXPECT_TRUE(all_finite(to_vector(out)));
}

// The chaotic map with the fallback: converged sequential finish, never diverged.
TYPED_TEST(Divergence, ChaoticMapFallsBackToSequential) {
  using S = TypeParam;
  const auto c = make_case<S>(2, 2000, 2);
  for (Method m : {Method::Deer, Method::QuasiDeer, Method::Elk, Method::QuasiElk}) {
    View3<S> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    o.method = m;
    const auto r = ungulate::solve(c.cell, c.x, c.s0, out, o);
    EXPECT_EQ(r.status, Status::Converged) << ungulate::to_string(m);
    EXPECT_EQ(r.fallback, ungulate::Fallback::Sequential) << ungulate::to_string(m);
    EXPECT_LE(r.iterations, 25) << ungulate::to_string(m);
    EXPECT_TRUE(all_finite(to_vector(out))) << ungulate::to_string(m);
  }
}

// A recurrence whose own sequential evaluation overflows still diverges, keeping the last
// finite iterate.
TYPED_TEST(Divergence, OverflowingRecurrenceStillDiverges) {
  using S = TypeParam;
  auto c = make_case<S>(1, 2000, 1);
  c.cell.r = S(-4.5);  // leaves [0, 1] and squares its way to infinity
  View3<S> out("out", c.B, c.T, c.D);
  ungulate::SolverOptions o;
  o.method = Method::QuasiDeer;
  const auto r = ungulate::solve(c.cell, c.x, c.s0, out, o);
  EXPECT_EQ(r.status, Status::Diverged);
  EXPECT_TRUE(all_finite(to_vector(out)));
}

}  // namespace
