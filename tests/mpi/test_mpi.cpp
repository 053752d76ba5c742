// Cross-rank tests, run by CTest under mpirun with 1, 2, 3 and 4 ranks.
#include <mpi.h>

#include <gtest/gtest.h>
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ungulate/dist/mpi_decomposition.hpp"
#include "ungulate/ungulate.hpp"

namespace {

using ungulate::Direction;
using ungulate::Method;
using ungulate::dist::MpiTimeDecomposition;
template <class S>
using View2 = Kokkos::View<S**, Kokkos::LayoutRight>;
template <class S>
using View3 = Kokkos::View<S***, Kokkos::LayoutRight>;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int p = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}

// ---------------------------------------------------------------------------------------
// Cross-rank scans equal sequential composition.

// Generator reading precomputed elements (B, T_local, E) of this rank's slice.
template <class S>
struct StoredElements {
  View3<S> elements;
  int scratch_size() const { return 0; }
  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, S* e, S*, S&) const {
    for (int i = 0; i < int(elements.extent(2)); ++i) e[i] = elements(b, t, i);
  }
};
template <class S>
struct StoreStates {
  View3<S> states;
  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, const S* state, S&) const {
    for (int i = 0; i < int(states.extent(2)); ++i) states(b, t, i) = state[i];
  }
};

// Random valid elements for the whole sequence (identical on every rank: same seed).
// Kalman elements get symmetric PSD C and J; the first element in scan order is
// start-anchored (A = J = eta = 0), as in every solver.
template <class Op>
std::vector<typename Op::value_type> random_elements(const Op& op, int B, int T, bool kalman,
                                                     bool dense, Direction dir,
                                                     std::uint64_t seed) {
  using S = typename Op::value_type;
  const int D = op.dim, E = op.element_size();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<S> all(std::size_t(B) * T * E);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      S* e = &all[(std::size_t(b) * T + t) * E];
      for (int i = 0; i < E; ++i) e[i] = S(0.5 * normal(rng));
      if (!kalman) continue;
      const int n = dense ? D * D : D;
      S *A = e, *C = e + n + D, *J = C + n, *eta = J + n;
      if (dense) {
        std::vector<double> G(D * D), H(D * D);
        for (auto& g : G) g = normal(rng);
        for (auto& h : H) h = normal(rng);
        for (int i = 0; i < D; ++i)
          for (int j = 0; j < D; ++j) {
            double c = 0, jj = 0;
            for (int k = 0; k < D; ++k) {
              c += G[i * D + k] * G[j * D + k];
              jj += H[i * D + k] * H[j * D + k];
            }
            C[i * D + j] = S(c / D);
            J[i * D + j] = S(jj / D);
          }
      } else {
        for (int i = 0; i < D; ++i) {
          C[i] = S(std::fabs(normal(rng)));
          J[i] = S(std::fabs(normal(rng)));
        }
      }
      const bool anchored = dir == Direction::Forward ? t == 0 : t == T - 1;
      if (anchored) {
        for (int i = 0; i < n; ++i) A[i] = J[i] = S(0);
        for (int i = 0; i < D; ++i) eta[i] = S(0);
      }
    }
  return all;
}

template <class Op>
void check_cross_rank_scan(const Op& op, bool kalman, bool dense, Direction dir, int B, int T,
                           int chunks) {
  using S = typename Op::value_type;
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int E = op.element_size(), SS = op.state_size();
  const int t0 = int(decomp.first_step()), TL = int(decomp.local_length());
  const auto all = random_elements(op, B, T, kalman, dense, dir, 1234 + T + 7 * B);

  // Sequential reference on the host: advance from the identity's state in scan order.
  std::vector<S> expected(std::size_t(B) * T * SS), id(E), state(SS),
      scratch(op.scratch_size() + 1);
  for (int b = 0; b < B; ++b) {
    op.set_identity(id.data());
    op.state_of(id.data(), state.data());
    for (int k = 0; k < T; ++k) {
      const int t = dir == Direction::Forward ? k : T - 1 - k;
      op.advance(state.data(), &all[(std::size_t(b) * T + t) * E], scratch.data());
      for (int i = 0; i < SS; ++i) expected[(std::size_t(b) * T + t) * SS + i] = state[i];
    }
  }

  View3<S> local("elements", B, TL, E), out("states", B, TL, SS);
  auto h = Kokkos::create_mirror_view(local);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < TL; ++t)
      for (int i = 0; i < E; ++i) h(b, t, i) = all[(std::size_t(b) * T + t0 + t) * E + i];
  Kokkos::deep_copy(local, h);
  ungulate::scan::ChunkedScan<Op> scan(op, B, TL, chunks, 0);
  scan.reduce_chunks(StoredElements<S>{local}, dir);
  decomp.carry_in(scan, dir);
  scan.finish(StoredElements<S>{local}, StoreStates<S>{out}, dir);
  auto ho = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  double err = 0, scale = 1;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < TL; ++t)
      for (int i = 0; i < SS; ++i) {
        const double ref = expected[(std::size_t(b) * T + t0 + t) * SS + i];
        err = std::fmax(err, std::fabs(double(ho(b, t, i)) - ref));
        scale = std::fmax(scale, std::fabs(ref));
      }
  const double tol = (sizeof(S) == 4 ? 1e-4 : 1e-11) * scale;
  EXPECT_LE(err, tol) << "rank " << world_rank() << " T=" << T << " B=" << B << " chunks=" << chunks
                      << (dir == Direction::Forward ? " fwd" : " rev");
}

