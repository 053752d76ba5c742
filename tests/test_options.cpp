// ungulate::solve's argument validation and edge cases of the options.
#include "test_helpers.hpp"

namespace {

using namespace ut;
using ungulate::Initialization;
using ungulate::Method;
using ungulate::Status;

const Method kAllMethods[] = {Method::Sequential, Method::QuasiDeer, Method::Deer, Method::Elk,
                              Method::QuasiElk};

struct Shapes {
  int B = 2, T = 10, D = 4, I = 3;
};

/// Calls solve with the given view shapes and options; the cell has state D0 and input I0.
ungulate::SolveResult call(const Shapes& in, const Shapes& s0, const Shapes& st,
                           const ungulate::SolverOptions& o) {
  const auto gru = make_random_gru<double>(4, 3, 1);
  View3<double> x("x", in.B, in.T, in.I);
  View2<double> init("s0", s0.B, s0.D);
  View3<double> states("states", st.B, st.T, st.D);
  return ungulate::solve(gru, x, init, states, o);
}

TEST(Options, MismatchedShapesThrow) {
  const Shapes ok;
  for (Method m : kAllMethods) {
    ungulate::SolverOptions o;
    o.method = m;
    EXPECT_NO_THROW(call(ok, ok, ok, o)) << ungulate::to_string(m);
    Shapes bad;
    bad.B = 3;  // batch
    EXPECT_THROW(call(bad, ok, ok, o), std::invalid_argument) << "inputs batch";
    EXPECT_THROW(call(ok, bad, ok, o), std::invalid_argument) << "s0 batch";
    EXPECT_THROW(call(ok, ok, bad, o), std::invalid_argument) << "states batch";
    bad = ok;
    bad.T = 11;  // length
    EXPECT_THROW(call(bad, ok, ok, o), std::invalid_argument) << "inputs length";
    EXPECT_THROW(call(ok, ok, bad, o), std::invalid_argument) << "states length";
    bad = ok;
    bad.I = 4;  // input size (the cell's is 3)
    EXPECT_THROW(call(bad, ok, ok, o), std::invalid_argument) << "input size";
    bad = ok;
    bad.D = 3;  // state size (the cell's is 4)
    EXPECT_THROW(call(ok, bad, ok, o), std::invalid_argument) << "s0 state size";
    EXPECT_THROW(call(ok, ok, bad, o), std::invalid_argument) << "states state size";
    bad.D = 5;
    EXPECT_THROW(call(ok, ok, bad, o), std::invalid_argument) << "states state size";
  }
}

TEST(Options, BadOptionsThrow) {
  const Shapes ok;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (Method m : kAllMethods) {
    ungulate::SolverOptions o;
    o.method = m;
    o.lambda = -0.5;
    EXPECT_THROW(call(ok, ok, ok, o), std::invalid_argument) << "negative lambda";
    o.lambda = nan;
    EXPECT_THROW(call(ok, ok, ok, o), std::invalid_argument) << "NaN lambda";
    o.lambda = 0.01;
    o.tolerance = nan;
    EXPECT_THROW(call(ok, ok, ok, o), std::invalid_argument) << "NaN tolerance";
    o.tolerance = 0.0;
    EXPECT_THROW(call(ok, ok, ok, o), std::invalid_argument) << "zero tolerance";
    o.tolerance = -1.0;  // negative: the default
    EXPECT_NO_THROW(call(ok, ok, ok, o));
    o.tolerance = 1e-3;
    o.lambda = 0.0;  // lambda = 0 is DEER, allowed
    EXPECT_NO_THROW(call(ok, ok, ok, o));
  }
}

// An infinite lambda has no meaning for the Kalman step (1 / (1 + lambda) = 0 and
// lambda / (1 + lambda) = NaN): it must be rejected like a negative one, not turn into a
// spurious Status::Diverged.
TEST(Options, InfiniteLambdaIsRejected) {
  const Shapes ok;
  for (Method m : {Method::Elk, Method::QuasiElk}) {
    ungulate::SolverOptions o;
    o.method = m;
    o.lambda = std::numeric_limits<double>::infinity();
    ungulate::SolveResult r;
    bool threw = false;
    try {
      r = call(ok, ok, ok, o);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    EXPECT_TRUE(threw) << ungulate::to_string(m) << " returned status "
                       << ungulate::to_string(r.status);
  }
}

template <class S>
class EdgeCases : public ::testing::Test {};
TYPED_TEST_SUITE(EdgeCases, Scalars, ScalarNames);

TYPED_TEST(EdgeCases, EmptySequence) {
  using S = TypeParam;
  const auto gru = make_random_gru<S>(3, 2, 7);
  for (int B : {0, 1, 4})
    for (int chunks : {0, 1, 16}) {
      View3<S> x("x", B, 0, 2), states("states", B, 0, 3);
      View2<S> s0("s0", B, 3);
      for (Method m : kAllMethods)
        for (auto init : {Initialization::Zeros, Initialization::Given, Initialization::Warm}) {
          ungulate::SolverOptions o;
          o.method = m;
          o.init = init;
          o.num_chunks = chunks;
          ungulate::SolveResult r;
          ASSERT_NO_THROW(r = ungulate::solve(gru, x, s0, states, o));
          EXPECT_EQ(r.status, Status::Converged) << ungulate::to_string(m);
          if (m != Method::Sequential) {
            EXPECT_EQ(r.iterations, 0) << ungulate::to_string(m);
            EXPECT_TRUE(r.history.empty()) << ungulate::to_string(m);
          }
          EXPECT_EQ(r.final_residual, 0.0);
        }
    }
}

TYPED_TEST(EdgeCases, EmptyBatch) {
  using S = TypeParam;
  const auto gru = make_random_gru<S>(3, 2, 7);
  View3<S> x("x", 0, 25, 2), states("states", 0, 25, 3);
  View2<S> s0("s0", 0, 3);
  for (const auto& v : all_variants()) {
    ungulate::SolverOptions o;
    v.apply(o);
    ungulate::SolveResult r;
    ASSERT_NO_THROW(r = ungulate::solve(gru, x, s0, states, o)) << v.name();
    EXPECT_EQ(r.status, Status::Converged) << v.name();
  }
}

// max_iterations = 0: no iteration at all; the states are the initial iterate.
TYPED_TEST(EdgeCases, ZeroIterations) {
  using S = TypeParam;
  const int B = 2, T = 30, D = 3, I = 2;
  const auto gru = make_random_gru<S>(D, I, 8);
  Rng rng(8);
  const auto x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng));
  const auto s0 = make_view2<S>("s0", B, D, normal_vector(std::size_t(B) * D, rng));
  const auto guess = normal_vector(std::size_t(B) * T * D, rng);
  for (const auto& v : all_variants())
    for (auto init : {Initialization::Zeros, Initialization::Given}) {
      View3<S> states("states", B, T, D);
      from_vector(states, guess);
      ungulate::SolverOptions o;
      v.apply(o);
      o.init = init;
      o.max_iterations = 0;
      const auto r = ungulate::solve(gru, x, s0, states, o);
      EXPECT_EQ(r.status, Status::MaxIterations) << v.name();
      EXPECT_EQ(r.iterations, 0) << v.name();
      EXPECT_TRUE(r.history.empty()) << v.name();
      const auto got = to_vector(states);
      if (init == Initialization::Zeros)
        EXPECT_EQ(max_abs(got), 0.0) << v.name();
      else
        EXPECT_EQ(max_abs_diff(got, to_vector(make_view3<S>("g", B, T, D, guess))), 0.0)
            << v.name();
      EXPECT_GT(r.final_residual, 0.01) << v.name() << ": residual of the initial iterate";
    }
}

