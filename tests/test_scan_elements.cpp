// Algebra of the scan element types: associativity, two-sided identity, non-commutativity,
// the formulas themselves (against a host double-precision reference), and consistency of
// advance/state_of with combine.
#include "scan_test_elements.hpp"

namespace {

using namespace ut;

// ---- device probe: every combination the tests look at, for n random quadruples ---------

// Output slots (each element_size long, then states).
enum Slot { AB, AB_C, BC, A_BC, BA, ID, ID_A, A_ID, PB, PB_C, NUM_SLOTS };

template <class Op>
struct ElementProbe {
  using S = typename Op::value_type;
  Op op;
  View2<S> in;       // (n, 4 es): a, b, c, p (p start-anchored)
  View2<S> out;      // (n, NUM_SLOTS es + 5 ss)
  View2<S> scratch;  // (n, scratch_size + 1)

  KOKKOS_INLINE_FUNCTION void operator()(const int k) const {
    const int es = op.element_size(), ss = op.state_size();
    const S* a = &in(k, 0);
    const S* b = a + es;
    const S* c = b + es;
    const S* p = c + es;
    S* o = &out(k, 0);
    S* sc = &scratch(k, 0);
    op.combine(a, b, o + AB * es, sc);
    op.combine(o + AB * es, c, o + AB_C * es, sc);
    op.combine(b, c, o + BC * es, sc);
    op.combine(a, o + BC * es, o + A_BC * es, sc);
    op.combine(b, a, o + BA * es, sc);
    op.set_identity(o + ID * es);
    op.combine(o + ID * es, a, o + ID_A * es, sc);
    op.combine(a, o + ID * es, o + A_ID * es, sc);
    op.combine(p, b, o + PB * es, sc);
    op.combine(o + PB * es, c, o + PB_C * es, sc);
    S* st = o + NUM_SLOTS * es;
    // st0: advance(state_of(p), b)        vs st1: state_of(combine(p, b))
    // st2: advance(advance(state_of(p), b), c) vs st3: state_of(combine(combine(p, b), c))
    // st4: advance(state_of(identity), b) vs state_of(b) (the engine's first chunk)
    op.state_of(p, st);
    op.advance(st, b, sc);
    op.state_of(o + PB * es, st + ss);
    op.state_of(p, st + 2 * ss);
    op.advance(st + 2 * ss, b, sc);
    op.advance(st + 2 * ss, c, sc);
    op.state_of(o + PB_C * es, st + 3 * ss);
    op.state_of(o + ID * es, st + 4 * ss);
    op.advance(st + 4 * ss, b, sc);
  }
};

template <class Op>
struct ProbeResult {
  int es = 0, ss = 0, n = 0;
  std::vector<double> in, out;
  std::vector<double> slot(int k, int s) const {
    const std::size_t row = std::size_t(NUM_SLOTS) * es + 5 * ss;
    const auto* base = &out[k * row + std::size_t(s) * es];
    return std::vector<double>(base, base + es);
  }
  std::vector<double> state(int k, int s) const {
    const std::size_t row = std::size_t(NUM_SLOTS) * es + 5 * ss;
    const auto* base = &out[k * row + std::size_t(NUM_SLOTS) * es + std::size_t(s) * ss];
    return std::vector<double>(base, base + ss);
  }
  std::vector<double> input(int k, int which) const {
    const auto* base = &in[(std::size_t(k) * 4 + which) * es];
    return std::vector<double>(base, base + es);
  }
};

template <class Op>
ProbeResult<Op> run_probe(int D, int n, std::uint64_t seed) {
  using S = typename Op::value_type;
  const Op op{D};
  Rng rng(seed);
  ProbeResult<Op> r;
  r.es = op.element_size();
  r.ss = op.state_size();
  r.n = n;
  for (int k = 0; k < n; ++k)
    for (int w = 0; w < 4; ++w) {
      const auto e = ElementTraits<Op>::random(D, rng, /*anchored=*/w == 3);
      EXPECT_EQ(int(e.size()), r.es);
      r.in.insert(r.in.end(), e.begin(), e.end());
    }
  // Round the inputs to S so that the host reference sees exactly what the device sees.
  for (auto& v : r.in) v = double(S(v));
  View2<S> in = make_view2<S>("in", n, 4 * r.es, r.in);
  View2<S> out("out", n, NUM_SLOTS * r.es + 5 * r.ss);
  View2<S> scratch("scratch", n, op.scratch_size() + 1);
  Kokkos::parallel_for("probe", Kokkos::RangePolicy<>(0, n),
                       ElementProbe<Op>{op, in, out, scratch});
  Kokkos::fence();
  r.out = to_vector(out);
  return r;
}

template <class Op>
class ScanElements : public ::testing::Test {};

TYPED_TEST_SUITE(ScanElements, ElementTypes, ElementNames);

// Relative tolerance for quantities built from a couple of combines.
template <class S>
double algebra_tol() {
  return sizeof(S) == 4 ? 2e-5 : 1e-12;
}

const int kDims[] = {1, 2, 3, 5, 8};
const std::uint64_t kSeeds[] = {11, 12, 13};
constexpr int kTrials = 25;

TYPED_TEST(ScanElements, Associative) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  for (int D : kDims)
    for (auto seed : kSeeds) {
      const auto r = run_probe<Op>(D, kTrials, seed * 100 + D);
      for (int k = 0; k < kTrials; ++k) {
        const auto left = r.slot(k, AB_C), right = r.slot(k, A_BC);
        ASSERT_TRUE(all_finite(left));
        EXPECT_LT(scaled_diff(left, right), 4 * algebra_tol<S>())
            << "D=" << D << " seed=" << seed << " trial=" << k;
      }
    }
}