template <class S>
void cross_rank_scans() {
  for (int T : {1, 2, 3, 5, 17, 64}) {
    for (int chunks : {1, 3, 8}) {
      for (Direction dir : {Direction::Forward, Direction::Reverse}) {
        check_cross_rank_scan(ungulate::scan::AffineDiagonal<S>{3}, false, false, dir, 2, T,
                              chunks);
        check_cross_rank_scan(ungulate::scan::AffineDense<S>{3}, false, true, dir, 2, T, chunks);
      }
      check_cross_rank_scan(ungulate::scan::KalmanDiagonal<S>{3}, true, false, Direction::Forward,
                            2, T, chunks);
      check_cross_rank_scan(ungulate::scan::KalmanDense<S>{3}, true, true, Direction::Forward, 2, T,
                            chunks);
    }
  }
}

TEST(CrossRankScan, EqualsSequentialCompositionFloat) {
  cross_rank_scans<float>();
}
TEST(CrossRankScan, EqualsSequentialCompositionDouble) {
  cross_rank_scans<double>();
}

// ---------------------------------------------------------------------------------------
// Solvers under P ranks equal the single-rank result and sequential evaluation.

struct Case {
  Method method;
  ungulate::KalmanEstimate estimate;
};

template <class S>
void solvers_match_single_rank(int hidden, int T, int B) {
  const int I = hidden + 1;  // input size differs from hidden size on purpose
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int t0 = int(decomp.first_step()), TL = int(decomp.local_length());
  const auto gru = ungulate::make_benchmark_gru<S>(hidden, I, 11 + hidden);
  const auto x_full = ungulate::make_benchmark_inputs<S>(B, T, I, 5);
  const auto x_local = ungulate::make_benchmark_inputs<S>(B, TL, I, 5, t0);
  View2<S> s0("s0", B, hidden);
  {
    auto hs0 = Kokkos::create_mirror_view(s0);
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < hidden; ++i) hs0(b, i) = S(0.1 * (i + 1) * (b % 2 ? -1 : 1));
    Kokkos::deep_copy(s0, hs0);
  }
  // The local inputs are exactly the global inputs' slice.
  {
    auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_full);
    auto hl = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_local);
    int mismatches = 0;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < TL; ++t)
        for (int i = 0; i < I; ++i) mismatches += hf(b, t0 + t, i) != hl(b, t, i);
    EXPECT_EQ(mismatches, 0);
  }
  View3<S> seq("seq", B, T, hidden), single("single", B, T, hidden), dist("dist", B, TL, hidden);
  ungulate::SolverOptions opt;
  opt.method = Method::Sequential;
  ungulate::solve(gru, x_full, s0, seq, opt);
  auto hseq = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), seq);
  const double tol = ungulate::default_tolerance<S>();
  const std::vector<Case> cases = {
      {Method::Sequential, ungulate::KalmanEstimate::Filter},
      {Method::QuasiDeer, ungulate::KalmanEstimate::Filter},
      {Method::Deer, ungulate::KalmanEstimate::Filter},
      {Method::QuasiElk, ungulate::KalmanEstimate::Filter},
      {Method::QuasiElk, ungulate::KalmanEstimate::Smoother},
      {Method::Elk, ungulate::KalmanEstimate::Filter},
      {Method::Elk, ungulate::KalmanEstimate::Smoother},
  };
  for (const Case& c : cases) {
    opt.method = c.method;
    opt.elk_estimate = c.estimate;
    opt.lambda = 0.05;
    opt.num_chunks = 3;
    const auto r1 = ungulate::solve(gru, x_full, s0, single, opt);
    const auto rp = ungulate::solve(gru, x_local, s0, dist, opt, decomp);
    const std::string what = std::string(ungulate::to_string(c.method)) +
                             (c.estimate == ungulate::KalmanEstimate::Smoother ? "/smoother" : "") +
                             " T=" + std::to_string(T) + " B=" + std::to_string(B) +
                             " D=" + std::to_string(hidden) + " rank " +
                             std::to_string(world_rank());
    EXPECT_EQ(rp.status, ungulate::Status::Converged) << what;
    // Identical iteration counts and status on every rank.
    int lo = rp.iterations, hi = rp.iterations;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(lo, hi) << what;
    EXPECT_LE(std::abs(rp.iterations - r1.iterations), 1) << what;
    auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), single);
    auto hd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dist);
    double vs_single = 0, vs_seq = 0;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < TL; ++t)
        for (int i = 0; i < hidden; ++i) {
          vs_single = std::fmax(vs_single, std::fabs(double(hd(b, t, i)) - hs(b, t0 + t, i)));
          vs_seq = std::fmax(vs_seq, std::fabs(double(hd(b, t, i)) - hseq(b, t0 + t, i)));
        }
    EXPECT_LE(vs_seq, 10 * tol) << what;
    EXPECT_LE(vs_single, 10 * tol) << what;
    if (c.method == Method::Sequential) {
      EXPECT_EQ(vs_single, 0.0) << what;
    }
  }
}