// A damped run whose steps are tiny is not converged (issue 12, case 7): ELK and quasi-ELK
// with lambda 1e5 (1e9 in double) move about 1/lambda of the way per step, so the update test alone
// would stop after one iteration far from the answer.  They must report Stalled, with the residual
// that says why; a plain lambda converges.
TYPED_TEST(EdgeCases, TinyDampedStepsAreStalledNotConverged) {
  using S = TypeParam;
  const int B = 2, T = 40, D = 4, I = 3;
  const auto gru = make_random_gru<S>(D, I, 5);
  Rng rng(5);
  const auto x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng));
  const auto s0 = make_view2<S>("s0", B, D, normal_vector(std::size_t(B) * D, rng));
  for (Method m : {Method::Elk, Method::QuasiElk})
    for (auto estimate : {ungulate::KalmanEstimate::Filter, ungulate::KalmanEstimate::Smoother}) {
      const std::string where =
          std::string(ungulate::to_string(m)) +
          (estimate == ungulate::KalmanEstimate::Filter ? " filter" : " smoother");
      View3<S> states("states", B, T, D);
      ungulate::SolverOptions o;
      o.method = m;
      o.elk_estimate = estimate;
      o.lambda = sizeof(S) == 4 ? 1e5 : 1e9;  // steps of about 1/lambda of the residual
      o.trust_region = ungulate::TrustRegion::Fixed;
      o.fallback = false;  // the raw method: it stalls
      const auto r = ungulate::solve(gru, x, s0, states, o);
      const double tol = ungulate::default_tolerance<S>();
      EXPECT_EQ(r.status, Status::Stalled) << where;
      EXPECT_LE(r.final_update, tol) << where;
      EXPECT_GT(r.final_residual, 100 * tol) << where;
      EXPECT_STREQ(ungulate::to_string(r.status), "stalled");
      // With the fallback (the default) a stall is no dead end: the rest is evaluated
      // sequentially from the exact prefix, and the answer is right.
      o.fallback = true;
      const auto rescued = ungulate::solve(gru, x, s0, states, o);
      EXPECT_EQ(rescued.status, Status::Converged) << where;
      EXPECT_EQ(rescued.fallback, ungulate::Fallback::Sequential) << where;
      EXPECT_LE(rescued.final_residual, tol) << where;
      o.fallback = false;
      o.lambda = 0.01;
      const auto ok = ungulate::solve(gru, x, s0, states, o);
      EXPECT_EQ(ok.status, Status::Converged) << where;
      EXPECT_LE(ok.final_residual, tol) << where;
    }
}

