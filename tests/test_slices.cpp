// The building blocks of the distributed (MPI) level, emulated in one process: a sequence
// cut into two time slices, each scanned on its own with a SliceBoundary (halo state,
// starts_sequence / ends_sequence, next_input) and the slice aggregates passed as carry-ins,
// must reproduce one Newton-type step on the whole sequence: DEER's affine step, ELK's filter
// (means and covariances) and the RTS smoother's reverse pass, dense and diagonal.
#include "test_helpers.hpp"

namespace {

using namespace ut;
namespace sv = ungulate::solvers;
using ungulate::Direction;
using Memory = ungulate::DefaultExecutionSpace::memory_space;

template <class S>
struct Data {
  int B, T, D, I;
  ungulate::cells::GRU<S> gru;
  std::vector<double> x, s0, y;  // inputs (B,T,I), s0 (B,D), current iterate (B,T,D)
};

/// Rows [t0, t1) of a (B, T, n) host array as a device view (B, t1 - t0, n).
template <class S>
View3<S> slice(const std::vector<double>& a, int B, int T, int n, int t0, int t1) {
  std::vector<double> out;
  for (int b = 0; b < B; ++b)
    out.insert(out.end(), a.begin() + (std::size_t(b) * T + t0) * n,
               a.begin() + (std::size_t(b) * T + t1) * n);
  return make_view3<S>("slice", B, t1 - t0, n, out);
}
/// Row t of a (B, T, n) host array as a device view (B, n).
template <class S>
View2<S> row(const std::vector<double>& a, int B, int T, int n, int t) {
  std::vector<double> out;
  for (int b = 0; b < B; ++b)
    out.insert(out.end(), a.begin() + (std::size_t(b) * T + t) * n,
               a.begin() + (std::size_t(b) * T + t + 1) * n);
  return make_view2<S>("row", B, n, out);
}
/// Concatenates two (B, Ta, n), (B, Tb, n) host arrays along time.
std::vector<double> concat(const std::vector<double>& a, const std::vector<double>& b, int B,
                           int Ta, int Tb, int n) {
  std::vector<double> out;
  for (int bb = 0; bb < B; ++bb) {
    out.insert(out.end(), a.begin() + std::size_t(bb) * Ta * n,
               a.begin() + std::size_t(bb + 1) * Ta * n);
    out.insert(out.end(), b.begin() + std::size_t(bb) * Tb * n,
               b.begin() + std::size_t(bb + 1) * Tb * n);
  }
  return out;
}

/// One slice's view of the problem.
template <class S>
struct Slice {
  int t0, t1;
  View3<S> x, y;
  View2<S> s0_or_halo, next_input;
  sv::SliceBoundary<S, Memory> boundary;
};

template <class S>
Slice<S> make_slice(const Data<S>& d, int t0, int t1) {
  Slice<S> s{t0, t1, slice<S>(d.x, d.B, d.T, d.I, t0, t1), slice<S>(d.y, d.B, d.T, d.D, t0, t1), {},
             {}, {}};
  s.s0_or_halo = t0 == 0 ? make_view2<S>("s0", d.B, d.D, d.s0) : row<S>(d.y, d.B, d.T, d.D, t0 - 1);
  s.boundary.previous = s.s0_or_halo;
  s.boundary.starts_sequence = t0 == 0;
  s.boundary.ends_sequence = t1 == d.T;
  if (t1 < d.T) {
    s.next_input = row<S>(d.x, d.B, d.T, d.I, t1);
    s.boundary.next_input = s.next_input;
  }
  return s;
}

struct StepResult {
  std::vector<double> affine, mean, cov, smoothed;
  double residual = 0;
};

/// One DEER step and one ELK filter + smoother step on each slice in turn, chained through
/// slice aggregates in scan order (slices = one slice means the whole sequence).
template <class Structure, class S>
StepResult step(const Data<S>& d, const std::vector<int>& cuts, double lambda, int chunks) {
  using Cell = ungulate::cells::GRU<S>;
  using AffineOp = typename Structure::template Affine<S>;
  using KalmanOp = typename Structure::template Kalman<S>;
  using AGen = sv::LinearisedElements<Cell, Structure, sv::AffineBuilder<Structure>, Memory>;
  using KGen = sv::LinearisedElements<Cell, Structure, sv::KalmanBuilder<Structure>, Memory>;
  using SGen = sv::SmootherElements<Cell, Structure, Memory>;
  const int B = d.B, D = d.D, n = Structure::size(D);
  const AffineOp aop{D};
  const KalmanOp kop{D};
  std::vector<Slice<S>> slices;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k)
    slices.push_back(make_slice(d, cuts[k], cuts[k + 1]));
  const std::size_t P = slices.size();