TEST(MpiSolvers, MatchSingleRankFloat) {
  for (int T : {1, 2, 3, 7, 200}) {
    solvers_match_single_rank<float>(3, T, 2);
  }
  solvers_match_single_rank<float>(8, 1001, 1);
}
TEST(MpiSolvers, MatchSingleRankDouble) {
  for (int T : {1, 3, 5, 201}) {
    solvers_match_single_rank<double>(4, T, 3);
  }
}

/// max |slice - whole(:, t0 + t, :)|: a rank's slice against the whole sequential answer.
template <class Slice, class Whole>
double slice_error(const Slice& slice, const Whole& whole, int t0) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), slice);
  double m = 0;
  for (std::size_t b = 0; b < h.extent(0); ++b)
    for (std::size_t t = 0; t < h.extent(1); ++t)
      for (std::size_t i = 0; i < h.extent(2); ++i)
        m = std::fmax(m, std::fabs(double(h(b, t, i)) - whole(b, t0 + t, i)));
  return m;
}

// The windowed warm start across ranks: each slice's first chunk starts from its left
// neighbour's last warm state, so on the (contracting) benchmark GRU every method finds the
// warm iterate within tolerance on every rank (0 iterations) and equals sequential.
TEST(MpiSolvers, WarmStartNeedsNoIterationAcrossRanks) {
  const int T = 3000, B = 2, D = 8;
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int t0 = int(decomp.first_step()), TL = int(decomp.local_length());
  const auto gru = ungulate::make_benchmark_gru<float>(D, D, 21);
  const auto x_full = ungulate::make_benchmark_inputs<float>(B, T, D, 22);
  const auto x_local = ungulate::make_benchmark_inputs<float>(B, TL, D, 22, t0);
  View2<float> s0("s0", B, D);
  View3<float> seq("seq", B, T, D), dist("dist", B, TL, D);
  ungulate::SolverOptions opt;
  opt.method = Method::Sequential;
  ungulate::solve(gru, x_full, s0, seq, opt);
  auto hseq = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), seq);
  for (Method m : {Method::QuasiDeer, Method::Deer, Method::QuasiElk, Method::Elk}) {
    opt.method = m;
    opt.init = ungulate::Initialization::Warm;
    opt.num_chunks = 4;
    const auto r = ungulate::solve(gru, x_local, s0, dist, opt, decomp);
    const std::string what =
        std::string(ungulate::to_string(m)) + " rank " + std::to_string(world_rank());
    EXPECT_EQ(r.status, ungulate::Status::Converged) << what;
    EXPECT_EQ(r.iterations, 0) << what;
    EXPECT_GT(r.warm_window, 0) << what;
    const double vs_seq = slice_error(dist, hseq, t0);
    EXPECT_LE(vs_seq, ungulate::default_tolerance<float>()) << what;
  }
}