TEST(Options, NamesRoundTrip) {
  for (Method m : kAllMethods) {
    Method parsed = Method::Sequential;
    EXPECT_TRUE(ungulate::parse_method(ungulate::to_string(m), parsed));
    EXPECT_EQ(parsed, m);
  }
  Method unused = Method::Deer;
  EXPECT_FALSE(ungulate::parse_method("newton", unused));
  EXPECT_EQ(unused, Method::Deer);
  EXPECT_TRUE(ungulate::is_quasi(Method::QuasiDeer));
  EXPECT_TRUE(ungulate::is_quasi(Method::QuasiElk));
  EXPECT_FALSE(ungulate::is_quasi(Method::Deer));
  EXPECT_FALSE(ungulate::is_quasi(Method::Elk));
  EXPECT_FALSE(ungulate::is_quasi(Method::Sequential));
  EXPECT_EQ(ungulate::default_tolerance<float>(), 1e-4);
  EXPECT_EQ(ungulate::default_tolerance<double>(), 1e-7);
}

// The method and defaults reported back.
TEST(Options, ResultReportsMethod) {
  const Shapes ok;
  for (Method m : kAllMethods) {
    ungulate::SolverOptions o;
    o.method = m;
    o.max_iterations = 50;
    const auto r = call(ok, ok, ok, o);
    EXPECT_EQ(r.method, m);
    EXPECT_EQ(r.status, Status::Converged) << ungulate::to_string(m);
    EXPECT_GE(r.seconds, 0.0);
  }
}

}  // namespace
