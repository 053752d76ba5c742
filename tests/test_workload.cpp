// The benchmark workload of DESIGN.md: make_benchmark_gru / make_benchmark_inputs.
#include "test_helpers.hpp"

namespace {

using namespace ut;

TEST(Workload, BenchmarkGruHasTheDocumentedInitialisation) {
  for (int hidden : {1, 5, 16})
    for (int inputs : {1, 7, 16}) {
      const auto gru = ungulate::make_benchmark_gru<double>(hidden, inputs, 3);
      EXPECT_EQ(gru.state_size(), hidden);
      EXPECT_EQ(gru.input_size(), inputs);
      const auto wh = to_vector(gru.recurrent_kernel);
      // Orthogonal recurrent kernel per gate: W W^T = I.
      for (int g = 0; g < 3; ++g)
        for (int i = 0; i < hidden; ++i)
          for (int j = 0; j < hidden; ++j) {
            double dot = 0;
            for (int k = 0; k < hidden; ++k)
              dot += wh[(std::size_t(g) * hidden + i) * hidden + k] *
                     wh[(std::size_t(g) * hidden + j) * hidden + k];
            EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-12);
          }
      EXPECT_EQ(max_abs(to_vector(gru.input_bias)), 0.0);
      EXPECT_EQ(max_abs(to_vector(gru.recurrent_bias)), 0.0);
      const auto wi = to_vector(gru.input_kernel);
      EXPECT_GT(max_abs(wi), 0.0);
    }
  // Input kernel variance 1 / inputs (large sample).
  const auto big = ungulate::make_benchmark_gru<double>(64, 64, 4);
  const auto wi = to_vector(big.input_kernel);
  double mean = 0, var = 0;
  for (double v : wi) mean += v;
  mean /= double(wi.size());
  for (double v : wi) var += (v - mean) * (v - mean);
  var /= double(wi.size());
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var * 64, 1.0, 0.05);
}

TEST(Workload, DeterministicInTheSeed) {
  const auto a = to_vector(ungulate::make_benchmark_gru<float>(8, 8, 1).recurrent_kernel);
  const auto b = to_vector(ungulate::make_benchmark_gru<float>(8, 8, 1).recurrent_kernel);
  const auto c = to_vector(ungulate::make_benchmark_gru<float>(8, 8, 2).recurrent_kernel);
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  EXPECT_GT(max_abs_diff(a, c), 0.1);
  const auto x1 = to_vector(ungulate::make_benchmark_inputs<float>(3, 5000, 4, 9));
  const auto x2 = to_vector(ungulate::make_benchmark_inputs<float>(3, 5000, 4, 9));
  const auto x3 = to_vector(ungulate::make_benchmark_inputs<float>(3, 5000, 4, 10));
  EXPECT_EQ(max_abs_diff(x1, x2), 0.0);
  EXPECT_GT(max_abs_diff(x1, x3), 0.1);
}

TEST(Workload, InputsAreStandardNormal) {
  const auto x = to_vector(ungulate::make_benchmark_inputs<double>(4, 20000, 3, 11));
  ASSERT_EQ(x.size(), std::size_t(4) * 20000 * 3);
  double mean = 0, var = 0;
  for (double v : x) mean += v;
  mean /= double(x.size());
  for (double v : x) var += (v - mean) * (v - mean);
  var /= double(x.size());
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.02);
  // Distinct sequences of the batch are not copies of each other.
  const std::size_t row = std::size_t(20000) * 3;
  EXPECT_GT(max_abs_diff(std::vector<double>(x.begin(), x.begin() + row),
                         std::vector<double>(x.begin() + row, x.begin() + 2 * row)),
            0.5);
}

TEST(Workload, RejectsBadSizes) {
  EXPECT_THROW(ungulate::make_benchmark_gru<float>(0, 3, 1), std::invalid_argument);
  EXPECT_THROW(ungulate::make_benchmark_gru<float>(3, 0, 1), std::invalid_argument);
  EXPECT_THROW(ungulate::make_benchmark_inputs<float>(-1, 3, 1, 1), std::invalid_argument);
  EXPECT_THROW(ungulate::make_benchmark_inputs<float>(1, 3, 0, 1), std::invalid_argument);
  EXPECT_NO_THROW(ungulate::make_benchmark_inputs<float>(0, 0, 1, 1));
}

// A time slice generated on its own (first_step) equals the same slice of the whole sequence:
// what lets every rank generate only its own inputs.
TEST(Workload, InputSlicesMatchTheWholeSequence) {
  const int B = 3, T = 1000, I = 5;
  const auto whole = to_vector(ungulate::make_benchmark_inputs<double>(B, T, I, 21));
  for (int t0 : {0, 1, 250, 999})
    for (int len : {1, 7, 1000 - t0}) {
      if (t0 + len > T) continue;
      const auto part = to_vector(ungulate::make_benchmark_inputs<double>(B, len, I, 21, t0));
      std::vector<double> expected;
      for (int b = 0; b < B; ++b)
        expected.insert(expected.end(), whole.begin() + (std::size_t(b) * T + t0) * I,
                        whole.begin() + (std::size_t(b) * T + t0 + len) * I);
      EXPECT_EQ(max_abs_diff(part, expected), 0.0) << "first_step=" << t0 << " length=" << len;
    }
  // float is the same numbers rounded.
  const auto f = to_vector(ungulate::make_benchmark_inputs<float>(B, T, I, 21));
  std::vector<double> rounded(whole);
  for (auto& v : rounded) v = double(float(v));
  EXPECT_EQ(max_abs_diff(f, rounded), 0.0);
  EXPECT_THROW(ungulate::make_benchmark_inputs<float>(1, 3, 1, 1, -1), std::invalid_argument);
}

}  // namespace