// The built-in LSTM and Lorenz-96 cells across ranks: every method equals single-rank
// sequential evaluation, with identical iteration counts on every rank.
template <class Cell>
void new_cell_matches_sequential(const Cell& cell, int T, int B, double s0_value,
                                 const std::string& name) {
  using S = typename Cell::value_type;
  const int D = cell.state_size(), I = cell.input_size();
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int t0 = int(decomp.first_step()), TL = int(decomp.local_length());
  const auto x_full = ungulate::make_benchmark_inputs<S>(B, T, I, 31);
  const auto x_local = ungulate::make_benchmark_inputs<S>(B, TL, I, 31, t0);
  View2<S> s0("s0", B, D);
  Kokkos::deep_copy(s0, S(s0_value));
  View3<S> seq("seq", B, T, D), dist("dist", B, TL, D);
  ungulate::SolverOptions opt;
  opt.method = Method::Sequential;
  ungulate::solve(cell, x_full, s0, seq, opt);
  auto hseq = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), seq);
  for (const Case& c : {Case{Method::Sequential, ungulate::KalmanEstimate::Filter},
                        Case{Method::QuasiDeer, ungulate::KalmanEstimate::Filter},
                        Case{Method::Deer, ungulate::KalmanEstimate::Filter},
                        Case{Method::QuasiElk, ungulate::KalmanEstimate::Smoother},
                        Case{Method::Elk, ungulate::KalmanEstimate::Filter},
                        Case{Method::Elk, ungulate::KalmanEstimate::Smoother}}) {
    opt.method = c.method;
    opt.elk_estimate = c.estimate;
    opt.num_chunks = 3;
    const auto r = ungulate::solve(cell, x_local, s0, dist, opt, decomp);
    const std::string what = name + " " + ungulate::to_string(c.method) +
                             (c.estimate == ungulate::KalmanEstimate::Smoother ? "/smoother" : "") +
                             " T=" + std::to_string(T) + " rank " + std::to_string(world_rank());
    EXPECT_EQ(r.status, ungulate::Status::Converged) << what;
    int lo = r.iterations, hi = r.iterations;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(lo, hi) << what;
    // Converged promises the residual; the error it leaves is the residual times the
    // recurrence's conditioning, which grows with the horizon for chaotic Lorenz-96 (the
    // single-rank tests in test_cell_solvers.cpp judge it the same way): relative to the
    // data's scale, 1e-3 in float and 1e-6 in double.
    EXPECT_LE(r.final_residual, ungulate::default_tolerance<S>()) << what;
    double scale = 0;
    for (std::size_t i = 0; i < hseq.size(); ++i)
      scale = std::fmax(scale, std::fabs(double(hseq.data()[i])));
    const double error = slice_error(dist, hseq, t0) / (1 + scale);
    EXPECT_LE(error, sizeof(S) == 4 ? 1e-3 : 1e-6) << what;
    if (std::getenv("UNGULATE_TEST_VERBOSE"))
      std::printf("%s: %d iterations, residual %.3g, scaled error %.3g\n", what.c_str(),
                  r.iterations, r.final_residual, error);
  }
}

TEST(MpiSolvers, LstmMatchesSequential) {
  for (int T : {2, 5, 301}) {
    new_cell_matches_sequential(ungulate::make_benchmark_lstm<double>(4, 3, 41), T, 2, 0.1,
                                "lstm double");
    new_cell_matches_sequential(ungulate::make_benchmark_lstm<float>(4, 3, 41), T, 2, 0.1,
                                "lstm float");
  }
}

TEST(MpiSolvers, Lorenz96MatchesSequentialOnShortHorizons) {
  for (int T : {3, 100}) {
    new_cell_matches_sequential(ungulate::cells::Lorenz96<double>(8, 8.0, 0.01), T, 2, 2.0,
                                "lorenz96 double");
    new_cell_matches_sequential(ungulate::cells::Lorenz96<float>(8, 8.0f, 0.01f), T, 2, 2.0,
                                "lorenz96 float");
  }
}

