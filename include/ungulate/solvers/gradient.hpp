#pragma once
// Gradients of a loss L(s_1 .. s_T) through the recurrence s_t = f(s_{t-1}, x_t), by a reverse
// (adjoint) scan.
//
// Given a trajectory s (from any solve) and the cotangent g_t = dL/ds_t of every step, the
// total derivative lambda_t = dL/ds_t (through all later steps) obeys the adjoint recurrence
//   lambda_T = g_T,   lambda_t = g_t + J_{t+1}^T lambda_{t+1},   J_{t+1} = df/ds (s_t, x_{t+1}),
// an affine recurrence run backwards in time: lambda_t = E_t lambda_{t+1} + g_t with
// E_t = J_{t+1}^T.  It is evaluated with the scan engine (scan::ChunkedScan over the dense
// affine element, Direction::Reverse; across processes through the decomposition's
// carry_in(scan, Direction::Reverse)), exactly like the RTS smoother's pass.  Then
//   dL/dx_t     = (df/dx (s_{t-1}, x_t))^T lambda_t,
//   dL/ds_0     = J_1^T lambda_1,
//   dL/dtheta   = sum_t (df/dtheta (s_{t-1}, x_t))^T lambda_t,
// the vector-Jacobian products every gradient-capable cell provides (cells/parameters.hpp).
// The weight gradient is summed per (sequence, chunk) in double, then over the chunks in a
// fixed order (deterministic), then over the processes (decomp.sum_all).
//
// Exactness: the adjoint needs the dense Jacobian.  Replacing J by its diagonal (what
// quasi-DEER linearises with) would give lambda_t = g_t + diag(J_{t+1}) lambda_{t+1}, the
// gradient of a different, decoupled recurrence: an approximation whose error is the
// off-diagonal coupling, not a gradient of L.  It is deliberately not offered here.
//
// Two strategies (GradientOptions::num_chunks):
//  * the fused reverse sweep: since J_{t+1}^T lambda_{t+1} is the state part of the vjp at
//    step t+1, one vjp per step gives the adjoint recurrence's carry, dL/dx and the weight
//    terms together, O(D (D + I)) per step like backpropagation.  Parallel over the batch;
//    across processes a pipeline over the batch (each process hands the carries of a group
//    of sequences to its left neighbour and goes on with the next group).  The default
//    wherever B x D covers the hardware's parallelism (every CPU), and across P ranks when
//    B >= P;
//  * the time-parallel scan (any number of processes, even one sequence): per step one
//    dense Jacobian (twice: the scan's two passes), a D x D product in the reduce pass
//    (O(D^3), as a DEER iteration), then one vjp in a separate pass: about D times the
//    sweep's work, for parallelism over time.
// Memory: lambda (B, T, D) besides the inputs, states, cotangents and input gradients.
#include <Kokkos_Core.hpp>
#include <Kokkos_Timer.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "ungulate/cells/jacobian.hpp"
#include "ungulate/cells/parameters.hpp"
#include "ungulate/cells/prepare.hpp"
#include "ungulate/core/math.hpp"
#include "ungulate/core/types.hpp"
#include "ungulate/dist/single_rank.hpp"
#include "ungulate/scan/affine_dense.hpp"
#include "ungulate/scan/chunk_layout.hpp"
#include "ungulate/scan/chunked_scan.hpp"
#include "ungulate/solvers/sequential.hpp"

namespace ungulate {

struct GradientOptions {
  /// Chunks per sequence of the adjoint scan.  1: the fused reverse sweep (one vjp per step,
  /// parallel over the batch; across processes pipelined over the batch).  <= 0 chooses the
  /// sweep on one process when batch x state size covers the execution space's concurrency
  /// (always on CPUs: a time-parallel dense scan costs about D times the sweep's work), and
  /// across P processes when B >= P (the pipeline then keeps at least half of them busy);
  /// else scan::default_chunks.
  int num_chunks = -1;
  /// Chunks per sequence of the vjp pass that sums the weight gradient (<= 0: as the scan's,
  /// capped so that the per-chunk partial sums, B x chunks x parameter_count doubles, stay
  /// within partial_sum_budget bytes).
  int accumulation_chunks = -1;
  double partial_sum_budget = 256.0 * (1 << 20);
};

/// The gradients of L with respect to everything f reads.
template <class Cell, class ExecSpace = DefaultExecutionSpace>
struct Gradient {
  using Scalar = typename Cell::value_type;
  using Memory = typename ExecSpace::memory_space;
  /// dL/dx_t for this process' slice: (B, T_local, input_size).
  Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> inputs;
  /// dL/ds_0: (B, state_size), the same on every process.
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> initial_state;
  /// lambda_t = dL/ds_t in total (through all later steps), this process' slice (B, T_local, D).
  Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> adjoint;
  /// dL/dtheta summed over the batch, the steps and the processes, in the layout of
  /// `blocks` (the cell's parameter_blocks()): the same on every process.
  std::vector<double> weights;
  std::vector<cells::ParameterBlock> blocks;
  /// max |lambda| over the whole sequence (infinite or NaN if the adjoint overflowed).
  double max_abs_adjoint = 0;
  double seconds = 0;

