// The small dense kernels against plain loops in double: every transposition of gemm, every
// beta (0 must overwrite a C that holds NaN), sizes that are and are not vector widths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ungulate/linalg/small_dense.hpp"

namespace {

using ungulate::linalg::NoTrans;
using ungulate::linalg::Trans;

template <class TA, class TB>
void check_gemm(int n, double alpha, double beta, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> A(n * n), B(n * n), C(n * n), expected(n * n);
  for (auto* v : {&A, &B, &C})
    for (auto& x : *v) x = normal(rng);
  if (beta == 0) C.assign(C.size(), std::numeric_limits<double>::quiet_NaN());
  constexpr bool ta = std::is_same<TA, Trans>::value, tb = std::is_same<TB, Trans>::value;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int k = 0; k < n; ++k)
        acc += (ta ? A[k * n + i] : A[i * n + k]) * (tb ? B[j * n + k] : B[k * n + j]);
      expected[i * n + j] = alpha * acc + (beta == 0 ? 0.0 : beta * C[i * n + j]);
    }
  ungulate::linalg::gemm<TA, TB>(n, alpha, A.data(), B.data(), beta, C.data());
  for (int k = 0; k < n * n; ++k)
    ASSERT_NEAR(C[k], expected[k], 1e-12 * (1 + std::abs(expected[k])))
        << "n=" << n << " ta=" << ta << " tb=" << tb << " beta=" << beta << " at " << k;
}

TEST(SmallDense, GemmEveryTranspositionAndBeta) {
  std::mt19937 rng(7);
  for (int n : {1, 2, 3, 5, 8, 16, 17, 33})
    for (double beta : {0.0, 1.0, -0.5})
      for (double alpha : {1.0, 2.5}) {
        check_gemm<NoTrans, NoTrans>(n, alpha, beta, rng);
        check_gemm<Trans, NoTrans>(n, alpha, beta, rng);
        check_gemm<NoTrans, Trans>(n, alpha, beta, rng);
        check_gemm<Trans, Trans>(n, alpha, beta, rng);
      }
}

TEST(SmallDense, LuSolveRecoversTheSolution) {
  std::mt19937 rng(8);
  std::normal_distribution<double> normal;
  for (int n : {1, 3, 16, 17}) {
    std::vector<double> M(n * n), X(n * 2), B(n * 2, 0.0), piv(n);
    for (auto& x : M) x = normal(rng);
    for (auto& x : X) x = normal(rng);
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < n; ++k)
        for (int j = 0; j < 2; ++j) B[i * 2 + j] += M[i * n + k] * X[k * 2 + j];
    ungulate::linalg::lu_factor(n, M.data(), piv.data());
    ungulate::linalg::lu_solve(n, M.data(), piv.data(), B.data(), 2);
    for (int k = 0; k < n * 2; ++k) EXPECT_NEAR(B[k], X[k], 1e-8 * (1 + std::abs(X[k]))) << n;
  }
}

}  // namespace
