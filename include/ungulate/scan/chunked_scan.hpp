#pragma once
// The scan engine, written once for every element type and direction.
//
// A batch of independent sequences of length T is split into C chunks per sequence.
//   1. reduce_chunks: each (sequence, chunk) folds its elements, in scan order, into one
//      aggregate (parallel over sequences x chunks).
//   2. scan_chunks:   per sequence, an exclusive scan of the chunk aggregates turns them into
//      carry-ins, starting from an optional carry-in for the whole slice (this is where the
//      cross-rank level plugs in: see slice_aggregates and dist/).
//   3. finish:        each chunk restarts from its carry-in and advances a compact state through
//      its elements, handing every state to a sink.
// Elements are never stored: a generator recomputes element t on demand in passes 1 and 3,
// so a Newton linearisation (A_t, b_t) never travels through memory.
//
// Element types (scan/affine_*.hpp, scan/kalman_*.hpp) provide element_size, state_size,
// scratch_size, set_identity, combine(first, second, out, scratch), state_of(prefix, state)
// and advance(state, element, scratch).  combine keeps operand order: the operators are
// associative but not commutative.
//
// Generators:  gen.scratch_size() (host) and
//              gen(b, t, Scalar* element, Scalar* scratch, Scalar& max_value) (device),
//              writing element t of sequence b; max_value is a max-reduction the generator
//              may raise (the solvers use it for the residual).
// Sinks:       sink(b, t, const Scalar* state, Scalar& max_value) (device).
// t is always the physical time index; Direction::Reverse visits t = T-1 .. 0.
#include <Kokkos_Core.hpp>

#include <stdexcept>

#include "ungulate/core/types.hpp"
#include "ungulate/scan/chunk_layout.hpp"

namespace ungulate::scan {

template <class Element, class ExecSpace = DefaultExecutionSpace>
class ChunkedScan {
 public:
  using Scalar = typename Element::value_type;
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;
  using ElementBuffer = Kokkos::View<Scalar***, Kokkos::LayoutRight, memory_space>;
  using SliceBuffer = Kokkos::View<Scalar**, Kokkos::LayoutRight, memory_space>;

  /// `chunks` is clamped to [1, length] (an empty sequence still gets one empty chunk).
  ChunkedScan(Element op, int batch, int length, int chunks, int generator_scratch)
      : op_(op), batch_(batch), layout_(length, chunks) {
    if (batch < 0 || length < 0) throw std::invalid_argument("ChunkedScan: negative size");
    chunks_ = layout_.chunks;
    const int es = op.element_size();
    aggregates_ =
        ElementBuffer(Kokkos::view_alloc("ungulate::chunk_aggregates", Kokkos::WithoutInitializing),
                      batch, chunks_, es);
    const int row = 3 * es + op.state_size() + op.scratch_size() + generator_scratch;
    scratch_ = Scratch{
        SliceBuffer(Kokkos::view_alloc("ungulate::scan_workspace", Kokkos::WithoutInitializing),
                    std::size_t(batch) * chunks_, row),
        es, op.state_size(), op.scratch_size()};
  }

  int batch() const { return batch_; }
  int chunks() const { return chunks_; }
  const ChunkLayout& layout() const { return layout_; }
  const Element& op() const { return op_; }

  /// Pass 1: aggregates(b, c) = fold of chunk c's elements in scan order.  Returns the max of
  /// the values the generator reported.
  template <class Generator>
  Scalar reduce_chunks(const Generator& gen, Direction dir) {
    const Element op = op_;
    const int C = chunks_;
    const Order order{layout_, dir == Direction::Reverse};
    const Scratch scratch = scratch_;
    auto aggregates = aggregates_;
    Scalar result = Scalar(0);
    Kokkos::parallel_reduce(
        "ungulate::scan::reduce_chunks", Kokkos::RangePolicy<ExecSpace>(0, batch_ * C),
        KOKKOS_LAMBDA(const int item, Scalar& max_value) {
          const int b = item / C, c = item % C;
          Scalar* element = scratch.element(item);
          Scalar* acc = scratch.accumulator(item);
          Scalar* next = scratch.accumulator2(item);
          op.set_identity(acc);
          for (int k = order.layout.begin(c); k < order.layout.end(c); ++k) {
            gen(b, order.time(k), element, scratch.generator(item), max_value);
            op.combine(acc, element, next, scratch.combine(item));
            Scalar* tmp = acc;
            acc = next;
            next = tmp;
          }
          Scalar* out = &aggregates(b, c, 0);
          for (int i = 0; i < scratch.element_size; ++i) out[i] = acc[i];
        },
        Kokkos::Max<Scalar>(result));
    return result > Scalar(0) ? result : Scalar(0);  // an empty range reduces to lowest()
  }

