// Every parallel method against sequential evaluation for the built-in LSTM and Lorenz-96
// cells (the GRU's are in test_solvers.cpp), in float and double.
//
// Judged as test_solvers judges the GRU: converged (the residual meets the solver's
// tolerance), and the error against sequential evaluation, relative to the data's scale,
// below 1e-3 (float) / 1e-6 (double).  Lorenz-96 with F = 8 is chaotic (largest Lyapunov
// exponent ~1.7 per unit time for N = 40): the horizons here stay at T <= 200 steps of
// dt = 0.01, where an error grows by at most e^3.4 ~ 30 and "error against sequential" still
// means something.
#include "cell_references.hpp"
#include "test_helpers.hpp"

#include <cstdio>
#include <cstdlib>

namespace {

using namespace ut;
using ungulate::Method;
using ungulate::Status;

template <class Cell>
struct Problem {
  using S = typename Cell::value_type;
  int B, T, D, I;
  Cell cell;
  View3<S> x;
  View2<S> s0;
  std::vector<double> href;  // Method::Sequential
};

template <class Cell>
Problem<Cell> make_problem(const Cell& cell, int B, int T, double input_sd, double s0_mean,
                           double s0_sd, std::uint64_t seed) {
  using S = typename Cell::value_type;
  const int D = cell.state_size(), I = cell.input_size();
  Problem<Cell> p{B, T, D, I, cell, {}, {}, {}};
  Rng rng(seed);
  p.x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng, input_sd));
  p.s0 = make_view2<S>("s0", B, D, normal_vector(std::size_t(B) * D, rng, s0_sd, s0_mean));
  View3<S> ref("reference", B, T, D);
  ungulate::SolverOptions o;
  o.method = Method::Sequential;
  const auto r = ungulate::solve(p.cell, p.x, p.s0, ref, o);
  EXPECT_EQ(r.status, Status::Converged);
  EXPECT_EQ(r.final_residual, 0.0);
  p.href = to_vector(ref);
  return p;
}

/// The library's sequential evaluation against a host double loop over the host reference.
template <class Cell, class Host>
void expect_sequential_matches_host(const Problem<Cell>& p, const Host& host, double tol,
                                    const std::string& where) {
  const auto want = host_sequential(host, p.B, p.T, to_vector(p.x), to_vector(p.s0));
  EXPECT_LT(scaled_diff(p.href, want), tol) << where;
}

template <class Cell>
void expect_every_method_matches(const Problem<Cell>& p, int chunks, const std::string& where) {
  using S = typename Cell::value_type;
  for (const auto& v : all_variants()) {
    View3<S> out("out", p.B, p.T, p.D);
    ungulate::SolverOptions o;
    v.apply(o);
    o.num_chunks = chunks;
    o.max_iterations = p.T + 60;  // quasi-DEER's worst case is T + 1
    const auto r = ungulate::solve(p.cell, p.x, p.s0, out, o);
    const auto got = to_vector(out);
    const std::string what = v.name() + " " + scalar_name<S>() + " " + where +
                             " T=" + std::to_string(p.T) + " B=" + std::to_string(p.B) +
                             " chunks=" + std::to_string(chunks);
    EXPECT_EQ(r.status, Status::Converged) << what << " (" << r.iterations << " iterations)";
    EXPECT_LE(r.final_residual, ungulate::default_tolerance<S>()) << what;
    EXPECT_LT(scaled_diff(got, p.href), solver_tol<S>()) << what;
    EXPECT_TRUE(all_finite(got)) << what;
    if (std::getenv("UNGULATE_TEST_VERBOSE"))
      std::printf("%s: %d iterations, residual %.3g, scaled error %.3g\n", what.c_str(),
                  r.iterations, r.final_residual, scaled_diff(got, p.href));
  }
}

template <class S>
class LstmSolvers : public ::testing::Test {};
TYPED_TEST_SUITE(LstmSolvers, Scalars, ScalarNames);

TYPED_TEST(LstmSolvers, EveryMethodMatchesSequential) {
  using S = TypeParam;
  for (int H : {1, 3, 8})
    for (int T : {1, 2, 7, 300, 1000}) {
      if (H == 8 && T == 1000) continue;  // dense 16 x 16 at T 1000: slow, adds nothing
      const int B = T > 100 ? 2 : 3;
      const std::uint64_t seed = 17 * T + H;
      const auto cell = make_random_lstm<S>(H, H + 2, seed, 1.0, 0.5);
      const auto p = make_problem(cell, B, T, 1.0, 0.0, 0.5, seed + 1);
      const std::string where = "H=" + std::to_string(H);
      expect_sequential_matches_host(p, HostLstm(cell), sizeof(S) == 4 ? 1e-4 : 1e-12, where);
      // Default chunking, and more chunks than time steps for the short sequences.
      expect_every_method_matches(p, 0, where);
      if (T < 64) expect_every_method_matches(p, 64, where);
    }
}

template <class S>
class Lorenz96Solvers : public ::testing::Test {};
TYPED_TEST_SUITE(Lorenz96Solvers, Scalars, ScalarNames);

TYPED_TEST(Lorenz96Solvers, EveryMethodMatchesSequentialOnShortHorizons) {
  using S = TypeParam;
  for (int N : {4, 5, 13, 40})
    for (int T : {1, 2, 7, 100, 200}) {
      const std::uint64_t seed = 23 * T + N;
      const auto cell = make_lorenz96<S>(N, 8.0, 0.01);
      // On the attractor's scale: x ~ F/2 +- a few, forcing perturbations of 1.
      for (double input_sd : {0.0, 1.0}) {
        const int B = 2;
        const auto p = make_problem(cell, B, T, input_sd, 2.0, 3.0, seed);
        const std::string where = "N=" + std::to_string(N) + " u_sd=" + std::to_string(input_sd);
        expect_sequential_matches_host(p, HostLorenz96(cell), sizeof(S) == 4 ? 1e-4 : 1e-12, where);
        expect_every_method_matches(p, 0, where);
        if (T < 64) expect_every_method_matches(p, 64, where);
      }
    }
}

}  // namespace