// The sequential finish across ranks (each continues from its left neighbour in turn, from
// the exact prefix wherever it lies): a GRU with recurrent kernels x4, chaotic (LLE ~ +0.07),
// where the parallel iteration cannot pay.  Chaos amplifies the prefix's rounding, so the
// answer is judged by its residual, which a wrong hand-over between ranks would spoil.
TEST(MpiSolvers, SequentialFallbackEqualsSequential) {
  const int T = 2000, B = 2, D = 16;
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int t0 = int(decomp.first_step()), TL = int(decomp.local_length());
  auto gru = ungulate::make_benchmark_gru<float>(D, D, 3);
  {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gru.recurrent_kernel);
    for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] *= 4.0f;
    Kokkos::deep_copy(gru.recurrent_kernel, h);
  }
  const auto x_full = ungulate::make_benchmark_inputs<float>(B, T, D, 4);
  const auto x_local = ungulate::make_benchmark_inputs<float>(B, TL, D, 4, t0);
  View2<float> s0("s0", B, D);
  View3<float> seq("seq", B, T, D), dist("dist", B, TL, D);
  ungulate::SolverOptions opt;
  opt.method = Method::Sequential;
  ungulate::solve(gru, x_full, s0, seq, opt);
  auto hseq = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), seq);
  for (Method m : {Method::QuasiDeer, Method::Deer, Method::QuasiElk}) {
    opt.method = m;
    const auto r = ungulate::solve(gru, x_local, s0, dist, opt, decomp);
    const std::string what =
        std::string(ungulate::to_string(m)) + " rank " + std::to_string(world_rank());
    EXPECT_EQ(r.status, ungulate::Status::Converged) << what;
    EXPECT_EQ(r.fallback, ungulate::Fallback::Sequential) << what;
    int lo = r.fallback_iteration, hi = r.fallback_iteration;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(lo, hi) << what;
    EXPECT_GT(r.lle, 0) << what;
    EXPECT_LE(r.final_residual, ungulate::default_tolerance<float>()) << what;
    // The steps before the fallback's exact prefix are those of the parallel iteration;
    // the first step equals sequential evaluation to the tolerance on every method.
    if (t0 == 0) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dist);
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < D; ++i)
          EXPECT_NEAR(h(b, 0, i), hseq(b, 0, i), ungulate::default_tolerance<float>()) << what;
    }
  }
}

// A NaN input on the last rank's slice: every rank must see the divergence.
TEST(MpiSolvers, DivergenceOnOneRankIsSeenByAll) {
  const int T = 40, B = 2, D = 3;
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int TL = int(decomp.local_length());
  const auto gru = ungulate::make_benchmark_gru<double>(D, D, 3);
  auto x = ungulate::make_benchmark_inputs<double>(B, TL, D, 9, decomp.first_step());
  if (world_rank() == world_size() - 1 && TL > 0) {
    auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    hx(1, TL - 1, 0) = std::nan("");
    Kokkos::deep_copy(x, hx);
  }
  View2<double> s0("s0", B, D);
  View3<double> out("out", B, TL, D);
  for (Method m : {Method::QuasiDeer, Method::Deer, Method::QuasiElk, Method::Elk}) {
    ungulate::SolverOptions opt;
    opt.method = m;
    const auto r = ungulate::solve(gru, x, s0, out, opt, decomp);
    EXPECT_EQ(r.status, ungulate::Status::Diverged) << ungulate::to_string(m);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
    bool finite = true;
    for (std::size_t i = 0; i < h.size(); ++i) finite = finite && std::isfinite(h.data()[i]);
    EXPECT_TRUE(finite) << "returned states must stay finite";
  }
}

// ---------------------------------------------------------------------------------------
// Gradients across ranks: each rank's slice of dL/dx, and dL/ds_0 and the weight gradient on
// every rank, equal the single-rank gradient (T = 1, T < ranks, T not a power of two), by
// the reverse scan (chunks 3), the pipelined reverse sweep (chunks 1) and the default.

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::fmax(diff, std::fabs(a[i] - b[i]));
    scale = std::fmax(scale, std::fabs(b[i]));
  }
  return a.size() == b.size() ? diff / std::fmax(scale, 1e-300) : HUGE_VAL;
}

