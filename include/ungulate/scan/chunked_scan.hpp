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
//              may raise (the solvers use it for the residual).  Optionally
//              `static constexpr int group_size = G` (> 1) and
//              gen.group(b, t, Scalar* elements, Scalar* scratch, Scalar& max_value), writing
//              the elements of steps t .. t + G - 1 one after another (G element sizes;
//              scratch G times scratch_size()): independent steps computed together keep a
//              CPU core's pipelines full.  Used in forward passes by an engine constructed
//              with a group of at least G; otherwise step by step.
//              Optionally gen.element_in_place(b, t): a pointer to element t where it can be
//              read where it lies (e.g. stored), else null; finish_and_reduce then skips the
//              copy into `element`.
// Sinks:       sink(b, t, const Scalar* state, Scalar& max_value) (device).  Optionally split
//              in two, sink.write(b, t, state) and sink.report(b, t, count, max_value) for the
//              steps t .. t + count - 1 written: finish_and_reduce then reports once a group,
//              one reduction over G steps instead of G.
// t is always the physical time index; Direction::Reverse visits t = T-1 .. 0.
#include <Kokkos_Core.hpp>

#include <stdexcept>
#include <type_traits>
#include <utility>

#include "ungulate/core/types.hpp"
#include "ungulate/scan/chunk_layout.hpp"

namespace ungulate::scan {

namespace detail {
/// Generator::group_size where declared, else 1.
template <class Generator, class = void>
struct group_size_of : std::integral_constant<int, 1> {};
template <class Generator>
struct group_size_of<Generator, std::void_t<decltype(Generator::group_size)>>
    : std::integral_constant<int, Generator::group_size> {};

/// Whether a generator offers element_in_place (see above).
template <class Generator, class = void>
struct has_element_in_place : std::false_type {};
template <class Generator>
struct has_element_in_place<
    Generator, std::void_t<decltype(std::declval<const Generator&>().element_in_place(0, 0))>>
    : std::true_type {};

/// Whether a sink is split into write and report (see above).
template <class Sink, class = void>
struct has_split_report : std::false_type {};
template <class Sink>
struct has_split_report<Sink, std::void_t<decltype(std::declval<const Sink&>().write(
                                  0, 0, static_cast<const typename Sink::Scalar*>(nullptr)))>>
    : std::true_type {};
}  // namespace detail

template <class Element, class ExecSpace = DefaultExecutionSpace>
class ChunkedScan {
 public:
  using Scalar = typename Element::value_type;
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;
  using ElementBuffer = Kokkos::View<Scalar***, Kokkos::LayoutRight, memory_space>;
  using SliceBuffer = Kokkos::View<Scalar**, Kokkos::LayoutRight, memory_space>;

  /// `chunks` is clamped to [1, length] (an empty sequence still gets one empty chunk).
  /// `group`: the largest generator group_size this engine will be given (see above);
  /// generator_scratch is per step.
  ChunkedScan(Element op, int batch, int length, int chunks, int generator_scratch, int group = 1)
      : op_(op), batch_(batch), layout_(length, chunks), group_(group < 1 ? 1 : group) {
    if (batch < 0 || length < 0) throw std::invalid_argument("ChunkedScan: negative size");
    chunks_ = layout_.chunks;
    const int es = op.element_size();
    aggregates_ =
        ElementBuffer(Kokkos::view_alloc("ungulate::chunk_aggregates", Kokkos::WithoutInitializing),
                      batch, chunks_, es);
    const int row =
        (group_ + 2) * es + op.state_size() + op.scratch_size() + group_ * generator_scratch;
    scratch_ = Scratch{
        SliceBuffer(Kokkos::view_alloc("ungulate::scan_workspace", Kokkos::WithoutInitializing),
                    std::size_t(batch) * chunks_, row),
        es, group_ * es, op.state_size(), op.scratch_size()};
  }

  int batch() const { return batch_; }
  int chunks() const { return chunks_; }
  const ChunkLayout& layout() const { return layout_; }
  const Element& op() const { return op_; }

