#pragma once
// The trust region's merit pass and the next step's linearisation in one cell evaluation per
// step: ELK-type steps judge each proposal by its residuals, and the step after a kept
// proposal linearises the cell at that same iterate.
#include <Kokkos_Core.hpp>

#include "ungulate/cells/jacobian.hpp"
#include "ungulate/core/types.hpp"
#include "ungulate/scan/chunk_layout.hpp"
#include "ungulate/solvers/newton_elements.hpp"
#include "ungulate/solvers/sequential.hpp"

namespace ungulate::solvers {

/// residuals_by_sequence (the same bits) that also linearises the cell at every step of
/// `states`, as LinearisedElements does (the same values), and stores each step's (F, u) in
/// `linearisation` (B, T, size(D) + D), for a Load pass to build the next step's elements
/// from.  `previous`: the states before the slice; `starts_sequence`: whether they are the
/// initial state (then step 0 is exact: F = 0, u = f(s_0)).  first_inexact (when given) is
/// min-reduced to the first local step whose residual exceeds `tolerance`.
template <class Structure, class ExecSpace = DefaultExecutionSpace, class Cell, class Inputs,
          class Initial, class States, class Store>
SequenceResiduals linearise_by_sequence(
    const Cell& cell, const Inputs& inputs, const Initial& previous, bool starts_sequence,
    const States& states, int chunks, const States& reference, const Store& linearisation,
    const Kokkos::View<int, typename ExecSpace::memory_space>& first_inexact,
    typename Cell::value_type tolerance) {
  using Scalar = typename Cell::value_type;
  using Memory = typename ExecSpace::memory_space;
  constexpr int G = Structure::groups_points ? steps_per_group<Memory> : 1;
  const int B = int(states.extent(0));
  const scan::ChunkLayout layout(int(states.extent(1)), chunks);
  const int C = layout.chunks, D = cell.state_size(), n = Structure::size(D);
  // Per step: f, F, the cell's Jacobian scratch.
  const int per_step = D + n + cells::CellJacobian<Cell>::scratch_size(cell);
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> scratch(
      Kokkos::view_alloc("ungulate::linearise_scratch", Kokkos::WithoutInitializing),
      std::size_t(B) * C, G * per_step);
  Kokkos::View<double**, Kokkos::LayoutRight, Memory> partial("ungulate::residual_partial",
                                                              std::size_t(B) * C, 3);
  const bool compare = reference.data() != nullptr;
  int* const first = first_inexact.data();
  Kokkos::parallel_for(
      "ungulate::linearise_by_sequence", Kokkos::RangePolicy<ExecSpace>(0, std::size_t(B) * C),
      KOKKOS_LAMBDA(const int item) {
        const int b = item / C, c = item % C;
        ResidualAccumulator<Scalar> acc;
        Scalar *f[G], *F[G], *rest[G];
        for (int p = 0; p < G; ++p) {
          f[p] = &scratch(item, 0) + p * per_step;
          F[p] = f[p] + D;
          rest[p] = F[p] + n;
        }
        // Step t from f and F (F = 0 and h null: the exact first step).
        const auto finish_step = [&](int t, const Scalar* h, const Scalar* ft, const Scalar* Ft) {
          Scalar* stored = &linearisation(b, t, 0);
          for (int i = 0; i < n; ++i) stored[i] = Ft[i];
          linearisation_offset<Structure>(D, Ft, h, ft, stored + n);
          const Scalar* s = &states(b, t, 0);
          const Scalar step = acc.add(D, s, ft, compare ? &reference(b, t, 0) : nullptr);
          note_inexact_step(first, t, step, tolerance);
        };
        const auto state_before = [&](int t) {
          return t == 0 ? &previous(b, 0) : &states(b, t - 1, 0);
        };
        const int end = layout.end(c);
        int t = layout.begin(c);
        if (t == 0 && t < end && starts_sequence) {
          cell.evaluate(&previous(b, 0), &inputs(b, 0, 0), f[0]);
          for (int i = 0; i < n; ++i) F[0][i] = Scalar(0);
          finish_step(0, nullptr, f[0], F[0]);
          ++t;
        }
        if constexpr (G > 1)
          for (; t + G <= end; t += G) {
            const Scalar *h[G], *x[G];
            for (int p = 0; p < G; ++p) {
              h[p] = state_before(t + p);
              x[p] = &inputs(b, t + p, 0);
            }
            Structure::template linearise_points<G>(cell, h, x, f, F, rest);
            for (int p = 0; p < G; ++p) finish_step(t + p, h[p], f[p], F[p]);
          }
        for (; t < end; ++t) {
          const Scalar* h = state_before(t);
          Structure::linearise(cell, h, &inputs(b, t, 0), f[0], F[0], rest[0]);
          finish_step(t, h, f[0], F[0]);
        }
        acc.store(&partial(item, 0));
      });
  return gather_sequence_residuals(partial, B, C);
}

}  // namespace ungulate::solvers
