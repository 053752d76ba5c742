// ungulate::math: the vectorisable float exp/tanh/sigmoid against the C library in double
// (ulp error over dense grids, special values), and the log/log1p/softplus helpers with
// their dual-number derivatives.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "test_helpers.hpp"

namespace {

namespace um = ungulate::math;

/// Distance in units in the last place of float between a float result and the exact value.
double ulp_error(float got, double exact) {
  const float e = float(exact);
  if (got == e) return 0;
  const double ulp =
      std::nextafter(std::abs(e), std::numeric_limits<float>::infinity()) - std::abs(e);
  return std::abs(double(got) - exact) / ulp;
}

// Evaluated inside a Kokkos kernel: what the solvers run.
std::vector<float> on_device(const std::vector<float>& x, int which) {
  Kokkos::View<float*> in("in", x.size()), out("out", x.size());
  auto h = Kokkos::create_mirror_view(in);
  for (std::size_t i = 0; i < x.size(); ++i) h(i) = x[i];
  Kokkos::deep_copy(in, h);
  Kokkos::parallel_for(
      "math_probe", x.size(), KOKKOS_LAMBDA(const int i) {
        out(i) = which == 0 ? um::exp(in(i)) : which == 1 ? um::tanh(in(i)) : um::sigmoid(in(i));
      });
  Kokkos::deep_copy(h, out);
  return std::vector<float>(h.data(), h.data() + x.size());
}

std::vector<float> grid(float lo, float hi, int n) {
  std::vector<float> x;
  for (int i = 0; i <= n; ++i) x.push_back(lo + (hi - lo) * float(i) / float(n));
  return x;
}

TEST(FastMath, ExpWithinTwoUlpOfExact) {
  const auto x = grid(-86.0f, 88.5f, 400000);
  const auto y = on_device(x, 0);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulp_error(y[i], std::exp(double(x[i]))));
  std::printf("exp: worst %.2f ulp\n", worst);
  EXPECT_LE(worst, 2.0);
  EXPECT_GT(worst, 0.0) << "a zero error everywhere suggests the exact function was tested";
}

TEST(FastMath, TanhWithinThreeUlpOfExactAlsoNearZero) {
  auto x = grid(-12.0f, 12.0f, 400000);
  for (float t = 1e-30f; t < 1.0f; t *= 1.7f) {  // tiny arguments: relative accuracy
    x.push_back(t);
    x.push_back(-t);
  }
  const auto y = on_device(x, 1);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulp_error(y[i], std::tanh(double(x[i]))));
  std::printf("tanh: worst %.2f ulp\n", worst);
  EXPECT_LE(worst, 3.0);
}

TEST(FastMath, SigmoidWithinFourUlpOfExact) {
  // Up to where the result leaves the normal floats (-87.3) and past the clamp of e^-x
  // at the top (86.5).
  const auto x = grid(-87.0f, 88.0f, 400000);
  const auto y = on_device(x, 2);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulp_error(y[i], 1.0 / (1.0 + std::exp(-double(x[i])))));
  std::printf("sigmoid: worst %.2f ulp\n", worst);
  EXPECT_LE(worst, 4.0);
}

TEST(FastMath, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto e = on_device({nan, inf, -inf, 89.0f, -104.0f, 0.0f}, 0);
  EXPECT_TRUE(std::isnan(e[0])) << "NaN must propagate (divergence detection relies on it)";
  EXPECT_EQ(e[1], inf);
  EXPECT_EQ(e[2], 0.0f);
  EXPECT_EQ(e[3], inf);
  EXPECT_EQ(e[4], 0.0f);
  EXPECT_EQ(e[5], 1.0f);
  const auto t = on_device({nan, inf, -inf, 0.0f, -0.0f, 40.0f}, 1);
  EXPECT_TRUE(std::isnan(t[0]));
  EXPECT_EQ(t[1], 1.0f);
  EXPECT_EQ(t[2], -1.0f);
  EXPECT_EQ(t[3], 0.0f);
  EXPECT_EQ(t[5], 1.0f);
  const auto s = on_device({nan, inf, -inf, 0.0f}, 2);
  EXPECT_TRUE(std::isnan(s[0]));
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_EQ(s[2], 0.0f);
  EXPECT_EQ(s[3], 0.5f);
}

