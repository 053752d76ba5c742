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

// Right-hand sides of every width: one column, fewer than a register tile, whole tiles (8
// doubles, 16 floats) and tiles plus a remainder, so both the tiled and the row-update paths
// of the substitutions run.
template <class T>
void check_lu_solve(int n, int m, std::mt19937& rng, double tol) {
  std::normal_distribution<double> normal;
  std::vector<T> M(n * n), X(n * m), B(n * m, T(0)), piv(n);
  for (auto& x : M) x = T(normal(rng));
  for (int i = 0; i < n; ++i) M[i * n + i] += T(n);  // well conditioned, pivots still swap
  for (auto& x : X) x = T(normal(rng));
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < m; ++j) B[i * m + j] += M[i * n + k] * X[k * m + j];
  ungulate::linalg::lu_factor(n, M.data(), piv.data());
  ungulate::linalg::lu_solve(n, M.data(), piv.data(), B.data(), m);
  for (int k = 0; k < n * m; ++k)
    ASSERT_NEAR(B[k], X[k], tol * (1 + std::abs(X[k]))) << "n=" << n << " m=" << m << " at " << k;
}

TEST(SmallDense, LuSolveRecoversTheSolution) {
  std::mt19937 rng(8);
  for (int n : {1, 3, 5, 16, 17, 33})
    for (int m : {1, 2, 7, 8, 16, 17, 33, n}) {
      check_lu_solve<double>(n, m, rng, 1e-9);
      check_lu_solve<float>(n, m, rng, 2e-4);
    }
}

TEST(SmallDense, LuSolvePivotsOnAZeroDiagonal) {
  // [[0, 1], [1, 0]] needs the row swap; without it the first pivot is zero.
  std::vector<double> M{0, 1, 1, 0}, B{2, 3}, piv(2);
  ungulate::linalg::lu_factor(2, M.data(), piv.data());
  ungulate::linalg::lu_solve(2, M.data(), piv.data(), B.data(), 1);
  EXPECT_EQ(B[0], 3);
  EXPECT_EQ(B[1], 2);
}

TEST(SmallDense, TransposeAndFloatProducts) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  for (int n : {1, 5, 16, 17, 32, 33}) {
    std::vector<float> A(n * n), B(n * n), At(n * n), C(n * n), D(n * n);
    for (auto& x : A) x = normal(rng);
    for (auto& x : B) x = normal(rng);
    ungulate::linalg::transpose(n, A.data(), At.data());
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) ASSERT_EQ(At[j * n + i], A[i * n + j]);
    // B A^T two ways: with the transposed flag, and as a plain product with the transpose.
    ungulate::linalg::gemm<NoTrans, Trans>(n, 1.0f, B.data(), A.data(), 0.0f, C.data());
    ungulate::linalg::gemm(n, 1.0f, B.data(), At.data(), 0.0f, D.data());
    for (int k = 0; k < n * n; ++k) ASSERT_NEAR(C[k], D[k], 1e-4f * (1 + std::abs(C[k]))) << n;
  }
}

}  // namespace
