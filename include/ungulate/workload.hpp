#pragma once
// The benchmark workload of DESIGN.md: a random GRU and random inputs (and an LSTM made the
// same way).
//   input kernels ~ N(0, 1/input_size), recurrent kernels orthogonal (one per gate),
//   biases 0, inputs ~ N(0, 1), zero initial state.
#include <Kokkos_Core.hpp>

#include <cstdint>

#include "ungulate/cells/gru.hpp"
#include "ungulate/cells/lstm.hpp"

namespace ungulate {

/// A GRU with the benchmark initialisation, weights in the default memory space.
/// Deterministic in (hidden, inputs, seed).
template <class Scalar>
cells::GRU<Scalar> make_benchmark_gru(int hidden, int inputs, std::uint64_t seed);

/// An LSTM initialised the same way: weight_ih ~ N(0, 1/input_size), each gate's block of
/// weight_hh orthogonal, biases 0.  Deterministic in (hidden, inputs, seed).
template <class Scalar>
cells::LSTM<Scalar> make_benchmark_lstm(int hidden, int inputs, std::uint64_t seed);

/// Inputs ~ N(0, 1) of shape (batch, length, input_size) for the global time steps
/// [first_step, first_step + length).  Every value is a pure function of (seed, b, t, i)
/// (counter-based hashing, generated in parallel on the device), so a rank that generates
/// only its own time slice gets exactly the values a single process would, on any backend.
template <class Scalar>
Kokkos::View<Scalar***, Kokkos::LayoutRight> make_benchmark_inputs(int batch, int length,
                                                                   int input_size,
                                                                   std::uint64_t seed,
                                                                   long long first_step = 0);

}  // namespace ungulate