  /// The part of `weights` belonging to the block called `name` (empty if none).
  std::vector<double> block(const std::string& name) const {
    std::size_t offset = 0;
    for (const auto& b : blocks) {
      if (b.name == name)
        return std::vector<double>(weights.begin() + long(offset),
                                   weights.begin() + long(offset + b.size()));
      offset += b.size();
    }
    return {};
  }
};

namespace solvers {

/// Generator of the adjoint scan's elements: element t = (J_{t+1}^T, g_t), with
/// J_{t+1} = df/ds at (s_t, x_{t+1}); at the sequence's last step A = 0 (nothing follows).
/// x_{t+1} of the slice's last step is the next slice's first input.
template <class Cell, class Memory>
struct AdjointElements {
  using Scalar = typename Cell::value_type;
  Cell cell;
  Kokkos::View<const Scalar***, Kokkos::LayoutRight, Memory> inputs, states, cotangent;
  Kokkos::View<const Scalar**, Kokkos::LayoutRight, Memory> next_input;
  bool ends_sequence;
  int D, T;

  int scratch_size() const { return D + cells::CellJacobian<Cell>::scratch_size(cell); }

  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, Scalar* e, Scalar* scratch,
                                         Scalar& /*max_value*/) const {
    const int dd = D * D;
    if (t == T - 1 && ends_sequence) {
      for (int i = 0; i < dd; ++i) e[i] = Scalar(0);
    } else {
      const Scalar* x = t + 1 < T ? &inputs(b, t + 1, 0) : &next_input(b, 0);
      cells::CellJacobian<Cell>::dense(cell, &states(b, t, 0), x, scratch, e, scratch + D);
      for (int i = 0; i < D; ++i)  // J -> J^T in place
        for (int j = i + 1; j < D; ++j) {
          const Scalar tmp = e[i * D + j];
          e[i * D + j] = e[j * D + i];
          e[j * D + i] = tmp;
        }
    }
    for (int i = 0; i < D; ++i) e[dd + i] = cotangent(b, t, i);
  }
};

/// Sink: lambda_t into the adjoint view; reports max |lambda| (infinite if not finite).
template <class Scalar, class Memory>
struct StoreAdjoint {
  Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> adjoint;
  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, const Scalar* state,
                                         Scalar& max_value) const {
    const int D = int(adjoint.extent(2));
    for (int i = 0; i < D; ++i) {
      adjoint(b, t, i) = state[i];
      const Scalar a = math::abs_or_inf(state[i]);
      if (a > max_value) max_value = a;
    }
  }
};

/// The vjp pass: per (sequence, chunk) item, dL/dx_t for its steps, dL/ds_0 (step 0 of the
/// first slice) and the item's partial sum of the weight gradient.
template <class Cell, class Memory>
struct AccumulateVjp {
  using Scalar = typename Cell::value_type;
  Cell cell;
  Kokkos::View<const Scalar***, Kokkos::LayoutRight, Memory> inputs, states, adjoint;
  Kokkos::View<const Scalar**, Kokkos::LayoutRight, Memory> previous;
  Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> grad_inputs;
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> grad_initial;
  Kokkos::View<double*, Kokkos::LayoutRight, Memory> partial;  // items x P
  scan::ChunkLayout layout;
  int P;
  bool starts_sequence;

  KOKKOS_INLINE_FUNCTION void operator()(const int item) const {
    const int C = layout.chunks;
    const int b = item / C, c = item % C;
    double* acc = P > 0 ? partial.data() + std::size_t(item) * P : nullptr;
    for (int p = 0; p < P; ++p) acc[p] = 0;
    for (int t = layout.begin(c); t < layout.end(c); ++t) {
      const Scalar* h = t == 0 ? &previous(b, 0) : &states(b, t - 1, 0);
      Scalar* gh = t == 0 && starts_sequence ? &grad_initial(b, 0) : nullptr;
      cell.vjp(h, &inputs(b, t, 0), &adjoint(b, t, 0), gh, &grad_inputs(b, t, 0), acc);
    }
  }
};

