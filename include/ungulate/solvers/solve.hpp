#pragma once
// The entry point: evaluate a recurrence with any method.
#include <limits>
#include <stdexcept>
#include <string>

#include <Kokkos_Timer.hpp>

#include "ungulate/cells/prepare.hpp"
#include "ungulate/dist/single_rank.hpp"
#include "ungulate/solvers/newton.hpp"
#include "ungulate/solvers/options.hpp"
#include "ungulate/solvers/sequential.hpp"
#include "ungulate/solvers/workspace.hpp"

namespace ungulate {

template <class Cell, class ExecSpace = DefaultExecutionSpace>
using InputsView = Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                                typename ExecSpace::memory_space>;
template <class Cell, class ExecSpace = DefaultExecutionSpace>
using InitialStateView = Kokkos::View<const typename Cell::value_type**, Kokkos::LayoutRight,
                                      typename ExecSpace::memory_space>;
template <class Cell, class ExecSpace = DefaultExecutionSpace>
using StatesView = Kokkos::View<typename Cell::value_type***, Kokkos::LayoutRight,
                                typename ExecSpace::memory_space>;

/// Evaluates s_t = f(s_{t-1}, x_t) for a batch of B sequences.
///   inputs: (B, T, input_size)   s0: (B, state_size)   states: (B, T, state_size), output
///   (and the initial iterate with Initialization::Given).
/// Throws std::invalid_argument on inconsistent shapes or options.  Divergence is not an
/// exception: it is reported as Status::Diverged with the last finite iterate in `states`.
///
/// `workspace` holds the solve's large arrays (see Workspace): pass the same one to repeated
/// solves so that only the first allocates them.
template <class ExecSpace = DefaultExecutionSpace, class Cell, class Decomposition>
SolveResult solve(const Cell& cell, const InputsView<Cell, ExecSpace>& inputs,
                  const InitialStateView<Cell, ExecSpace>& s0,
                  const StatesView<Cell, ExecSpace>& states, const SolverOptions& options,
                  const Decomposition& decomp,
                  Workspace<typename Cell::value_type, ExecSpace>& workspace) {
  const auto shape_error = [](const std::string& what) {
    throw std::invalid_argument("ungulate::solve: " + what);
  };
  const std::size_t B = states.extent(0), T = states.extent(1);
  const std::size_t D = std::size_t(cell.state_size()), I = std::size_t(cell.input_size());
  if (inputs.extent(0) != B || s0.extent(0) != B)
    shape_error("batch sizes differ (inputs " + std::to_string(inputs.extent(0)) + ", s0 " +
                std::to_string(s0.extent(0)) + ", states " + std::to_string(B) + ")");
  if (inputs.extent(1) != T)
    shape_error("inputs have " + std::to_string(inputs.extent(1)) + " steps, states " +
                std::to_string(T));
  if (inputs.extent(2) != I)
    shape_error("input size " + std::to_string(inputs.extent(2)) + " does not match the cell's " +
                std::to_string(I));
  if (states.extent(2) != D || s0.extent(1) != D)
    shape_error("state size must be the cell's " + std::to_string(D));
  if (!(options.lambda >= 0) || options.lambda == std::numeric_limits<double>::infinity())
    shape_error("lambda must be finite and >= 0");
  if (!(options.tolerance < 0 || options.tolerance > 0) || options.tolerance != options.tolerance)
    shape_error("tolerance must be > 0 (or negative for the default)");

  const Cell prepared = cells::prepare(cell);
  if (options.method == Method::Auto) {
    // Parallel-in-time pays only where errors are forgotten along the sequence.
    const double lle = solvers::estimate_lle<ExecSpace>(prepared, inputs, s0, decomp);
    SolverOptions chosen = options;
    chosen.method = solvers::is_predictable(lle) ? Method::QuasiDeer : Method::Sequential;
    if (chosen.init == Initialization::Zeros) chosen.init = Initialization::Warm;
    SolveResult r = solve<ExecSpace>(cell, inputs, s0, states, chosen, decomp, workspace);
    r.lle = lle;
    return r;
  }
  switch (options.method) {
    case Method::Sequential: {
      // With several processes this is the sequential baseline: each waits for its left
      // neighbour's last states (pipelined over the batch).
      Kokkos::Timer timer;
      Kokkos::View<typename Cell::value_type**, Kokkos::LayoutRight,
                   typename ExecSpace::memory_space>
          previous("ungulate::sequential_previous", B, D);
      solvers::evaluate_sequential_handover<ExecSpace>(prepared, inputs, s0, states, previous, 0,
                                                       decomp);
      SolveResult r;
      r.method = Method::Sequential;
      r.iterations = 1;
      Kokkos::fence();
      r.seconds = timer.seconds();
      // s_t = f(s_{t-1}) holds exactly by construction: the residual is 0 unless the
      // recurrence itself overflowed, which a cheap finiteness check finds.
      r.final_residual = decomp.max_all(solvers::all_finite<ExecSpace>(states)
                                            ? 0.0
                                            : Kokkos::Experimental::infinity<double>::value);
      r.status = r.final_residual < Kokkos::Experimental::infinity<double>::value
                     ? Status::Converged
                     : Status::Diverged;
      return r;
    }
    case Method::Auto:
      break;  // resolved above
    case Method::Deer:
    case Method::Elk:
      return solvers::newton_solve<solvers::DenseJacobian, ExecSpace>(prepared, inputs, s0, states,
                                                                      options, decomp, workspace);
    case Method::QuasiDeer:
    case Method::QuasiElk:
      return solvers::newton_solve<solvers::DiagonalJacobian, ExecSpace>(
          prepared, inputs, s0, states, options, decomp, workspace);
  }
  throw std::invalid_argument("ungulate::solve: unknown method");
}

/// The same with a workspace of its own, freed on return.
template <class ExecSpace = DefaultExecutionSpace, class Cell,
          class Decomposition = dist::SingleRank>
SolveResult solve(const Cell& cell, const InputsView<Cell, ExecSpace>& inputs,
                  const InitialStateView<Cell, ExecSpace>& s0,
                  const StatesView<Cell, ExecSpace>& states, const SolverOptions& options,
                  const Decomposition& decomp = Decomposition()) {
  Workspace<typename Cell::value_type, ExecSpace> workspace;
  return solve<ExecSpace>(cell, inputs, s0, states, options, decomp, workspace);
}

}  // namespace ungulate

/// The declaration of solve's specialisation for Cell and Decomposition on the default
/// execution space: `extern` before it declares, alone it instantiates.
#define UNGULATE_SOLVE_SPECIALISATION(Cell, Decomposition)                                         \
  template ::ungulate::SolveResult                                                                 \
  ungulate::solve<::ungulate::DefaultExecutionSpace, Cell, Decomposition>(                         \
      const Cell&, const ::ungulate::InputsView<Cell>&, const ::ungulate::InitialStateView<Cell>&, \
      const ::ungulate::StatesView<Cell>&, const ::ungulate::SolverOptions&, const Decomposition&, \
      ::ungulate::Workspace<typename Cell::value_type>&);

#ifdef UNGULATE_HAVE_ETI
#include "ungulate/solvers/built_in_specialisations.hpp"
#define UNGULATE_EXTERN_SOLVE(Cell, Decomposition) \
  extern UNGULATE_SOLVE_SPECIALISATION(Cell, Decomposition)
UNGULATE_FOR_EACH_BUILT_IN_SPECIALISATION(UNGULATE_EXTERN_SOLVE)
#undef UNGULATE_EXTERN_SOLVE
#endif
