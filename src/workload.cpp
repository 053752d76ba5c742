#include "ungulate/workload.hpp"

#include "ungulate/core/math.hpp"

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace ungulate {
namespace {

// Haar-ish random orthogonal matrix: modified Gram-Schmidt on a Gaussian matrix (rows),
// in double precision.
std::vector<double> random_orthogonal(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> q(std::size_t(n) * n);
  for (auto& v : q) v = normal(rng);
  for (int i = 0; i < n; ++i) {
    double* qi = &q[std::size_t(i) * n];
    for (int pass = 0; pass < 2; ++pass)  // re-orthogonalise once for accuracy
      for (int k = 0; k < i; ++k) {
        const double* qk = &q[std::size_t(k) * n];
        double dot = 0;
        for (int j = 0; j < n; ++j) dot += qi[j] * qk[j];
        for (int j = 0; j < n; ++j) qi[j] -= dot * qk[j];
      }
    double norm = 0;
    for (int j = 0; j < n; ++j) norm += qi[j] * qi[j];
    norm = std::sqrt(norm);
    for (int j = 0; j < n; ++j) qi[j] /= norm;
  }
  return q;
}

}  // namespace

template <class Scalar>
cells::GRU<Scalar> make_benchmark_gru(int hidden, int inputs, std::uint64_t seed) {
  if (hidden < 1 || inputs < 1)
    throw std::invalid_argument("make_benchmark_gru: sizes must be positive");
  cells::GRU<Scalar> gru(hidden, inputs);
  auto wi = Kokkos::create_mirror_view(gru.input_kernel);
  auto wh = Kokkos::create_mirror_view(gru.recurrent_kernel);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(inputs)));
  for (int g = 0; g < 3; ++g) {
    for (int i = 0; i < hidden; ++i)
      for (int k = 0; k < inputs; ++k) wi(g, i, k) = Scalar(normal(rng));
    const auto q = random_orthogonal(hidden, rng);
    for (int i = 0; i < hidden; ++i)
      for (int j = 0; j < hidden; ++j) wh(g, i, j) = Scalar(q[std::size_t(i) * hidden + j]);
  }
  Kokkos::deep_copy(gru.input_kernel, wi);
  Kokkos::deep_copy(gru.recurrent_kernel, wh);
  return gru;  // biases are zero-initialised by the View constructor
}

template <class Scalar>
cells::LSTM<Scalar> make_benchmark_lstm(int hidden, int inputs, std::uint64_t seed) {
  if (hidden < 1 || inputs < 1)
    throw std::invalid_argument("make_benchmark_lstm: sizes must be positive");
  cells::LSTM<Scalar> lstm(hidden, inputs);
  auto wi = Kokkos::create_mirror_view(lstm.weight_ih);
  auto wh = Kokkos::create_mirror_view(lstm.weight_hh);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(inputs)));
  for (int g = 0; g < 4; ++g) {
    for (int i = 0; i < hidden; ++i)
      for (int k = 0; k < inputs; ++k) wi(g * hidden + i, k) = Scalar(normal(rng));
    const auto q = random_orthogonal(hidden, rng);
    for (int i = 0; i < hidden; ++i)
      for (int j = 0; j < hidden; ++j)
        wh(g * hidden + i, j) = Scalar(q[std::size_t(i) * hidden + j]);
  }
  Kokkos::deep_copy(lstm.weight_ih, wi);
  Kokkos::deep_copy(lstm.weight_hh, wh);
  return lstm;  // biases are zero-initialised by the View constructor
}

namespace {
// splitmix64 finaliser: a well-mixed 64-bit hash.
KOKKOS_INLINE_FUNCTION std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

template <class Scalar>
Kokkos::View<Scalar***, Kokkos::LayoutRight> make_benchmark_inputs(int batch, int length,
                                                                   int input_size,
                                                                   std::uint64_t seed,
                                                                   long long first_step) {
  if (batch < 0 || length < 0 || input_size < 1 || first_step < 0)
    throw std::invalid_argument("make_benchmark_inputs: bad sizes");
  Kokkos::View<Scalar***, Kokkos::LayoutRight> x(
      Kokkos::view_alloc("ungulate::inputs", Kokkos::WithoutInitializing), batch, length,
      input_size);
  const std::uint64_t key = mix(seed ^ 0x5eed0f1a2b3c4d5eULL);
  Kokkos::parallel_for(
      "ungulate::make_benchmark_inputs",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {batch, length}),
      KOKKOS_LAMBDA(const int b, const int t) {
        const std::uint64_t row =
            mix(key + mix(std::uint64_t(b) + mix(std::uint64_t(first_step + t))));
        for (int i = 0; i < input_size; ++i) {
          // Box-Muller on two 53-bit uniforms in (0, 1].
          const std::uint64_t h1 = mix(row + 2 * std::uint64_t(i));
          const std::uint64_t h2 = mix(row + 2 * std::uint64_t(i) + 1);
          const double u1 = (double(h1 >> 11) + 1.0) * 0x1.0p-53;
          const double u2 = double(h2 >> 11) * 0x1.0p-53;
          const double r = math::kmath::sqrt(-2.0 * math::kmath::log(u1));
          x(b, t, i) = Scalar(r * math::kmath::cos(6.283185307179586 * u2));
        }
      });
  return x;
}

template cells::GRU<float> make_benchmark_gru<float>(int, int, std::uint64_t);
template cells::GRU<double> make_benchmark_gru<double>(int, int, std::uint64_t);
template cells::LSTM<float> make_benchmark_lstm<float>(int, int, std::uint64_t);
template cells::LSTM<double> make_benchmark_lstm<double>(int, int, std::uint64_t);
template Kokkos::View<float***, Kokkos::LayoutRight> make_benchmark_inputs<float>(int, int, int,
                                                                                  std::uint64_t,
                                                                                  long long);
template Kokkos::View<double***, Kokkos::LayoutRight> make_benchmark_inputs<double>(int, int, int,
                                                                                    std::uint64_t,
                                                                                    long long);

}  // namespace ungulate