  StepResult out;
  std::vector<std::vector<double>> affine(P), mean(P), cov(P), smoothed(P);
  std::vector<View3<S>> dmean(P), dcov(P);
  View2<S> carry;  // prefix of everything before the current slice (forward)
  View2<S> kcarry;
  for (std::size_t k = 0; k < P; ++k) {
    const auto& s = slices[k];
    const int L = s.t1 - s.t0;
    // DEER step.
    const AGen agen{d.gru, {}, s.x, s.y, s.boundary, D};
    ungulate::scan::ChunkedScan<AffineOp> ascan(aop, B, L, chunks, agen.scratch_size());
    out.residual = std::max(out.residual, double(ascan.reduce_chunks(agen, Direction::Forward)));
    View2<S> agg("agg", B, aop.element_size());
    ascan.slice_aggregates(agg);
    ascan.scan_chunks(carry);
    View3<S> next("next", B, L, D);
    ascan.finish(agen, sv::WriteIterate<AffineOp, Memory>{aop, next, s.y}, Direction::Forward);
    affine[k] = to_vector(next);
    // Exclusive prefix for the next slice: carry o agg.
    if (carry.extent(0) == 0) {
      carry = agg;
    } else {
      auto hc = to_host(carry), ha = to_host(agg);
      View2<S> c2("carry", B, aop.element_size());
      auto h2 = Kokkos::create_mirror_view(c2);
      std::vector<S> scratch(aop.scratch_size() + 1);
      for (int b = 0; b < B; ++b) aop.combine(&hc(b, 0), &ha(b, 0), &h2(b, 0), scratch.data());
      Kokkos::deep_copy(c2, h2);
      carry = c2;
    }
    // ELK filter step.
    const KGen kgen{d.gru, {lambda}, s.x, s.y, s.boundary, D};
    ungulate::scan::ChunkedScan<KalmanOp> kscan(kop, B, L, chunks, kgen.scratch_size());
    kscan.reduce_chunks(kgen, Direction::Forward);
    View2<S> kagg("kagg", B, kop.element_size());
    kscan.slice_aggregates(kagg);
    kscan.scan_chunks(kcarry);
    dmean[k] = View3<S>("mean", B, L, D);
    dcov[k] = View3<S>("cov", B, L, n);
    kscan.finish(kgen, sv::StoreFiltered<KalmanOp, Memory>{kop, dmean[k], dcov[k]},
                 Direction::Forward);
    mean[k] = to_vector(dmean[k]);
    cov[k] = to_vector(dcov[k]);
    if (kcarry.extent(0) == 0) {
      kcarry = kagg;
    } else {
      auto hc = to_host(kcarry), ha = to_host(kagg);
      View2<S> c2("kcarry", B, kop.element_size());
      auto h2 = Kokkos::create_mirror_view(c2);
      std::vector<S> scratch(kop.scratch_size() + 1);
      for (int b = 0; b < B; ++b) kop.combine(&hc(b, 0), &ha(b, 0), &h2(b, 0), scratch.data());
      Kokkos::deep_copy(c2, h2);
      kcarry = c2;
    }
  }
  // RTS smoother: reverse affine scan, slices in reverse order.
  View2<S> rcarry;
  for (std::size_t kk = 0; kk < P; ++kk) {
    const std::size_t k = P - 1 - kk;
    const auto& s = slices[k];
    const int L = s.t1 - s.t0;
    const SGen sgen{d.gru, s.x, s.y, dmean[k], dcov[k], s.boundary, D, L};
    ungulate::scan::ChunkedScan<AffineOp> rscan(aop, B, L, chunks, sgen.scratch_size());
    rscan.reduce_chunks(sgen, Direction::Reverse);
    View2<S> agg("ragg", B, aop.element_size());
    rscan.slice_aggregates(agg);
    rscan.scan_chunks(rcarry);
    View3<S> sm("smoothed", B, L, D);
    rscan.finish(sgen, sv::WriteIterate<AffineOp, Memory>{aop, sm, s.y}, Direction::Reverse);
    smoothed[k] = to_vector(sm);
    if (rcarry.extent(0) == 0) {
      rcarry = agg;
    } else {
      auto hc = to_host(rcarry), ha = to_host(agg);
      View2<S> c2("rcarry", B, aop.element_size());
      auto h2 = Kokkos::create_mirror_view(c2);
      std::vector<S> scratch(aop.scratch_size() + 1);
      for (int b = 0; b < B; ++b) aop.combine(&hc(b, 0), &ha(b, 0), &h2(b, 0), scratch.data());
      Kokkos::deep_copy(c2, h2);
      rcarry = c2;
    }
  }
  // Stitch the slices back together along time.
  auto stitch = [&](const std::vector<std::vector<double>>& parts, int width) {
    std::vector<double> acc = parts[0];
    int len = slices[0].t1 - slices[0].t0;
    for (std::size_t k = 1; k < P; ++k) {
      const int Lk = slices[k].t1 - slices[k].t0;
      acc = concat(acc, parts[k], B, len, Lk, width);
      len += Lk;
    }
    return acc;
  };
  out.affine = stitch(affine, D);
  out.mean = stitch(mean, D);
  out.cov = stitch(cov, n);
  out.smoothed = stitch(smoothed, D);
  return out;
}