template <class V>
std::vector<double> host_values(const V& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

template <class Cell>
void gradient_matches_single_rank(const Cell& cell, int T, int B, double s0_value,
                                  const std::string& name, int chunks) {
  using S = typename Cell::value_type;
  const int D = cell.state_size(), I = cell.input_size();
  const MpiTimeDecomposition decomp(MPI_COMM_WORLD, T);
  const int t0 = int(decomp.first_step()), TL = int(decomp.local_length());
  const auto x_full = ungulate::make_benchmark_inputs<S>(B, T, I, 51);
  const auto x_local = ungulate::make_benchmark_inputs<S>(B, TL, I, 51, t0);
  const auto g_full = ungulate::make_benchmark_inputs<S>(B, T, D, 52);
  const auto g_local = ungulate::make_benchmark_inputs<S>(B, TL, D, 52, t0);
  View2<S> s0("s0", B, D);
  Kokkos::deep_copy(s0, S(s0_value));
  View3<S> s_full("s_full", B, T, D), s_local("s_local", B, TL, D);
  ungulate::SolverOptions opt;
  opt.method = Method::Sequential;
  ungulate::solve(cell, x_full, s0, s_full, opt);
  ungulate::solve(cell, x_local, s0, s_local, opt, decomp);
  ungulate::GradientOptions gopt;
  gopt.num_chunks = chunks;
  const auto single = ungulate::gradient(cell, x_full, s0, s_full, g_full);
  const auto dist = ungulate::gradient(cell, x_local, s0, s_local, g_local, gopt, decomp);
  const std::string what = name + " T=" + std::to_string(T) + " B=" + std::to_string(B) +
                           " chunks " + std::to_string(chunks) + " rank " +
                           std::to_string(world_rank());
  const double tol = sizeof(S) == 4 ? 1e-5 : 1e-10;
  // This rank's slice of the single-rank input gradient.
  const auto all_x = host_values(single.inputs);
  std::vector<double> slice;
  for (int b = 0; b < B; ++b)
    for (int t = t0; t < t0 + TL; ++t)
      for (int k = 0; k < I; ++k) slice.push_back(all_x[(std::size_t(b) * T + t) * I + k]);
  const auto mine = host_values(dist.inputs);
  EXPECT_LE(relative_error(mine, slice), tol * 10) << what << ": inputs";
  EXPECT_LE(relative_error(host_values(dist.initial_state), host_values(single.initial_state)), tol)
      << what << ": initial state";
  EXPECT_LE(relative_error(dist.weights, single.weights), tol) << what << ": weights";
  EXPECT_GT(single.max_abs_adjoint, 0.0) << what;
  EXPECT_NEAR(dist.max_abs_adjoint, single.max_abs_adjoint, tol * single.max_abs_adjoint) << what;
  // Identical weight gradients on every rank.
  std::vector<double> lo = dist.weights, hi = dist.weights;
  MPI_Allreduce(MPI_IN_PLACE, lo.data(), int(lo.size()), MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, hi.data(), int(hi.size()), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi) << what;
}

TEST(MpiGradient, MatchesSingleRank) {
  for (int chunks : {3, 1, -1}) {
    for (int T : {1, 3, 7, 203}) {
      gradient_matches_single_rank(ungulate::make_benchmark_gru<double>(4, 3, 61), T, 2, 0.1,
                                   "gru double", chunks);
      gradient_matches_single_rank(ungulate::make_benchmark_gru<float>(4, 3, 61), T, 2, 0.1,
                                   "gru float", chunks);
      gradient_matches_single_rank(ungulate::make_benchmark_lstm<double>(3, 2, 62), T, 2, 0.1,
                                   "lstm double", chunks);
    }
    for (int T : {2, 45}) {
      gradient_matches_single_rank(ungulate::cells::Lorenz96<double>(6, 8.0, 0.01), T, 2, 2.0,
                                   "lorenz96 double", chunks);
      gradient_matches_single_rank(ungulate::cells::Lorenz96<float>(6, 8.0f, 0.01f), T, 2, 2.0,
                                   "lorenz96 float", chunks);
    }
    // More sequences than ranks: the default pipelines them (several groups in flight).
    gradient_matches_single_rank(ungulate::make_benchmark_gru<double>(4, 3, 61), 97, 7, 0.1,
                                 "gru double", chunks);
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int code = 0;
  {
    ::testing::InitGoogleTest(&argc, argv);
    Kokkos::ScopeGuard kokkos(argc, argv);
    if (world_rank() != 0) {  // one report, from rank 0
      auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
    }
    code = RUN_ALL_TESTS();
  }
  MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return code;
}