/// The fused reverse sweep, one work item per sequence b = first + k: lambda_t = g_t + c_t,
/// where the carry c_t = J_{t+1}^T lambda_{t+1} is the state part of the vjp at step t+1,
/// which also writes dL/dx_{t+1} and adds step t+1's weight terms.  carry(b) holds the carry
/// into the slice's last step on entry (zero at the sequence's end; across ranks, what the
/// right neighbour handed over); the state part at the slice's first step goes to
/// first_grad(b): dL/ds_0 on the first slice, the carry for the left neighbour elsewhere.
template <class Cell, class Memory>
struct ReverseSweep {
  using Scalar = typename Cell::value_type;
  Cell cell;
  Kokkos::View<const Scalar***, Kokkos::LayoutRight, Memory> inputs, states, cotangent;
  Kokkos::View<const Scalar**, Kokkos::LayoutRight, Memory> previous;
  Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> adjoint, grad_inputs;
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> carry, first_grad;
  Kokkos::View<double*, Kokkos::LayoutRight, Memory> partial;  // B x P
  int P, first;

  KOKKOS_INLINE_FUNCTION void operator()(const int k, Scalar& max_value) const {
    const int b = first + k;
    const int T = int(states.extent(1)), D = int(states.extent(2));
    double* acc = P > 0 ? partial.data() + std::size_t(b) * P : nullptr;
    for (int p = 0; p < P; ++p) acc[p] = 0;
    Scalar* c = &carry(b, 0);
    if (T == 0)  // an empty slice hands the carry on unchanged
      for (int i = 0; i < D; ++i) first_grad(b, i) = c[i];
    for (int t = T - 1; t >= 0; --t) {
      Scalar* lambda = &adjoint(b, t, 0);
      for (int i = 0; i < D; ++i) {
        lambda[i] = cotangent(b, t, i) + c[i];
        const Scalar a = math::abs_or_inf(lambda[i]);
        if (a > max_value) max_value = a;
      }
      const Scalar* h = t == 0 ? &previous(b, 0) : &states(b, t - 1, 0);
      cell.vjp(h, &inputs(b, t, 0), lambda, t == 0 ? &first_grad(b, 0) : c, &grad_inputs(b, t, 0),
               acc);
    }
  }
};