template <class S>
Data<S> make_data(int B, int T, int D, std::uint64_t seed) {
  const int I = 2;
  Rng rng(seed);
  Data<S> d{B, T, D, I, make_random_gru<S>(D, I, seed), {}, {}, {}};
  auto round = [](std::vector<double> v) {
    for (auto& e : v) e = double(S(e));
    return v;
  };
  d.x = round(normal_vector(std::size_t(B) * T * I, rng));
  d.s0 = round(uniform_vector(std::size_t(B) * D, rng, -0.5, 0.5));
  d.y = round(normal_vector(std::size_t(B) * T * D, rng, 0.5));
  return d;
}

template <class S>
class Slices : public ::testing::Test {};
TYPED_TEST_SUITE(Slices, Scalars, ScalarNames);

template <class Structure, class S>
void check(const Data<S>& d, const std::vector<int>& cuts, double lambda, int chunks,
           const std::string& where) {
  const double tol = sizeof(S) == 4 ? 1e-5 : 1e-12;
  const auto whole = step<Structure, S>(d, {0, d.T}, lambda, chunks);
  const auto parts = step<Structure, S>(d, cuts, lambda, chunks);
  EXPECT_LT(scaled_diff(parts.affine, whole.affine), tol) << "DEER step, " << where;
  EXPECT_LT(scaled_diff(parts.mean, whole.mean), tol) << "filtered mean, " << where;
  EXPECT_LT(scaled_diff(parts.cov, whole.cov), tol) << "filtered covariance, " << where;
  EXPECT_LT(scaled_diff(parts.smoothed, whole.smoothed), tol) << "smoothed mean, " << where;
  EXPECT_NEAR(parts.residual, whole.residual, tol * (1 + whole.residual)) << where;
  // The whole-sequence step is itself the solver's: one iteration from y.
  ungulate::SolverOptions o;
  o.max_iterations = 1;
  o.init = ungulate::Initialization::Given;
  o.lambda = lambda;
  o.num_chunks = chunks;
  const bool diag = std::is_same<Structure, sv::DiagonalJacobian>::value;
  const auto x = make_view3<S>("x", d.B, d.T, d.I, d.x);
  const auto s0 = make_view2<S>("s0", d.B, d.D, d.s0);
  for (int which = 0; which < 3; ++which) {
    o.method = which == 0 ? (diag ? ungulate::Method::QuasiDeer : ungulate::Method::Deer)
                          : (diag ? ungulate::Method::QuasiElk : ungulate::Method::Elk);
    o.elk_estimate =
        which == 1 ? ungulate::KalmanEstimate::Filter : ungulate::KalmanEstimate::Smoother;
    const auto states = make_view3<S>("states", d.B, d.T, d.D, d.y);
    ungulate::solve(d.gru, x, s0, states, o);
    const auto& ref = which == 0 ? whole.affine : which == 1 ? whole.mean : whole.smoothed;
    EXPECT_LT(scaled_diff(to_vector(states), ref), tol) << "solver step " << which << ", " << where;
  }
}

TYPED_TEST(Slices, TwoAndThreeSlicesEqualOneSequence) {
  using S = TypeParam;
  for (int D : {1, 3})
    for (int T : {2, 9, 200}) {
      const auto d = make_data<S>(2, T, D, 40 + D + T);
      std::vector<std::vector<int>> cutsets = {{0, 1, T}, {0, T / 2, T}, {0, T - 1, T}};
      if (T >= 3) cutsets.push_back({0, T / 3, 2 * T / 3 + 1, T});
      for (const auto& cuts : cutsets)
        for (double lambda : {0.01, 2.0})
          for (int chunks : {1, 4}) {
            std::string where = "D=" + std::to_string(D) + " T=" + std::to_string(T) + " cuts=";
            for (int c : cuts) where += std::to_string(c) + ",";
            where += " lambda=" + std::to_string(lambda) + " chunks=" + std::to_string(chunks);
            check<sv::DenseJacobian, S>(d, cuts, lambda, chunks, "dense " + where);
            check<sv::DiagonalJacobian, S>(d, cuts, lambda, chunks, "diagonal " + where);
          }
    }
}

// dist::SingleRank, the trivial decomposition.
TEST(SingleRank, IsTheWholeSequence) {
  const ungulate::dist::SingleRank r;
  EXPECT_TRUE(r.starts_sequence());
  EXPECT_TRUE(r.ends_sequence());
  EXPECT_EQ(r.max_all(2.5), 2.5);
  View2<double> s0 = make_view2<double>("s0", 2, 3, {1, 2, 3, 4, 5, 6});
  View2<double> prev("prev", 2, 3);
  View3<double> iterate("iterate", 2, 4, 3);
  r.exchange_halo(iterate, prev, s0);
  EXPECT_EQ(max_abs_diff(to_vector(prev), to_vector(s0)), 0.0);
}

}  // namespace
