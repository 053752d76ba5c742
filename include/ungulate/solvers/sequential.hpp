#pragma once
// Plain sequential evaluation s_t = f(s_{t-1}, x_t): the reference for every other method.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <vector>

#include "ungulate/cells/jacobian.hpp"
#include "ungulate/core/math.hpp"
#include "ungulate/core/types.hpp"
#include "ungulate/scan/chunk_layout.hpp"

namespace ungulate::solvers {

/// visit(t, f_t) for t in [begin, end) in order, with f_t = f(states(b, t-1), inputs(b, t))
/// (states(b, -1) = previous(b)): G steps evaluated together (steps_per_group); f holds
/// G * D scalars.
template <int G, class Cell, class Inputs, class Initial, class States, class Visit>
KOKKOS_INLINE_FUNCTION void for_each_step_value(const Cell& cell, const Inputs& inputs,
                                                const Initial& previous, const States& states,
                                                int b, int begin, int end,
                                                typename Cell::value_type* f, Visit&& visit) {
  using Scalar = typename Cell::value_type;
  const int D = cell.state_size();
  int t = begin;
  if constexpr (G > 1)
    for (; t + G <= end; t += G) {
      const Scalar *h[G], *x[G];
      Scalar* out[G];
      for (int p = 0; p < G; ++p) {
        h[p] = t + p == 0 ? &previous(b, 0) : &states(b, t + p - 1, 0);
        x[p] = &inputs(b, t + p, 0);
        out[p] = f + p * D;
      }
      cells::evaluate_points<G>(cell, h, x, out);
      for (int p = 0; p < G; ++p) visit(t + p, out[p]);
    }
  for (; t < end; ++t) {
    cell.evaluate(t == 0 ? &previous(b, 0) : &states(b, t - 1, 0), &inputs(b, t, 0), f);
    visit(t, static_cast<const Scalar*>(f));
  }
}

/// The sequences [b0, b0 + N) advanced together from step `first` to `last`: at each step
/// their N independent evaluations interleave (cells::evaluate_points), hiding the latency of
/// one sequence's chain, which alone would leave most of a core idle.
template <class Cell, class Inputs, class Initial, class States, int G>
struct SequentialGroups {
  Cell cell;
  Inputs inputs;
  Initial s0;
  States states;
  int first, last, batch_first, batch_end, per_group;