  /// The aggregate of each sequence's whole slice (after reduce_chunks): what a rank
  /// contributes to the cross-rank scan.  out has shape (batch, element_size).
  void slice_aggregates(const SliceBuffer& out) { fold_aggregates(out, SliceBuffer(), false); }

  /// Pass 2: turns the chunk aggregates into exclusive carry-ins.  carry_in (batch,
  /// element_size) is the prefix of everything before this slice; empty means identity.
  void scan_chunks(const SliceBuffer& carry_in = SliceBuffer()) {
    fold_aggregates(SliceBuffer(), carry_in, true);
  }

  /// Pass 3: re-runs each chunk from its carry-in; sink receives every state in scan order
  /// within a chunk.  Returns the max of the values the sink reported.
  template <class Generator, class Sink>
  Scalar finish(const Generator& gen, const Sink& sink, Direction dir) {
    const Element op = op_;
    const int C = chunks_;
    const Order order{layout_, dir == Direction::Reverse};
    const Scratch scratch = scratch_;
    auto aggregates = aggregates_;
    Scalar result = Scalar(0);
    Kokkos::parallel_reduce(
        "ungulate::scan::finish", Kokkos::RangePolicy<ExecSpace>(0, batch_ * C),
        KOKKOS_LAMBDA(const int item, Scalar& max_value) {
          const int b = item / C, c = item % C;
          Scalar* element = scratch.element(item);
          Scalar* state = scratch.state(item);
          op.state_of(&aggregates(b, c, 0), state);
          Scalar unused = Scalar(0);
          for (int k = order.layout.begin(c); k < order.layout.end(c); ++k) {
            const int t = order.time(k);
            gen(b, t, element, scratch.generator(item), unused);
            op.advance(state, element, scratch.combine(item));
            sink(b, t, state, max_value);
          }
        },
        Kokkos::Max<Scalar>(result));
    return result > Scalar(0) ? result : Scalar(0);  // an empty range reduces to lowest()
  }

 private:
  // Scan order within a sequence: logical index k -> physical time t.
  struct Order {
    ChunkLayout layout;
    bool reverse;
    KOKKOS_INLINE_FUNCTION int time(int k) const { return reverse ? layout.length - 1 - k : k; }
  };

  // Per-work-item scratch row: [element | accumulator | accumulator2 | state | combine
  // scratch | generator scratch]; offsets taken from the row start so that an empty trailing
  // part never indexes past the View's extent.
  struct Scratch {
    SliceBuffer rows;
    int element_size, state_size, combine_size;
    KOKKOS_INLINE_FUNCTION Scalar* element(int item) const { return &rows(item, 0); }
    KOKKOS_INLINE_FUNCTION Scalar* accumulator(int item) const {
      return &rows(item, 0) + (element_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* accumulator2(int item) const {
      return &rows(item, 0) + (2 * element_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* state(int item) const {
      return &rows(item, 0) + (3 * element_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* combine(int item) const {
      return &rows(item, 0) + (3 * element_size + state_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* generator(int item) const {
      return &rows(item, 0) + (3 * element_size + state_size + combine_size);
    }
  };

  // Sequential fold over the chunk aggregates of each sequence (parallel over sequences).
  // With `exclusive`, each aggregate is replaced by the prefix before it (the carry-in).
  void fold_aggregates(const SliceBuffer& total, const SliceBuffer& carry_in, bool exclusive) {
    const Element op = op_;
    const int C = chunks_;
    auto aggregates = aggregates_;
    const Scratch scratch = scratch_;
    const int es = op.element_size();
    const bool has_carry = carry_in.extent(0) > 0;
    const bool want_total = total.extent(0) > 0;
    Kokkos::parallel_for(
        "ungulate::scan::fold_aggregates", Kokkos::RangePolicy<ExecSpace>(0, batch_),
        KOKKOS_LAMBDA(const int b) {
          const int item = b * C;  // the sequence's first work item lends its scratch
          Scalar* acc = scratch.accumulator(item);
          Scalar* next = scratch.accumulator2(item);
          Scalar* cscratch = scratch.combine(item);
          if (has_carry)
            for (int i = 0; i < es; ++i) acc[i] = carry_in(b, i);
          else
            op.set_identity(acc);
          for (int c = 0; c < C; ++c) {
            Scalar* agg = &aggregates(b, c, 0);
            op.combine(acc, agg, next, cscratch);
            if (exclusive)
              for (int i = 0; i < es; ++i) agg[i] = acc[i];
            Scalar* tmp = acc;
            acc = next;
            next = tmp;
          }
          if (want_total)
            for (int i = 0; i < es; ++i) total(b, i) = acc[i];
        });
  }

  Element op_;
  int batch_;
  ChunkLayout layout_;
  int chunks_;
  ElementBuffer aggregates_;
  Scratch scratch_;
};

}  // namespace ungulate::scan