// The cells call these over fixed-length blocks, a loop the compiler vectorises: there the
// lanes must agree bitwise with one-at-a-time evaluation, and a NaN in one lane must stay
// NaN without disturbing its neighbours (every special value sits among ordinary ones).
TEST(FastMath, BlocksAgreeWithOneAtATimeAndKeepNaNInItsLane) {
  constexpr int L = 16;
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.3f,  nan,  -2.5f, inf,    1e-3f, -inf,  -104.0f, 89.0f,
                                -0.7f, -nan, 40.0f, -88.5f, 0.0f,  -0.0f, 17.25f,  -3.0f};
  Kokkos::View<float*> in("in", L), out("out", 3 * L);
  auto h = Kokkos::create_mirror_view(in);
  for (int i = 0; i < L; ++i) h(i) = x[i];
  Kokkos::deep_copy(in, h);
  Kokkos::parallel_for(
      "math_block", 1, KOKKOS_LAMBDA(const int) {
        float v[L], e[L], t[L], s[L];
        for (int l = 0; l < L; ++l) v[l] = in(l);
        for (int l = 0; l < L; ++l) {
          e[l] = um::exp(v[l]);
          t[l] = um::tanh(v[l]);
          s[l] = um::sigmoid(v[l]);
        }
        for (int l = 0; l < L; ++l) {
          out(l) = e[l];
          out(L + l) = t[l];
          out(2 * L + l) = s[l];
        }
      });
  auto got = Kokkos::create_mirror_view(out);
  Kokkos::deep_copy(got, out);
  for (int which = 0; which < 3; ++which) {
    const auto single = on_device(x, which);
    for (int l = 0; l < L; ++l) {
      const float block = got(which * L + l);
      if (std::isnan(x[l])) {
        EXPECT_TRUE(std::isnan(block)) << "function " << which << ", lane " << l;
      } else {
        std::uint32_t a, b;
        std::memcpy(&a, &block, sizeof a);
        std::memcpy(&b, &single[l], sizeof b);
        EXPECT_EQ(a, b) << "function " << which << " at " << x[l] << ": " << block << " vs "
                        << single[l];
      }
    }
  }
}

// The convergence tests' reduction: NaN and Inf anywhere count as +infinity, whatever the
// sign or position (the float and double versions work on bit patterns), and `start` is kept
// when it is the largest.
template <class T>
void check_max_abs_difference() {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  for (int n : {1, 5, 16, 17, 40}) {
    std::vector<T> a(n), b(n);
    for (int i = 0; i < n; ++i) {
      a[i] = T(0.25) * T(i % 7) - T(0.5);
      b[i] = T(0.1) * T(i % 3);
    }
    T expect = 0;
    for (int i = 0; i < n; ++i) expect = std::max(expect, T(std::abs(a[i] - b[i])));
    EXPECT_EQ(um::max_abs_difference(n, a.data(), b.data(), T(0)), expect) << n;
    EXPECT_EQ(um::max_abs_difference(n, a.data(), b.data(), T(7)), T(7));
    EXPECT_EQ(um::max_abs_difference(n, a.data(), b.data(), inf), inf);
    for (T bad : {nan, -nan, inf, -inf}) {
      for (int where : {0, n / 2, n - 1}) {
        auto c = a;
        c[where] = bad;
        EXPECT_EQ(um::max_abs_difference(n, c.data(), b.data(), T(0)), inf)
            << "n=" << n << " at " << where << " value " << bad;
        EXPECT_EQ(um::max_abs_difference(n, b.data(), c.data(), T(3)), inf);
      }
    }
    EXPECT_EQ(um::max_abs_difference(0, a.data(), b.data(), T(0.5)), T(0.5));
    // Tiny differences (subnormal) are not lost.
    std::vector<T> z(n, T(0)), tiny(n, T(0));
    tiny[n - 1] = std::numeric_limits<T>::denorm_min();
    EXPECT_EQ(um::max_abs_difference(n, z.data(), tiny.data(), T(0)),
              std::numeric_limits<T>::denorm_min());
  }
}

TEST(ConvergenceMath, MaxAbsDifferenceFloat) {
  check_max_abs_difference<float>();
}
TEST(ConvergenceMath, MaxAbsDifferenceDouble) {
  check_max_abs_difference<double>();
}

TEST(FastMath, LogSoftplusAndTheirDerivatives) {
  using D1 = ungulate::Dual<double>;
  for (double v : {-40.0, -3.0, -0.2, 0.0, 0.7, 5.0, 40.0}) {
    const double sp = v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
    EXPECT_NEAR(um::softplus(v), sp, 1e-15 * (1 + std::abs(sp))) << v;
    const D1 d = um::softplus(D1(v, 1.0));
    EXPECT_NEAR(d.v, sp, 1e-15 * (1 + std::abs(sp))) << v;
    EXPECT_NEAR(d.d, 1.0 / (1.0 + std::exp(-v)), 1e-14) << "softplus' = sigmoid at " << v;
  }
  EXPECT_EQ(um::softplus(1000.0), 1000.0);  // no overflow
  for (double v : {0.1, 1.0, 7.5}) {
    EXPECT_NEAR(um::log(D1(v, 1.0)).d, 1.0 / v, 1e-15);
    EXPECT_NEAR(um::log1p(D1(v, 1.0)).d, 1.0 / (1.0 + v), 1e-15);
    EXPECT_NEAR(um::log(v), std::log(v), 1e-15);
  }
  EXPECT_NEAR(um::softplus(-30.0f), std::exp(-30.0f), 1e-20f) << "float, tiny";
}

}  // namespace
