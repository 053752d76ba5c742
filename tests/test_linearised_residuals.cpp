// The trust region's merit pass with stored linearisations (solvers/linearised_residuals.hpp)
// stands in for two passes: residuals_by_sequence and the Newton step's linearising pass.  It
// must give both their exact bits, so that an ELK-type step is the same whether the next
// iteration reads the store or evaluates the cell again.
#include "test_helpers.hpp"

#include <limits>

#include "ungulate/cells/prepare.hpp"
#include "ungulate/solvers/linearised_residuals.hpp"

namespace {

using namespace ut;
namespace sv = ungulate::solvers;
using ungulate::Method;
using Memory = ungulate::DefaultExecutionSpace::memory_space;

template <class S>
class LinearisedResiduals : public ::testing::Test {};
TYPED_TEST_SUITE(LinearisedResiduals, Scalars, ScalarNames);

// Against residuals_by_sequence (merit, max, change) and LinearisedElements' Store pass (the
// stored (F, u) and the exact prefix), bit for bit: odd and block-sized states, T below and
// above the chunk count, slices that start the sequence and slices that do not.
TYPED_TEST(LinearisedResiduals, MatchTheResidualAndLinearisingPasses) {
  using S = TypeParam;
  using Structure = sv::DiagonalJacobian;
  using Cell = ungulate::cells::GRU<S>;
  using Gen = sv::LinearisedElements<Cell, Structure, sv::AffineBuilder<Structure>, Memory>;
  using Op = Structure::Affine<S>;
  const int B = 3, I = 3;
  for (int D : {5, 16, 19})
    for (int T : {1, 7, 45})
      for (int chunks : {1, 4, 64})
        for (bool starts : {true, false}) {
          SCOPED_TRACE(testing::Message() << "D " << D << " T " << T << " chunks " << chunks
                                          << (starts ? " start" : " inner slice"));
          const Cell gru = ungulate::cells::prepare(make_random_gru<S>(D, I, 7 + D));
          Rng rng(11 * T + D);
          const auto x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng));
          // An iterate near the answer in places (small residuals) and far in others.
          auto y_host = normal_vector(std::size_t(B) * T * D, rng, 0.3);
          const auto y = make_view3<S>("y", B, T, D, y_host);
          const auto ref =
              make_view3<S>("ref", B, T, D, normal_vector(std::size_t(B) * T * D, rng, 0.3));
          const auto previous = make_view2<S>("previous", B, D, normal_vector(B * D, rng, 0.3));
          const S tol = S(0.5);

          // The passes being replaced.
          const auto expected = sv::residuals_by_sequence(gru, x, previous, y, chunks, ref);
          View3<S> expected_store("expected_store", B, T, 2 * D);
          Kokkos::View<int, Memory> expected_prefix("expected_prefix");
          Kokkos::deep_copy(expected_prefix, std::numeric_limits<int>::max());
          sv::SliceBoundary<S, Memory> boundary;
          boundary.previous = previous;
          boundary.starts_sequence = starts;
          sv::StoredLinearisation<S, Memory> store{expected_store};
          const Gen gen{gru, {}, x, y, boundary, D, store.with(store.Store), expected_prefix, tol};
          ungulate::scan::ChunkedScan<Op> scan(Op{D}, B, T, chunks, gen.scratch_size(),
                                               Gen::group_size);
          scan.reduce_chunks(gen, ungulate::Direction::Forward);

          View3<S> stored("stored", B, T, 2 * D);
          Kokkos::View<int, Memory> prefix("prefix");
          Kokkos::deep_copy(prefix, std::numeric_limits<int>::max());
          const auto got = sv::linearise_by_sequence<Structure>(gru, x, previous, starts, y, chunks,
                                                                ref, stored, prefix, tol);
          EXPECT_EQ(got.merit, expected.merit);
          EXPECT_EQ(got.max, expected.max);
          EXPECT_EQ(got.change, expected.change);
          EXPECT_EQ(to_vector(stored), to_vector(expected_store));
          int p = 0, q = 0;
          Kokkos::deep_copy(p, prefix);
          Kokkos::deep_copy(q, expected_prefix);
          EXPECT_EQ(p, q);
          EXPECT_LT(p, T);  // the test reaches an inexact step
        }
}

// End to end: with the store, the adaptive trust region (the merit pass linearises, the next
// step reads it; rejected steps, after which the next step linearises again) and the fixed
// one (each step's last pass linearises the new iterate, as quasi-DEER's) take exactly the
// steps they take without it (every pass evaluates the cell).
TYPED_TEST(LinearisedResiduals, StoreLeavesTrustRegionStepsUnchanged) {
  using S = TypeParam;
  const int B = 4, T = 200, D = 16;
  // Recurrent kernels x3: strongly nonlinear, steps get rejected.
  auto gru = ungulate::make_benchmark_gru<S>(D, D, 3);
  {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gru.recurrent_kernel);
    for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] *= S(3);
    Kokkos::deep_copy(gru.recurrent_kernel, h);
  }
  const auto x = ungulate::make_benchmark_inputs<S>(B, T, D, 4);
  const View2<S> s0("s0", B, D);
  int rejected = 0;
  for (Method m : {Method::QuasiElk, Method::QuasiDeer})
    for (auto region : {ungulate::TrustRegion::Adaptive, ungulate::TrustRegion::Fixed})
      for (auto estimate : {ungulate::KalmanEstimate::Filter, ungulate::KalmanEstimate::Smoother})
        for (bool fallback : {true, false}) {
          SCOPED_TRACE(testing::Message()
                       << ungulate::to_string(m) << " " << ungulate::to_string(region) << " "
                       << (estimate == ungulate::KalmanEstimate::Filter ? "filter" : "smoother")
                       << (fallback ? "" : " raw"));
          std::vector<double> states[2];
          std::vector<ungulate::SolveResult> results;
          for (auto cache :
               {ungulate::LinearisationCache::Never, ungulate::LinearisationCache::Always}) {
            View3<S> out("out", B, T, D);
            ungulate::SolverOptions o;
            o.method = m;
            o.fallback = fallback;
            o.linearisation_cache = cache;
            o.trust_region = region;
            o.elk_estimate = estimate;
            results.push_back(ungulate::solve(gru, x, s0, out, o));
            states[results.size() - 1] = to_vector(out);
          }
          EXPECT_EQ(states[0], states[1]);
          ASSERT_EQ(results[0].history.size(), results[1].history.size());
          for (std::size_t k = 0; k < results[0].history.size(); ++k) {
            EXPECT_EQ(results[0].history[k].residual, results[1].history[k].residual) << k;
            EXPECT_EQ(results[0].history[k].rejected, results[1].history[k].rejected) << k;
            rejected += results[0].history[k].rejected;
          }
          EXPECT_EQ(results[0].status, results[1].status);
          EXPECT_EQ(results[0].fallback, results[1].fallback);
          EXPECT_EQ(results[0].final_residual, results[1].final_residual);
        }
  EXPECT_GT(rejected, 0) << "no step was rejected: the rejection path is not exercised";
}

}  // namespace
