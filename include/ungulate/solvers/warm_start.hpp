#pragma once
// The warm start: every chunk evaluated sequentially at once, each from a zero state
// `window` steps before its first step (the first chunk of the sequence from s0).
//
// For a contracting recurrence the wrong zero start is forgotten geometrically, so after a
// long enough window each chunk starts almost on the true trajectory and the Newton
// iteration that follows has only rounding left to fix.  The window is chosen from the
// observed contraction: the state before each chunk is computed from windows W and 2W,
// and W doubles until the two agree to a fraction of the tolerance.
#include <Kokkos_Core.hpp>

#include "ungulate/core/math.hpp"
#include "ungulate/scan/chunk_layout.hpp"

namespace ungulate::solvers {

namespace detail {

/// Runs the cell from `start` (or from s0 when the window reaches back to the start of the
/// sequence) over steps [first, last) of sequence b, ping-ponging between two scratch rows
/// (`start` may be the first of them); returns the state after step last - 1.
template <class Cell, class Inputs, class Initial, class Scalar>
KOKKOS_INLINE_FUNCTION const Scalar* run_window(const Cell& cell, const Inputs& inputs,
                                                const Initial& s0, int b, int first, int last,
                                                bool starts_sequence, const Scalar* start,
                                                Scalar* row0, Scalar* row1) {
  const Scalar* h = start;
  if (first <= 0) {
    first = 0;
    if (starts_sequence) h = &s0(b, 0);
  }
  for (int t = first; t < last; ++t) {
    Scalar* out = h == row0 ? row1 : row0;
    cell.evaluate(h, &inputs(b, t, 0), out);
    h = out;
  }
  return h;
}

}  // namespace detail

/// Sequential evaluation of every chunk at once, each starting from zero `window` steps
/// before its first step (window 0: from zero at its first step; the sequence's first
/// chunk from s0).  Inside an MPI slice that does not start the sequence the window cannot
/// reach into the previous rank's steps and is cut at the slice start.
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial,
          class States>
void evaluate_chunks_warm(const Cell& cell, const Inputs& inputs, const Initial& s0,
                          const States& states, int chunks, int window,
                          bool starts_sequence = true) {
  using Scalar = typename Cell::value_type;
  const scan::ChunkLayout layout(int(states.extent(1)), chunks);
  const int C = layout.chunks, D = cell.state_size();
  Kokkos::View<Scalar**, Kokkos::LayoutRight, typename ExecSpace::memory_space> scratch(
      "ungulate::warm_start_scratch", std::size_t(states.extent(0)) * C, 2 * D);
  Kokkos::parallel_for(
      "ungulate::evaluate_chunks_warm", Kokkos::RangePolicy<ExecSpace>(0, states.extent(0) * C),
      KOKKOS_LAMBDA(const int item) {
        const int b = item / C, c = item % C;
        const int begin = layout.begin(c);
        Scalar* zero = &scratch(item, 0);  // zero-initialised
        const Scalar* h = detail::run_window(cell, inputs, s0, b, begin - window, begin,
                                             starts_sequence, zero, zero, zero + D);
        for (int t = begin; t < layout.end(c); ++t) {
          cell.evaluate(h, &inputs(b, t, 0), &states(b, t, 0));
          h = &states(b, t, 0);
        }
      });
}

/// max over sequences and chunks of the difference between the state before the chunk from
/// zero W steps earlier and from s0 2W steps earlier: two different starts at two different
/// times, so that a recurrence which never leaves its start does not look forgetful.
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial>
typename Cell::value_type window_disagreement(const Cell& cell, const Inputs& inputs,
                                              const Initial& s0, int batch, int length, int chunks,
                                              int window, bool starts_sequence) {
  using Scalar = typename Cell::value_type;
  const scan::ChunkLayout layout(length, chunks);
  const int C = layout.chunks, D = cell.state_size();
  Kokkos::View<Scalar**, Kokkos::LayoutRight, typename ExecSpace::memory_space> scratch(
      "ungulate::warm_window_scratch", std::size_t(batch) * C, 4 * D);
  Scalar result = 0;
  Kokkos::parallel_reduce(
      "ungulate::window_disagreement", Kokkos::RangePolicy<ExecSpace>(0, std::size_t(batch) * C),
      KOKKOS_LAMBDA(const int item, Scalar& max_value) {
        const int b = item / C, c = item % C, begin = layout.begin(c);
        if (c == 0 || begin == 0) return;  // the first chunk starts exactly
        Scalar* row = &scratch(item, 0);
        const Scalar* a = detail::run_window(cell, inputs, s0, b, begin - window, begin,
                                             starts_sequence, row, row, row + D);
        const Scalar* w = detail::run_window(cell, inputs, s0, b, begin - 2 * window, begin,
                                             starts_sequence, &s0(b, 0), row + 2 * D, row + 3 * D);
        for (int i = 0; i < D; ++i) {
          const Scalar d = math::abs_or_inf(a[i] - w[i]);
          if (d > max_value) max_value = d;
        }
      },
      Kokkos::Max<Scalar>(result));
  return result > Scalar(0) ? result : Scalar(0);
}

/// The warm-start window for a tolerance: the smallest W = 8, 16, 32, ... for which the
/// chunk start states agree to tol / 4 (window_disagreement), returned doubled (2W) for
/// margin; 0 when there is one chunk, or when the recurrence does not contract within half a chunk
/// or doubling W hardly narrows the gap (chaotic or slowly forgetting cells: a window would cost
/// more than it saves).
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial>
int choose_warm_window(const Cell& cell, const Inputs& inputs, const Initial& s0, int chunks,
                       double tol, bool starts_sequence = true) {
  const int B = int(inputs.extent(0)), T = int(inputs.extent(1));
  const scan::ChunkLayout layout(T, chunks);
  if (layout.chunks < 2 || B == 0) return 0;
  const int cap = layout.chunk_length / 2;  // the window then costs at most a chunk
  double previous = -1;
  for (int w = 8; w <= cap; w *= 2) {
    const double d =
        double(window_disagreement<ExecSpace>(cell, inputs, s0, B, T, chunks, w, starts_sequence));
    if (!(d == d) || d > 1e30) return 0;  // NaN or overflow: no contraction to rely on
    if (d <= tol / 4) return 2 * w;
    if (previous >= 0 && d > 0.9 * previous) return 0;  // doubling W barely helped
    previous = d;
  }
  return 0;
}

}  // namespace ungulate::solvers