TYPED_TEST(ScanElements, IdentityOnBothSides) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  for (int D : kDims)
    for (auto seed : kSeeds) {
      const auto r = run_probe<Op>(D, kTrials, seed * 100 + D);
      for (int k = 0; k < kTrials; ++k) {
        const auto a = r.input(k, 0);
        EXPECT_LT(scaled_diff(r.slot(k, ID_A), a), algebra_tol<S>())
            << "identity o a, D=" << D << " trial=" << k;
        EXPECT_LT(scaled_diff(r.slot(k, A_ID), a), algebra_tol<S>())
            << "a o identity, D=" << D << " trial=" << k;
      }
    }
}

TYPED_TEST(ScanElements, NotCommutative) {
  using Op = TypeParam;
  for (int D : kDims)
    for (auto seed : kSeeds) {
      const auto r = run_probe<Op>(D, kTrials, seed * 100 + D);
      for (int k = 0; k < kTrials; ++k) {
        const auto ab = r.slot(k, AB), ba = r.slot(k, BA);
        // Random elements: the two orders differ by O(1); rounding is ~1e-7 at worst.
        EXPECT_GT(scaled_diff(ab, ba), 1e-4) << "D=" << D << " trial=" << k;
      }
    }
}

TYPED_TEST(ScanElements, CombineMatchesHostFormula) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  for (int D : kDims)
    for (auto seed : kSeeds) {
      const auto r = run_probe<Op>(D, kTrials, seed * 100 + D);
      for (int k = 0; k < kTrials; ++k) {
        const auto a = r.input(k, 0), b = r.input(k, 1);
        const auto ref_ab = ElementTraits<Op>::combine(D, a, b);
        const auto ref_ba = ElementTraits<Op>::combine(D, b, a);
        EXPECT_LT(scaled_diff(r.slot(k, AB), ref_ab), 4 * algebra_tol<S>())
            << "combine(a, b), D=" << D << " trial=" << k;
        EXPECT_LT(scaled_diff(r.slot(k, BA), ref_ba), 4 * algebra_tol<S>())
            << "combine(b, a), D=" << D << " trial=" << k;
      }
    }
}

TYPED_TEST(ScanElements, AdvanceMatchesStateOfCombine) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  for (int D : kDims)
    for (auto seed : kSeeds) {
      const auto r = run_probe<Op>(D, kTrials, seed * 100 + D);
      for (int k = 0; k < kTrials; ++k) {
        ASSERT_TRUE(all_finite(r.state(k, 0)));
        EXPECT_LT(scaled_diff(r.state(k, 0), r.state(k, 1)), 4 * algebra_tol<S>())
            << "one step, D=" << D << " trial=" << k;
        EXPECT_LT(scaled_diff(r.state(k, 2), r.state(k, 3)), 8 * algebra_tol<S>())
            << "two steps, D=" << D << " trial=" << k;
        // From the identity's state, one advance gives the element's own state.
        std::vector<double> own(r.ss);
        {
          const auto b = r.input(k, 1);
          // state_of(b) read off the host copy with the element's documented layout.
          switch (ElementTraits<Op>::kind) {
            case Kind::AffineDiagonal:
            case Kind::KalmanDiagonal:
              for (int i = 0; i < D; ++i) own[i] = b[D + i];
              if (ElementTraits<Op>::kind == Kind::KalmanDiagonal)
                for (int i = 0; i < D; ++i) own[D + i] = b[2 * D + i];
              break;
            case Kind::AffineDense:
            case Kind::KalmanDense:
              for (int i = 0; i < D; ++i) own[i] = b[D * D + i];
              if (ElementTraits<Op>::kind == Kind::KalmanDense)
                for (int i = 0; i < D * D; ++i) own[D + i] = b[D * D + D + i];
              break;
          }
        }
        EXPECT_LT(scaled_diff(r.state(k, 4), own), algebra_tol<S>())
            << "advance from identity, D=" << D << " trial=" << k;
      }
    }
}

// The Kalman state after a start-anchored prefix is a filter (mean, covariance): the
// covariance must stay symmetric positive semi-definite through combines.
template <class Op>
class KalmanElements : public ::testing::Test {};
using KalmanTypes = ::testing::Types<us::KalmanDiagonal<float>, us::KalmanDiagonal<double>,
                                     us::KalmanDense<float>, us::KalmanDense<double>>;
TYPED_TEST_SUITE(KalmanElements, KalmanTypes, ElementNames);

TYPED_TEST(KalmanElements, CovarianceStaysSymmetricPositive) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  for (int D : kDims) {
    const auto r = run_probe<Op>(D, kTrials, 77 + D);
    for (int k = 0; k < kTrials; ++k) {
      const auto st = r.state(k, 3);
      if (ElementTraits<Op>::kind == Kind::KalmanDense) {
        const std::vector<double> P(st.begin() + D, st.end());
        for (int i = 0; i < D; ++i) {
          EXPECT_GE(P[i * D + i], -algebra_tol<S>()) << "negative variance";
          for (int j = 0; j < D; ++j)
            EXPECT_NEAR(P[i * D + j], P[j * D + i], 1e2 * algebra_tol<S>() * (1 + max_abs(P)));
        }
      } else {
        for (int i = 0; i < D; ++i) EXPECT_GE(st[D + i], 0.0);
      }
    }
  }
}

}  // namespace