  /// Pass 1: aggregates(b, c) = fold of chunk c's elements in scan order.  Returns the max of
  /// the values the generator reported.
  template <class Generator>
  Scalar reduce_chunks(const Generator& gen, Direction dir) {
    constexpr int G = detail::group_size_of<Generator>::value;
    const bool forward = dir == Direction::Forward;
    const bool grouped = G > 1 && G <= group_ && forward;
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
          Folder fold{op, scratch, item};
          const int begin = order.layout.begin(c), end = order.layout.end(c);
          // Forward, the chunk's first element is put in front last: the grouping and the
          // association of finish_and_reduce + prepend_chunk_heads, so that both give the
          // same bits (restarts from a checkpoint are bitwise reproducible).
          const bool head_last = forward && begin < end;
          int k = head_last ? begin + 1 : begin;
          if constexpr (G > 1)
            if (grouped)
              for (; k + G <= end; k += G) {
                gen.group(b, k, element, scratch.generator(item), max_value);
                for (int p = 0; p < G; ++p) fold.append(element + p * scratch.element_size);
              }
          for (; k < end; ++k) {
            gen(b, order.time(k), element, scratch.generator(item), max_value);
            fold.append(element);
          }
          if (head_last) {
            gen(b, begin, element, scratch.generator(item), max_value);
            fold.prepend(element);
          }
          fold.store(&aggregates(b, c, 0));
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

  /// Pass 3 of this scan fused with pass 1 of the next one (forward): each chunk re-runs its
  /// elements from its carry-in as finish() does (replay, sink), and meanwhile folds the
  /// next scan's elements (next, usually reading the states the sink has just written) into
  /// new aggregates.  One sweep over the chunk instead of two.  The next generator is not
  /// called for a chunk's first step, whose input (the previous chunk's last state) another
  /// work item writes: prepend_chunk_heads() completes the aggregates once it is written.
  /// Returns {max reported by the sink, max reported by next}.
  template <class Replay, class Sink, class Next>
  std::pair<Scalar, Scalar> finish_and_reduce(const Replay& replay, const Sink& sink,
                                              const Next& next) {
    constexpr int G = detail::group_size_of<Next>::value;
    const bool grouped = G > 1 && G <= group_;
    const Element op = op_;
    const int C = chunks_;
    const ChunkLayout layout = layout_;
    const Scratch scratch = scratch_;
    auto aggregates = aggregates_;
    Scalar sunk = Scalar(0), generated = Scalar(0);
    Kokkos::parallel_reduce(
        "ungulate::scan::finish_and_reduce", Kokkos::RangePolicy<ExecSpace>(0, batch_ * C),
        KOKKOS_LAMBDA(const int item, Scalar& max_sink, Scalar& max_next) {
          const int b = item / C, c = item % C;
          Scalar* element = scratch.element(item);
          Scalar* state = scratch.state(item);
          Scalar* gscratch = scratch.generator(item);
          op.state_of(&aggregates(b, c, 0), state);
          Folder fold{op, scratch, item};
          Scalar unused = Scalar(0);
          // Steps t: the replayed element applied to the state, which is written out.
          const auto replay_and_write = [&](int t) {
            const Scalar* e = element;
            if constexpr (detail::has_element_in_place<Replay>::value) {
              e = replay.element_in_place(b, t);
              if (e == nullptr) {
                replay(b, t, element, gscratch, unused);
                e = element;
              }
            } else {
              replay(b, t, element, gscratch, unused);
            }
            op.advance(state, e, scratch.combine(item));
            if constexpr (detail::has_split_report<Sink>::value)
              sink.write(b, t, state);
            else
              sink(b, t, state, max_sink);
          };
          const auto report = [&](int t, int count) {
            if constexpr (detail::has_split_report<Sink>::value) sink.report(b, t, count, max_sink);
          };
          const auto advance = [&](int t) {
            replay_and_write(t);
            report(t, 1);
          };
          const int begin = layout.begin(c), end = layout.end(c);
          if (begin < end) advance(begin);
          int t = begin + 1;
          if constexpr (G > 1)
            for (; grouped && t + G <= end; t += G) {
              for (int p = 0; p < G; ++p) replay_and_write(t + p);
              report(t, G);
              next.group(b, t, element, gscratch, max_next);
              for (int p = 0; p < G; ++p) fold.append(element + p * scratch.element_size);
            }
          for (; t < end; ++t) {
            advance(t);
            next(b, t, element, gscratch, max_next);
            fold.append(element);
          }
          fold.store(&aggregates(b, c, 0));
        },
        Kokkos::Max<Scalar>(sunk), Kokkos::Max<Scalar>(generated));
    // An empty range reduces to lowest().
    return {sunk > Scalar(0) ? sunk : Scalar(0), generated > Scalar(0) ? generated : Scalar(0)};
  }

  /// After finish_and_reduce: puts each chunk's first element (gen at the chunk's first step)
  /// in front of its aggregate.  Returns the max the generator reported.
  template <class Generator>
  Scalar prepend_chunk_heads(const Generator& gen) {
    const Element op = op_;
    const int C = chunks_;
    const ChunkLayout layout = layout_;
    const Scratch scratch = scratch_;
    auto aggregates = aggregates_;
    const int es = op.element_size();
    Scalar result = Scalar(0);
    Kokkos::parallel_reduce(
        "ungulate::scan::prepend_chunk_heads", Kokkos::RangePolicy<ExecSpace>(0, batch_ * C),
        KOKKOS_LAMBDA(const int item, Scalar& max_value) {
          const int b = item / C, c = item % C;
          if (layout.begin(c) == layout.end(c)) return;
          Scalar* element = scratch.element(item);
          Scalar* out = scratch.accumulator(item);
          gen(b, layout.begin(c), element, scratch.generator(item), max_value);
          Scalar* agg = &aggregates(b, c, 0);
          op.combine(element, agg, out, scratch.combine(item));
          for (int i = 0; i < es; ++i) agg[i] = out[i];
        },
        Kokkos::Max<Scalar>(result));
    return result > Scalar(0) ? result : Scalar(0);
  }

 private:
  // Scan order within a sequence: logical index k -> physical time t.
  struct Order {
    ChunkLayout layout;
    bool reverse;
    KOKKOS_INLINE_FUNCTION int time(int k) const { return reverse ? layout.length - 1 - k : k; }
  };

  // Per-work-item scratch row: [elements (a group's) | accumulator | accumulator2 | state |
  // combine scratch | generator scratch (a group's)]; offsets taken from the row start so
  // that an empty trailing part never indexes past the View's extent.
  struct Scratch {
    SliceBuffer rows;
    int element_size, elements_size, state_size, combine_size;
    KOKKOS_INLINE_FUNCTION Scalar* element(int item) const { return &rows(item, 0); }
    KOKKOS_INLINE_FUNCTION Scalar* accumulator(int item) const {
      return &rows(item, 0) + (elements_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* accumulator2(int item) const {
      return &rows(item, 0) + (elements_size + element_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* state(int item) const {
      return &rows(item, 0) + (elements_size + 2 * element_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* combine(int item) const {
      return &rows(item, 0) + (elements_size + 2 * element_size + state_size);
    }
    KOKKOS_INLINE_FUNCTION Scalar* generator(int item) const {
      return &rows(item, 0) + (elements_size + 2 * element_size + state_size + combine_size);
    }
  };

  // A work item's running fold: acc <- acc followed by e, ping-ponging two accumulators.
  struct Folder {
    Element op;
    Scalar *acc, *next, *combine_scratch;
    KOKKOS_INLINE_FUNCTION Folder(const Element& op_, const Scratch& scratch, int item)
        : op(op_),
          acc(scratch.accumulator(item)),
          next(scratch.accumulator2(item)),
          combine_scratch(scratch.combine(item)) {
      op.set_identity(acc);
    }
    KOKKOS_INLINE_FUNCTION void append(const Scalar* e) {
      op.combine(acc, e, next, combine_scratch);
      swap();
    }
    KOKKOS_INLINE_FUNCTION void prepend(const Scalar* e) {  // acc <- e followed by acc
      op.combine(e, acc, next, combine_scratch);
      swap();
    }
    KOKKOS_INLINE_FUNCTION void swap() {
      Scalar* tmp = acc;
      acc = next;
      next = tmp;
    }
    KOKKOS_INLINE_FUNCTION void store(Scalar* out) const {
      for (int i = 0; i < op.element_size(); ++i) out[i] = acc[i];
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
  int group_;
  int chunks_;
  ElementBuffer aggregates_;
  Scratch scratch_;
};

}  // namespace ungulate::scan