template <class ExecSpace, class Cell, class Decomposition>
Gradient<Cell, ExecSpace> gradient(
    const Cell& cell,
    const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& inputs,
    const Kokkos::View<const typename Cell::value_type**, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& s0,
    const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& states,
    const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& cotangent,
    const GradientOptions& opt, const Decomposition& decomp) {
  using Scalar = typename Cell::value_type;
  using Memory = typename ExecSpace::memory_space;
  using View3 = Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory>;
  using View2 = Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory>;
  using Op = scan::AffineDense<Scalar>;
  Kokkos::Timer timer;
  const int B = int(states.extent(0)), T = int(states.extent(1));
  const int D = cell.state_size(), I = cell.input_size(), P = cell.parameter_count();

  Gradient<Cell, ExecSpace> out;
  out.blocks = cell.parameter_blocks();
  // Every step's dL/dx is overwritten by its vjp (both strategies): no zero fill.
  out.inputs =
      View3(Kokkos::view_alloc("ungulate::grad_inputs", Kokkos::WithoutInitializing), B, T, I);
  out.initial_state = View2("ungulate::grad_initial_state", B, D);
  out.adjoint =
      View3(Kokkos::view_alloc("ungulate::adjoint", Kokkos::WithoutInitializing), B, T, D);

  // Collective exchanges first (every process takes part, whatever its slice).
  View2 previous("ungulate::grad_previous_state", B, D);
  decomp.exchange_halo(states, previous, s0);
  View2 next_input("ungulate::grad_next_input", B, I);
  decomp.exchange_next_input(inputs, next_input);

  // The reverse sweep where it pays (see GradientOptions::num_chunks).  Across processes it
  // is a pipeline over the batch: each process sweeps a group of sequences as soon as its
  // right neighbour hands over their carries, then hands its own to the left, so P
  // processes finish B sequences in (B / G + P - 1) group steps.  The decision and the
  // group size (pipeline_group) must agree on every process.
  const int processes = decomp.size();
  const bool fits = P == 0 || double(B) * P * sizeof(double) <= opt.partial_sum_budget;
  const bool pays =
      processes == 1 ? double(B) * D >= double(ExecSpace().concurrency()) : B >= processes;
  const bool sweep = fits && (opt.num_chunks == 1 || (opt.num_chunks <= 0 && pays));
  int items = 0;
  Kokkos::View<double*, Kokkos::LayoutRight, Memory> partial;
  if (sweep) {
    // 1+2 fused: the adjoint, dL/dx_t, dL/ds_0 and one partial weight sum per sequence.
    items = B;
    partial = Kokkos::View<double*, Kokkos::LayoutRight, Memory>(
        Kokkos::view_alloc("ungulate::grad_weight_partials", Kokkos::WithoutInitializing),
        std::size_t(items) * std::size_t(P));
    const View2 carry("ungulate::grad_carry", B, D);  // zero: nothing after the sequence's end
    const View2 first_grad = decomp.starts_sequence()
                                 ? out.initial_state
                                 : View2("ungulate::grad_carry_to_previous", B, D);
    const int group = pipeline_group<ExecSpace>(B, decomp);
    Scalar max_adjoint = Scalar(0);
    for (int first = 0; first < B; first += group) {
      const int count = std::min(group, B - first);
      decomp.receive_from_next(carry, first, count);
      Scalar group_max = Scalar(0);
      Kokkos::parallel_reduce(
          "ungulate::gradient::reverse_sweep", Kokkos::RangePolicy<ExecSpace>(0, count),
          ReverseSweep<Cell, Memory>{cell, inputs, states, cotangent, previous, out.adjoint,
                                     out.inputs, carry, first_grad, partial, P, first},
          Kokkos::Max<Scalar>(group_max));
      decomp.send_to_previous(first_grad, first, count);
      if (T > 0 && group_max > max_adjoint) max_adjoint = group_max;  // |NaN| counts as inf
    }
    out.max_abs_adjoint = decomp.max_all(double(max_adjoint));
  } else {
    // 1. The adjoint: lambda_t = J_{t+1}^T lambda_{t+1} + g_t, a reverse affine scan.
    const int chunks = opt.num_chunks > 0 ? opt.num_chunks : scan::default_chunks<ExecSpace>(B, T);
    const AdjointElements<Cell, Memory> gen{
        cell, inputs, states, cotangent, next_input, decomp.ends_sequence(), D, T};
    scan::ChunkedScan<Op, ExecSpace> adjoint_scan(Op{D}, B, T, chunks, gen.scratch_size());
    adjoint_scan.reduce_chunks(gen, Direction::Reverse);
    decomp.carry_in(adjoint_scan, Direction::Reverse);
    const Scalar max_adjoint =
        adjoint_scan.finish(gen, StoreAdjoint<Scalar, Memory>{out.adjoint}, Direction::Reverse);
    out.max_abs_adjoint = decomp.max_all(double(max_adjoint));

    // 2. The vjps at (s_{t-1}, x_t) with lambda_t: dL/dx_t, dL/ds_0, partial weight sums.
    int acc_chunks = opt.accumulation_chunks > 0 ? opt.accumulation_chunks : adjoint_scan.chunks();
    if (P > 0 && B > 0) {
      const double per_chunk = double(B) * P * sizeof(double);
      acc_chunks = std::max(1, std::min(acc_chunks, int(opt.partial_sum_budget / per_chunk)));
    }
    const scan::ChunkLayout layout(T, acc_chunks);
    items = B * layout.chunks;
    partial = Kokkos::View<double*, Kokkos::LayoutRight, Memory>(
        Kokkos::view_alloc("ungulate::grad_weight_partials", Kokkos::WithoutInitializing),
        std::size_t(items) * std::size_t(P));
    Kokkos::parallel_for("ungulate::gradient::vjp", Kokkos::RangePolicy<ExecSpace>(0, items),
                         AccumulateVjp<Cell, Memory>{cell, inputs, states, out.adjoint, previous,
                                                     out.inputs, out.initial_state, partial, layout,
                                                     P, decomp.starts_sequence()});
  }
  // Sum the partials over the items in a fixed order (deterministic).
  Kokkos::View<double*, Kokkos::LayoutRight, Memory> total("ungulate::grad_weights",
                                                           std::size_t(P));
  Kokkos::parallel_for(
      "ungulate::gradient::sum_weights", Kokkos::RangePolicy<ExecSpace>(0, P),
      KOKKOS_LAMBDA(const int p) {
        double sum = 0;
        for (int item = 0; item < items; ++item) sum += partial(std::size_t(item) * P + p);
        total(p) = sum;
      });
  const auto total_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), total);
  out.weights.assign(total_h.data(), total_h.data() + P);
  decomp.sum_all(out.weights);
  // dL/ds_0 lives on the first slice's process; the sum hands it to every process.
  {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out.initial_state);
    std::vector<double> g0(h.data(), h.data() + h.size());
    decomp.sum_all(g0);
    for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = Scalar(g0[i]);
    Kokkos::deep_copy(out.initial_state, h);
  }
  Kokkos::fence();
  out.seconds = timer.seconds();
  return out;
}

}  // namespace solvers

