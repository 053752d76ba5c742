// Fallbacks: a parallel Newton iteration that cannot pay finishes sequentially from its
// exact prefix; (quasi-)DEER that overshoots goes on with damped steps.  The hard cases are
// the benchmark GRU with its recurrent kernels scaled (x3: predictable but strongly
// nonlinear; x4: chaotic, float and double sequential runs differ by O(1)).
#include "test_helpers.hpp"

namespace {

using namespace ut;
using ungulate::Fallback;
using ungulate::Method;
using ungulate::Status;

template <class S>
ungulate::cells::GRU<S> scaled_gru(int hidden, double scale) {
  auto gru = ungulate::make_benchmark_gru<S>(hidden, hidden, 3);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gru.recurrent_kernel);
  for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] *= S(scale);
  Kokkos::deep_copy(gru.recurrent_kernel, h);
  return gru;
}

struct HardGru {
  int B = 4, T = 2000, D = 16;
  double scale;
  ungulate::cells::GRU<float> gru;
  View3<float> x;
  View2<float> s0;
  View3<float> sequential;
  explicit HardGru(double kernel_scale, int length = 2000)
      : T(length),
        scale(kernel_scale),
        gru(scaled_gru<float>(D, kernel_scale)),
        x(ungulate::make_benchmark_inputs<float>(B, T, D, 4)),
        s0("s0", B, D),
        sequential("sequential", B, T, D) {
    ungulate::SolverOptions o;
    o.method = Method::Sequential;
    ungulate::solve(gru, x, s0, sequential, o);
  }
};

const Method kParallelMethods[] = {Method::QuasiDeer, Method::Deer, Method::QuasiElk, Method::Elk};

// Chaotic: every method ends converged within ~25 parallel iterations by finishing
// sequentially.  The answer is a trajectory (residual within tolerance), equal to sequential
// evaluation before chaos amplifies the rounding of the exact prefix.
TEST(Fallback, ChaoticGruFinishesSequentially) {
  const HardGru c(4.0);
  const auto seq = to_vector(c.sequential);
  for (Method m : kParallelMethods) {
    View3<float> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    o.method = m;
    const auto r = ungulate::solve(c.gru, c.x, c.s0, out, o);
    const char* name = ungulate::to_string(m);
    std::printf("x%g %-10s %-9s %s after %d iterations, %.3f s, residual %.2e\n", c.scale, name,
                ungulate::to_string(r.status), ungulate::to_string(r.fallback), r.iterations,
                r.seconds, r.final_residual);
    EXPECT_EQ(r.status, Status::Converged) << name;
    EXPECT_EQ(r.fallback, Fallback::Sequential) << name;
    EXPECT_LE(r.iterations, 25) << name;
    EXPECT_EQ(r.fallback_iteration, r.iterations) << name;
    EXPECT_LE(r.final_residual, ungulate::default_tolerance<float>()) << name;
    const auto states = to_vector(out);
    EXPECT_TRUE(all_finite(states)) << name;
    // The first steps (before chaos amplifies rounding) match sequential evaluation.
    double early = 0;
    for (int b = 0; b < c.B; ++b)
      for (int t = 0; t < 5; ++t)
        for (int i = 0; i < c.D; ++i) {
          const std::size_t k = (std::size_t(b) * c.T + t) * c.D + i;
          early = std::fmax(early, std::fabs(states[k] - seq[k]));
        }
    EXPECT_LE(early, 1e-3) << name;
  }
}

// The raw methods (fallback off) behave as before: no fallback, not converged.
TEST(Fallback, OffKeepsRawMethods) {
  const HardGru c(4.0, 300);
  for (Method m : kParallelMethods) {
    View3<float> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    o.method = m;
    o.fallback = false;
    o.max_iterations = 40;
    const auto r = ungulate::solve(c.gru, c.x, c.s0, out, o);
    EXPECT_EQ(r.fallback, Fallback::None) << ungulate::to_string(m);
    EXPECT_NE(r.status, Status::Converged) << ungulate::to_string(m);
    EXPECT_TRUE(all_finite(to_vector(out))) << ungulate::to_string(m);
  }
}

// Predictable but strongly nonlinear (x3): the sequential finish from the exact prefix
// equals sequential evaluation to the tolerance.
TEST(Fallback, PredictableGruEqualsSequential) {
  const HardGru c(3.0);
  const auto seq = to_vector(c.sequential);
  for (Method m : kParallelMethods) {
    View3<float> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    o.method = m;
    const auto r = ungulate::solve(c.gru, c.x, c.s0, out, o);
    const char* name = ungulate::to_string(m);
    std::printf("x%g %-10s %-9s %s after %d iterations, %.3f s, residual %.2e\n", c.scale, name,
                ungulate::to_string(r.status), ungulate::to_string(r.fallback), r.iterations,
                r.seconds, r.final_residual);
    EXPECT_EQ(r.status, Status::Converged) << name;
    EXPECT_NE(r.fallback, Fallback::None) << name;
    EXPECT_LE(r.iterations, 25) << name;
    EXPECT_LE(max_abs_diff(to_vector(out), seq), 10 * ungulate::default_tolerance<float>()) << name;
  }
}

// DEER used to stop `diverged` at iteration 0 here; with damped steps it goes on.
TEST(Fallback, DeerOvershootGoesOnDamped) {
  const HardGru c(4.0);
  ungulate::SolverOptions o;
  o.method = Method::Deer;
  o.fallback = false;
  View3<float> raw("raw", c.B, c.T, c.D);
  const auto before = ungulate::solve(c.gru, c.x, c.s0, raw, o);
  EXPECT_EQ(before.status, Status::Diverged);
  EXPECT_EQ(before.iterations, 0);
  o.fallback = true;
  View3<float> out("out", c.B, c.T, c.D);
  const auto r = ungulate::solve(c.gru, c.x, c.s0, out, o);
  EXPECT_EQ(r.status, Status::Converged);
  EXPECT_NE(r.fallback, Fallback::None);
  std::printf("damped: fallback %s at %d, %d iterations\n", ungulate::to_string(r.fallback),
              r.fallback_iteration, r.iterations);
  // Steps after the switch are finite: the damped iteration did not dead-end.
  ASSERT_GE(r.history.size(), 2u);
  EXPECT_TRUE(std::isfinite(r.history[1].update_norm));
}

// A contracting benchmark GRU never falls back.
TEST(Fallback, BenchmarkGruKeepsItsIterations) {
  const HardGru c(1.0);
  for (Method m : kParallelMethods) {
    View3<float> out("out", c.B, c.T, c.D);
    ungulate::SolverOptions o;
    o.method = m;
    const auto r = ungulate::solve(c.gru, c.x, c.s0, out, o);
    EXPECT_EQ(r.status, Status::Converged) << ungulate::to_string(m);
    EXPECT_EQ(r.fallback, Fallback::None) << ungulate::to_string(m);
  }
}

}  // namespace