  template <int N>
  KOKKOS_INLINE_FUNCTION void advance(int b0) const {
    using Scalar = typename Cell::value_type;
    const Scalar *h[N], *x[N];
    Scalar* out[N];
    for (int p = 0; p < N; ++p) h[p] = first == 0 ? &s0(b0 + p, 0) : &states(b0 + p, first - 1, 0);
    for (int t = first; t < last; ++t) {
      for (int p = 0; p < N; ++p) {
        x[p] = &inputs(b0 + p, t, 0);
        out[p] = &states(b0 + p, t, 0);
      }
      cells::evaluate_points<N>(cell, h, x, out);
      for (int p = 0; p < N; ++p) h[p] = out[p];
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(const int group) const {
    const int b0 = batch_first + group * per_group;
    const int n = per_group < batch_end - b0 ? per_group : batch_end - b0;
    if constexpr (G >= 4)
      if (n == 4) return advance<4>(b0);
    if constexpr (G >= 3)
      if (n == 3) return advance<3>(b0);
    if constexpr (G >= 2)
      if (n == 2) return advance<2>(b0);
    for (int p = 0; p < n; ++p) advance<1>(b0 + p);
  }
};

/// states(b, t, :) = f(states(b, t-1, :), inputs(b, t, :)) for first <= t < last (last < 0:
/// to the end) with states(b, -1, :) = s0(b, :), for the sequences b in [batch_first,
/// batch_first + batch_count) (count < 0: to the end), parallel over those only.  Other steps
/// are kept (a sequential finish after an exact prefix, a re-run of the first chunk).  On
/// host backends up to steps_per_group sequences share a work item (SequentialGroups), as
/// long as every thread still gets one.
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial,
          class States>
void evaluate_sequential(const Cell& cell, const Inputs& inputs, const Initial& s0,
                         const States& states, int first = 0, int last = -1, int batch_first = 0,
                         int batch_count = -1) {
  constexpr int G = steps_per_group<typename ExecSpace::memory_space>;
  static_assert(G >= 1 && G <= 4, "SequentialGroups dispatches groups of 1 to 4 sequences");
  const int T = last < 0 ? int(states.extent(1)) : last;
  const int batch_end = batch_count < 0 ? int(states.extent(0)) : batch_first + batch_count;
  const int count = batch_end - batch_first;
  if (count <= 0 || T <= first) return;
  const int threads = std::max(1, int(ExecSpace().concurrency()));
  const int groups = std::max((count + G - 1) / G, std::min(count, threads));
  const int per_group = (count + groups - 1) / groups;
  Kokkos::parallel_for("ungulate::evaluate_sequential",
                       Kokkos::RangePolicy<ExecSpace>(0, (count + per_group - 1) / per_group),
                       SequentialGroups<Cell, Inputs, Initial, States, G>{
                           cell, inputs, s0, states, first, T, batch_first, batch_end, per_group});
}

/// Sequences per step of a pipeline over the batch across processes (the sequential
/// hand-over, the gradient's reverse sweep): the whole batch on one process, else the
/// smallest thread count of the processes times `per_thread` (sequences a thread evaluates
/// together), as long as that still makes a group per process to fill the pipeline
/// (collective; the same on every process, as the hand-over's message sizes must be).
template <class ExecSpace, class Decomposition>
int pipeline_group(int batch, const Decomposition& decomp, int per_thread = 1) {
  if (decomp.size() == 1) return batch > 1 ? batch : 1;
  const int threads = int(-decomp.max_all(-double(ExecSpace().concurrency())));
  const int grouped = threads * std::max(1, per_thread);
  const int group = batch / grouped >= decomp.size() ? grouped : threads;
  return std::max(1, std::min(batch, group));
}

/// Sequential evaluation from global step `first` of this slice on (local index) across
/// processes: each waits for its left neighbour's last states and hands its own on.
/// Pipelined over the batch: a group of sequences goes on to the right neighbour as soon as
/// it is done, so P processes finish in B / G + P - 1 group steps instead of P whole-batch
/// steps.  `previous` (B, D) receives the states before the slice.
template <class ExecSpace, class Cell, class Inputs, class Initial, class States, class Boundary,
          class Decomposition>
void evaluate_sequential_handover(const Cell& cell, const Inputs& inputs, const Initial& s0,
                                  const States& states, const Boundary& previous, int first,
                                  const Decomposition& decomp) {
  const int B = int(states.extent(0));
  const int group =
      pipeline_group<ExecSpace>(B, decomp, steps_per_group<typename ExecSpace::memory_space>);
  for (int b0 = 0; b0 < B; b0 += group) {
    const int count = std::min(group, B - b0);
    decomp.receive_previous(previous, s0, b0, count);
    evaluate_sequential<ExecSpace>(cell, inputs, previous, states, first, -1, b0, count);
    decomp.send_last(states, previous, b0, count);
  }
}

/// True when every value of a (B, T, D) view is finite.
template <class ExecSpace = DefaultExecutionSpace, class States>
bool all_finite(const States& states) {
  const std::size_t n = states.extent(1) * states.extent(2);
  int bad = 0;
  Kokkos::parallel_reduce(
      "ungulate::all_finite", Kokkos::RangePolicy<ExecSpace>(0, states.extent(0)),
      KOKKOS_LAMBDA(const int b, int& count) {
        const auto* row = &states(b, 0, 0);
        for (std::size_t k = 0; k < n; ++k)
          if (!math::is_finite(row[k])) ++count;
      },
      bad);
  return bad == 0;
}

/// max over (b, t, i) of |states(b,t,i) - f(states(b,t-1,:), inputs(b,t,:))_i|, with
/// states(b,-1,:) = previous(b,:); infinite if anything is not finite.
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial,
          class States>
typename Cell::value_type residual_max(const Cell& cell, const Inputs& inputs,
                                       const Initial& previous, const States& states, int chunks) {
  using Scalar = typename Cell::value_type;
  using Memory = typename ExecSpace::memory_space;
  constexpr int G = steps_per_group<Memory>;
  const scan::ChunkLayout layout(int(states.extent(1)), chunks);
  const int C = layout.chunks, D = cell.state_size();
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> f("ungulate::residual_scratch",
                                                        std::size_t(states.extent(0)) * C, G * D);
  Scalar result = 0;
  Kokkos::parallel_reduce(
      "ungulate::residual_max", Kokkos::RangePolicy<ExecSpace>(0, states.extent(0) * C),
      KOKKOS_LAMBDA(const int item, Scalar& max_value) {
        const int b = item / C, c = item % C;
        Scalar m = max_value;
        for_each_step_value<G>(cell, inputs, previous, states, b, layout.begin(c), layout.end(c),
                               &f(item, 0), [&](int t, const Scalar* ft) {
                                 m = math::max_abs_difference(D, &states(b, t, 0), ft, m);
                               });
        max_value = m;
      },
      Kokkos::Max<Scalar>(result));
  return result > Scalar(0) ? result : Scalar(0);  // an empty range reduces to lowest()
}

/// Per sequence b: the merit sum_{t,i} (states(b,t,i) - f(states(b,t-1,:))_i)^2, the
/// residual max_{t,i} |...| of this slice and, if a reference is given, the change
/// max_{t,i} |states(b,t,i) - reference(b,t,i)| (host vectors of B; infinite where not
/// finite).
struct SequenceResiduals {
  std::vector<double> merit, max, change;
};

/// One work item's share of SequenceResiduals, accumulated step by step in time order (every
/// pass that measures them adds the same terms in the same order: the same bits).
template <class Scalar>
struct ResidualAccumulator {
  // The sum of squares in W independent lanes (state entry i into lane i % W): one running
  // sum would be a chain of dependent additions as long as the slice.
  static constexpr int W = 8;
  double lanes[W] = {};
  Scalar max_value = 0, max_change = 0;

  /// Step t's state s, f(previous state), and the reference's step (or null); returns the
  /// step's residual max_i |s_i - f_i|.
  KOKKOS_INLINE_FUNCTION Scalar add(int D, const Scalar* s, const Scalar* f, const Scalar* ref) {
    if (ref != nullptr) max_change = math::max_abs_difference(D, s, ref, max_change);
    int i = 0;
    for (; i + W <= D; i += W)
      for (int l = 0; l < W; ++l) {
        const double d = double(s[i + l]) - double(f[i + l]);
        lanes[l] += d * d;
      }
    for (int l = 0; i < D; ++i, ++l) {
      const double d = double(s[i]) - double(f[i]);
      lanes[l] += d * d;
    }
    const Scalar step = math::max_abs_difference(D, s, f, Scalar(0));
    max_value = step > max_value ? step : max_value;
    return step;
  }
  /// out[0..2] = merit, max, change.
  KOKKOS_INLINE_FUNCTION void store(double* out) const {
    double sum = 0;
    for (int l = 0; l < W; ++l) sum += lanes[l];
    out[0] = math::is_finite(sum) ? sum : Kokkos::Experimental::infinity<double>::value;
    out[1] = double(max_value);
    out[2] = double(max_change);
  }
};

/// Work items' (B * C, 3) partial results (ResidualAccumulator::store) -> per sequence.
template <class Partial>
SequenceResiduals gather_sequence_residuals(const Partial& partial, int B, int C) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
  SequenceResiduals r{std::vector<double>(B, 0.0), std::vector<double>(B, 0.0),
                      std::vector<double>(B, 0.0)};
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c) {
      r.merit[b] += host(b * C + c, 0);
      r.max[b] = std::max(r.max[b], host(b * C + c, 1));
      r.change[b] = std::max(r.change[b], host(b * C + c, 2));
    }
  return r;
}

template <class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs, class Initial,
          class States>
SequenceResiduals residuals_by_sequence(const Cell& cell, const Inputs& inputs,
                                        const Initial& previous, const States& states, int chunks,
                                        const States& reference = States()) {
  using Scalar = typename Cell::value_type;
  using Memory = typename ExecSpace::memory_space;
  const int B = int(states.extent(0));
  const scan::ChunkLayout layout(int(states.extent(1)), chunks);
  const int C = layout.chunks, D = cell.state_size();
  constexpr int G = steps_per_group<Memory>;
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> f("ungulate::residual_scratch",
                                                        std::size_t(B) * C, G * D);
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> partial("ungulate::residual_partial",
                                                              std::size_t(B) * C, 3);
  const bool compare = reference.data() != nullptr;
  Kokkos::parallel_for(
      "ungulate::residuals_by_sequence", Kokkos::RangePolicy<ExecSpace>(0, std::size_t(B) * C),
      KOKKOS_LAMBDA(const int item) {
        const int b = item / C, c = item % C;
        ResidualAccumulator<Scalar> acc;
        for_each_step_value<G>(cell, inputs, previous, states, b, layout.begin(c), layout.end(c),
                               &f(item, 0), [&](int t, const Scalar* ft) {
                                 acc.add(D, &states(b, t, 0), ft,
                                         compare ? &reference(b, t, 0) : nullptr);
                               });
        acc.store(&partial(item, 0));
      });
  return gather_sequence_residuals(partial, B, C);
}

}  // namespace ungulate::solvers