/// Gradients of L through s_t = f(s_{t-1}, x_t) for a batch of B sequences, given the
/// trajectory and the cotangent dL/ds_t of every step (see the top of this header):
///   inputs (B, T, I), s0 (B, D), states (B, T, D) = s_1 .. s_T, cotangent (B, T, D).
/// Under a decomposition, each process passes its slice of inputs, states and cotangent.
/// The cell must provide vjp (cells/parameters.hpp).  Throws std::invalid_argument on
/// inconsistent shapes.
template <class ExecSpace = DefaultExecutionSpace, class Cell,
          class Decomposition = dist::SingleRank>
Gradient<Cell, ExecSpace> gradient(
    const Cell& cell,
    const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& inputs,
    const Kokkos::View<const typename Cell::value_type**, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& s0,
    const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& states,
    const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight,
                       typename ExecSpace::memory_space>& cotangent,
    const GradientOptions& options = GradientOptions(),
    const Decomposition& decomp = Decomposition()) {
  static_assert(cells::has_vjp<Cell>,
                "ungulate::gradient: the cell needs vjp, parameter_count and parameter_blocks "
                "(see cells/parameters.hpp)");
  const auto shape_error = [](const std::string& what) {
    throw std::invalid_argument("ungulate::gradient: " + what);
  };
  const std::size_t B = states.extent(0), T = states.extent(1);
  const std::size_t D = std::size_t(cell.state_size()), I = std::size_t(cell.input_size());
  if (inputs.extent(0) != B || s0.extent(0) != B || cotangent.extent(0) != B)
    shape_error("batch sizes differ (inputs " + std::to_string(inputs.extent(0)) + ", s0 " +
                std::to_string(s0.extent(0)) + ", states " + std::to_string(B) + ", cotangent " +
                std::to_string(cotangent.extent(0)) + ")");
  if (inputs.extent(1) != T || cotangent.extent(1) != T)
    shape_error("inputs have " + std::to_string(inputs.extent(1)) + " steps, cotangent " +
                std::to_string(cotangent.extent(1)) + ", states " + std::to_string(T));
  if (inputs.extent(2) != I)
    shape_error("input size " + std::to_string(inputs.extent(2)) + " does not match the cell's " +
                std::to_string(I));
  if (states.extent(2) != D || s0.extent(1) != D || cotangent.extent(2) != D)
    shape_error("states, s0 and cotangent must have the cell's state size " + std::to_string(D));
  return solvers::gradient<ExecSpace>(cells::prepare(cell), inputs, s0, states, cotangent, options,
                                      decomp);
}

}  // namespace ungulate

/// The declaration of gradient's specialisation for Cell and Decomposition on the default
/// execution space: `extern` before it declares, alone it instantiates.
#define UNGULATE_GRADIENT_SPECIALISATION(Cell, Decomposition)                     \
  template ::ungulate::Gradient<Cell, ::ungulate::DefaultExecutionSpace>          \
  ungulate::gradient<::ungulate::DefaultExecutionSpace, Cell, Decomposition>(     \
      const Cell&,                                                                \
      const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight, \
                         ::ungulate::DefaultExecutionSpace::memory_space>&,       \
      const Kokkos::View<const typename Cell::value_type**, Kokkos::LayoutRight,  \
                         ::ungulate::DefaultExecutionSpace::memory_space>&,       \
      const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight, \
                         ::ungulate::DefaultExecutionSpace::memory_space>&,       \
      const Kokkos::View<const typename Cell::value_type***, Kokkos::LayoutRight, \
                         ::ungulate::DefaultExecutionSpace::memory_space>&,       \
      const ::ungulate::GradientOptions&, const Decomposition&);

#ifdef UNGULATE_HAVE_ETI
#include "ungulate/solvers/built_in_specialisations.hpp"
#define UNGULATE_EXTERN_GRADIENT(Cell, Decomposition) \
  extern UNGULATE_GRADIENT_SPECIALISATION(Cell, Decomposition)
UNGULATE_FOR_EACH_BUILT_IN_SPECIALISATION(UNGULATE_EXTERN_GRADIENT)
#undef UNGULATE_EXTERN_GRADIENT
#endif
