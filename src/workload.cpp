#include "ungulate/workload.hpp"

#include <Kokkos_Random.hpp>

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
Kokkos::View<Scalar***, Kokkos::LayoutRight> make_benchmark_inputs(int batch, int length,
                                                                   int input_size,
                                                                   std::uint64_t seed) {
  if (batch < 0 || length < 0 || input_size < 1)
    throw std::invalid_argument("make_benchmark_inputs: bad sizes");
  Kokkos::View<Scalar***, Kokkos::LayoutRight> x(
      Kokkos::view_alloc("ungulate::inputs", Kokkos::WithoutInitializing), batch, length,
      input_size);
  Kokkos::Random_XorShift64_Pool<> pool(seed * 2654435761ULL + 12345);
  const std::size_t n = x.size();
  Scalar* data = x.data();
  // Fixed-size blocks, one generator state each: reproducible for a given backend.
  const std::size_t block = 4096, blocks = (n + block - 1) / block;
  Kokkos::parallel_for(
      "ungulate::make_benchmark_inputs", blocks, KOKKOS_LAMBDA(const std::size_t blk) {
        auto gen = pool.get_state();
        const std::size_t end = (blk + 1) * block < n ? (blk + 1) * block : n;
        for (std::size_t i = blk * block; i < end; ++i) data[i] = Scalar(gen.normal(0.0, 1.0));
        pool.free_state(gen);
      });
  return x;
}

template cells::GRU<float> make_benchmark_gru<float>(int, int, std::uint64_t);
template cells::GRU<double> make_benchmark_gru<double>(int, int, std::uint64_t);
template Kokkos::View<float***, Kokkos::LayoutRight> make_benchmark_inputs<float>(
    int, int, int, std::uint64_t);
template Kokkos::View<double***, Kokkos::LayoutRight> make_benchmark_inputs<double>(
    int, int, int, std::uint64_t);

}  // namespace ungulate
