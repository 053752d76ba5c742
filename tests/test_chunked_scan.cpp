// The two-level scan engine (scan::ChunkedScan) against a plain sequential fold, forward and
// reverse, for every element type, many lengths and chunk counts; and its cross-slice hooks
// (slice_aggregates / scan_chunks(carry_in)) that the MPI level builds on.
#include "scan_test_elements.hpp"

namespace {

using namespace ut;
using ungulate::Direction;

/// Generator: element t of sequence b is elements(b, offset + t, :).  Reports max |e[0]|
/// through the reduction, and scribbles NaN over its own scratch (which must not overlap the
/// engine's buffers).
template <class S>
struct ReadElements {
  View3<S> elements;  // (B, T_total, es)
  int offset = 0;
  int scratch = 0;
  S poison = std::numeric_limits<S>::quiet_NaN();
  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, S* e, S* gscratch, S& max_value) const {
    const int es = int(elements.extent(2));
    for (int i = 0; i < scratch; ++i) gscratch[i] = poison;
    for (int i = 0; i < es; ++i) e[i] = elements(b, offset + t, i);
    const S a = e[0] < S(0) ? -e[0] : e[0];
    if (a > max_value) max_value = a;
  }
};

/// Sink: states(b, offset + t, :) = state; reports max |state[0]|.
template <class S>
struct WriteStates {
  View3<S> states;  // (B, T_total, ss)
  int offset = 0;
  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, const S* state, S& max_value) const {
    const int ss = int(states.extent(2));
    for (int i = 0; i < ss; ++i) states(b, offset + t, i) = state[i];
    const S a = state[0] < S(0) ? -state[0] : state[0];
    if (a > max_value) max_value = a;
  }
};

template <class Op>
struct Problem {
  using S = typename Op::value_type;
  int B, T, D, es, ss;
  std::vector<double> elements;  // (B, T, es), already rounded to S
  View3<S> dev;
};

/// Random elements; with `anchor`, the element that starts the scan (t = 0 forward,
/// t = T-1 reverse) is start-anchored (Kalman: A = J = eta = 0), as in the solvers.
template <class Op>
Problem<Op> make_problem(int B, int T, int D, std::uint64_t seed, Direction anchor_dir) {
  using S = typename Op::value_type;
  const Op op{D};
  Problem<Op> p{B, T, D, op.element_size(), op.state_size(), {}, {}};
  Rng rng(seed);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const bool anchored = anchor_dir == Direction::Forward ? t == 0 : t == T - 1;
      const auto e = ElementTraits<Op>::random(D, rng, anchored, 0.9);
      p.elements.insert(p.elements.end(), e.begin(), e.end());
    }
  for (auto& v : p.elements) v = double(S(v));
  p.dev = make_view3<S>("elements", B, T, p.es, p.elements);
  return p;
}

/// The reference: advance from the identity's state through t = 0..T-1 (forward) or
/// T-1..0 (reverse), in double precision.  Returns (B, T, ss) states indexed by time.
template <class Op>
std::vector<double> sequential_fold(const Problem<Op>& p, Direction dir) {
  using OpD = typename AsDouble<Op>::type;
  const OpD op{p.D};
  std::vector<double> id(p.es), state(p.ss), scratch(op.scratch_size() + 1);
  std::vector<double> out(std::size_t(p.B) * p.T * p.ss);
  for (int b = 0; b < p.B; ++b) {
    op.set_identity(id.data());
    op.state_of(id.data(), state.data());
    for (int k = 0; k < p.T; ++k) {
      const int t = dir == Direction::Forward ? k : p.T - 1 - k;
      op.advance(state.data(), &p.elements[(std::size_t(b) * p.T + t) * p.es], scratch.data());
      std::copy(state.begin(), state.end(), out.begin() + (std::size_t(b) * p.T + t) * p.ss);
    }
  }
  return out;
}

template <class S>
double scan_tol() {
  return sizeof(S) == 4 ? 2e-5 : 1e-12;
}

struct ScanRun {
  std::vector<double> states;
  double reduce_max = 0, finish_max = 0;
  int chunks = 0;
};

template <class Op>
ScanRun run_engine(const Problem<Op>& p, int chunks, Direction dir, int gen_scratch = 3) {
  using S = typename Op::value_type;
  ungulate::scan::ChunkedScan<Op> scan(Op{p.D}, p.B, p.T, chunks, gen_scratch);
  View3<S> out("states", p.B, p.T, p.ss);
  const ReadElements<S> gen{p.dev, 0, gen_scratch};
  ScanRun r;
  r.reduce_max = double(scan.reduce_chunks(gen, dir));
  scan.scan_chunks();
  r.finish_max = double(scan.finish(gen, WriteStates<S>{out, 0}, dir));
  r.states = to_vector(out);
  r.chunks = scan.chunks();
  return r;
}

template <class Op>
class ChunkedScanTest : public ::testing::Test {};
TYPED_TEST_SUITE(ChunkedScanTest, ElementTypes, ElementNames);

int dim_for(Kind k) {
  return (k == Kind::AffineDense || k == Kind::KalmanDense) ? 3 : 2;
}

TYPED_TEST(ChunkedScanTest, MatchesSequentialFold) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind);
  for (Direction dir : {Direction::Forward, Direction::Reverse})
    for (int T : {1, 2, 7, 100, 1000})
      for (int B : {1, 4}) {
        const auto p = make_problem<Op>(B, T, D, 1000 * T + 10 * B + int(dir), dir);
        const auto ref = sequential_fold(p, dir);
        ASSERT_TRUE(all_finite(ref));
        double ref_e0 = 0, ref_s0 = 0;  // what the generator and the sink report
        for (int b = 0; b < B; ++b)
          for (int t = 0; t < T; ++t) {
            ref_e0 = std::max(ref_e0, std::abs(p.elements[(std::size_t(b) * T + t) * p.es]));
            ref_s0 = std::max(ref_s0, std::abs(ref[(std::size_t(b) * T + t) * p.ss]));
          }
        for (int C : {1, 3, 16, 64}) {
          const auto r = run_engine(p, C, dir);
          const std::string where = std::string(dir == Direction::Forward ? "forward" : "reverse") +
                                    " T=" + std::to_string(T) + " B=" + std::to_string(B) +
                                    " chunks=" + std::to_string(C);
          EXPECT_EQ(r.chunks, std::min(C, T)) << where;
          EXPECT_LT(scaled_diff(r.states, ref), scan_tol<S>()) << where;
          EXPECT_EQ(r.reduce_max, ref_e0) << where;
          EXPECT_NEAR(r.finish_max, ref_s0, scan_tol<S>() * (1 + ref_s0)) << where;
        }
      }
}

// Every sequence of the batch is scanned on its own: permuting the batch permutes the result.
TYPED_TEST(ChunkedScanTest, BatchEntriesAreIndependent) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind), B = 4, T = 50;
  auto p = make_problem<Op>(B, T, D, 4242, Direction::Forward);
  const auto r = run_engine(p, 5, Direction::Forward);
  // Reverse the batch order and rescan.
  auto q = p;
  const std::size_t row = std::size_t(T) * p.es;
  for (int b = 0; b < B; ++b)
    std::copy(p.elements.begin() + (B - 1 - b) * row, p.elements.begin() + (B - b) * row,
              q.elements.begin() + b * row);
  q.dev = make_view3<S>("elements", B, T, q.es, q.elements);
  const auto rq = run_engine(q, 5, Direction::Forward);
  const std::size_t srow = std::size_t(T) * p.ss;
  for (int b = 0; b < B; ++b) {
    const std::vector<double> a(r.states.begin() + b * srow, r.states.begin() + (b + 1) * srow);
    const std::vector<double> c(rq.states.begin() + (B - 1 - b) * srow,
                                rq.states.begin() + (B - b) * srow);
    EXPECT_EQ(max_abs_diff(a, c), 0.0) << "batch entry " << b;
  }
}

// An empty sequence: nothing is visited, the reductions report 0 and nothing is written.
TYPED_TEST(ChunkedScanTest, EmptySequence) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind);
  const Op op{D};
  View3<S> none("none", 2, 0, op.element_size());
  View3<S> out("out", 2, 0, op.state_size());
  ungulate::scan::ChunkedScan<Op> scan(op, 2, 0, 16, 0);
  EXPECT_EQ(double(scan.reduce_chunks(ReadElements<S>{none, 0, 0}, Direction::Forward)), 0.0);
  scan.scan_chunks();
  EXPECT_EQ(
      double(scan.finish(ReadElements<S>{none, 0, 0}, WriteStates<S>{out, 0}, Direction::Forward)),
      0.0);
}

/// Runs one slice [t0, t1) of p as its own ChunkedScan, with an optional carry-in, and
/// returns its slice aggregate (taken before scan_chunks); the states go to `out`.
template <class Op>
View2<typename Op::value_type> run_slice(const Problem<Op>& p, int t0, int t1, int chunks,
                                         Direction dir,
                                         const View2<typename Op::value_type>& carry_in,
                                         const View3<typename Op::value_type>& out) {
  using S = typename Op::value_type;
  ungulate::scan::ChunkedScan<Op> scan(Op{p.D}, p.B, t1 - t0, chunks, 2);
  const ReadElements<S> gen{p.dev, t0, 2};
  scan.reduce_chunks(gen, dir);
  View2<S> aggregate("aggregate", p.B, p.es);
  scan.slice_aggregates(aggregate);
  scan.scan_chunks(carry_in);
  scan.finish(gen, WriteStates<S>{out, t0}, dir);
  return aggregate;
}

/// Host combine of two (B, es) aggregate buffers with the element type's own combine.
template <class Op>
View2<typename Op::value_type> combine_aggregates(int D, const View2<typename Op::value_type>& a,
                                                  const View2<typename Op::value_type>& b) {
  using S = typename Op::value_type;
  const Op op{D};
  auto ha = to_host(a), hb = to_host(b);
  View2<S> out("combined", a.extent(0), a.extent(1));
  auto ho = Kokkos::create_mirror_view(out);
  std::vector<S> scratch(op.scratch_size() + 1);
  for (std::size_t r = 0; r < a.extent(0); ++r)
    op.combine(&ha(r, 0), &hb(r, 0), &ho(r, 0), scratch.data());
  Kokkos::deep_copy(out, ho);
  return out;
}

TYPED_TEST(ChunkedScanTest, CrossSliceCarryMatchesSingleScan) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind), B = 3, T = 1000;
  for (Direction dir : {Direction::Forward, Direction::Reverse}) {
    const auto p = make_problem<Op>(B, T, D, 77 + int(dir), dir);
    const auto whole = run_engine(p, 16, dir).states;
    const auto ref = sequential_fold(p, dir);
    ASSERT_LT(scaled_diff(whole, ref), scan_tol<S>());
    for (int split : {1, 333, 500, 999}) {
      View3<S> out("out", B, T, p.ss);
      // Slices in scan order: forward [0, split) then [split, T); reverse the other way.
      if (dir == Direction::Forward) {
        const auto agg = run_slice(p, 0, split, 3, dir, View2<S>(), out);
        run_slice(p, split, T, 16, dir, agg, out);
      } else {
        const auto agg = run_slice(p, split, T, 3, dir, View2<S>(), out);
        run_slice(p, 0, split, 16, dir, agg, out);
      }
      const auto got = to_vector(out);
      EXPECT_LT(scaled_diff(got, whole), scan_tol<S>())
          << (dir == Direction::Forward ? "forward" : "reverse") << " split=" << split;
      EXPECT_LT(scaled_diff(got, ref), scan_tol<S>());
    }
    // Three slices, carry-ins as an exclusive scan of the slice aggregates (what an
    // MPI_Exscan with the element's combine produces).
    const int a = 250, c = 700;
    View3<S> out("out", B, T, p.ss);
    if (dir == Direction::Forward) {
      const auto agg1 = run_slice(p, 0, a, 4, dir, View2<S>(), out);
      const auto agg2 = run_slice(p, a, c, 7, dir, agg1, out);
      run_slice(p, c, T, 64, dir, combine_aggregates<Op>(D, agg1, agg2), out);
    } else {
      const auto agg3 = run_slice(p, c, T, 4, dir, View2<S>(), out);
      const auto agg2 = run_slice(p, a, c, 7, dir, agg3, out);
      run_slice(p, 0, a, 64, dir, combine_aggregates<Op>(D, agg3, agg2), out);
    }
    EXPECT_LT(scaled_diff(to_vector(out), ref), scan_tol<S>())
        << (dir == Direction::Forward ? "forward" : "reverse") << " three slices";
  }
}

// A slice aggregate is the fold of the whole slice: its state is the slice's last state.
TYPED_TEST(ChunkedScanTest, SliceAggregateIsTheFoldOfTheSlice) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind), B = 2;
  const Op op{D};
  for (int T : {1, 5, 100})
    for (int C : {1, 4, 200}) {
      const auto p = make_problem<Op>(B, T, D, 5 * T + C, Direction::Forward);
      View3<S> out("out", B, T, p.ss);
      const auto agg = to_host(run_slice(p, 0, T, C, Direction::Forward, View2<S>(), out));
      const auto ref = sequential_fold(p, Direction::Forward);
      for (int b = 0; b < B; ++b) {
        std::vector<S> st(p.ss);
        op.state_of(&agg(b, 0), st.data());
        const std::vector<double> got(st.begin(), st.end());
        const std::vector<double> last(ref.begin() + (std::size_t(b) * T + T - 1) * p.ss,
                                       ref.begin() + (std::size_t(b) * T + T) * p.ss);
        EXPECT_LT(scaled_diff(got, last), scan_tol<S>()) << "T=" << T << " chunks=" << C;
      }
    }
}

// ---- grouped generators and the fused finish + reduce pass ------------------------------

/// ReadElements that also offers steps in groups of G (scan engine groups); counts its group
/// calls so that a test can tell which path ran.
template <class S, int G>
struct ReadElementGroups : ReadElements<S> {
  static constexpr int group_size = G;
  Kokkos::View<int> group_calls;
  KOKKOS_INLINE_FUNCTION void group(int b, int t, S* out, S* gscratch, S& max_value) const {
    const int es = int(this->elements.extent(2));
    for (int p = 0; p < G; ++p)  // each step's scratch is its own
      (*this)(b, t + p, out + p * es, gscratch + p * this->scratch, max_value);
    Kokkos::atomic_increment(&group_calls());
  }
};

template <class Op, int G>
ReadElementGroups<typename Op::value_type, G> grouped_reader(const Problem<Op>& p, int scratch) {
  ReadElementGroups<typename Op::value_type, G> gen;
  gen.elements = p.dev;
  gen.scratch = scratch;
  gen.group_calls = Kokkos::View<int>("group_calls");
  return gen;
}

int count(const Kokkos::View<int>& v) {
  int n = 0;
  Kokkos::deep_copy(n, v);
  return n;
}

// A grouped generator gives the same scan as step by step: in the engine's forward passes
// when the engine's group allows it, step by step otherwise (reverse, or a smaller group).
TYPED_TEST(ChunkedScanTest, GroupedGeneratorMatchesSequentialFold) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind);
  for (Direction dir : {Direction::Forward, Direction::Reverse})
    for (int T : {1, 2, 7, 100})
      for (int engine_group : {1, 3, 4}) {
        const auto p = make_problem<Op>(2, T, D, 31 * T + engine_group, dir);
        const auto ref = sequential_fold(p, dir);
        for (int C : {1, 3, 16}) {
          ungulate::scan::ChunkedScan<Op> scan(Op{p.D}, p.B, p.T, C, 2, engine_group);
          const auto gen = grouped_reader<Op, 3>(p, 2);
          View3<S> out("states", p.B, p.T, p.ss);
          scan.reduce_chunks(gen, dir);
          scan.scan_chunks();
          scan.finish(gen, WriteStates<S>{out, 0}, dir);
          const std::string where = " T=" + std::to_string(T) + " C=" + std::to_string(C) +
                                    " group=" + std::to_string(engine_group);
          EXPECT_LT(scaled_diff(to_vector(out), ref), scan_tol<S>()) << where;
          const bool grouped = engine_group >= 3 && dir == Direction::Forward;
          const int longest_chunk = scan.layout().chunk_length;
          if (!grouped || longest_chunk < 1 + 3) {  // the first step goes alone
            EXPECT_EQ(count(gen.group_calls), 0) << where;
          } else {
            EXPECT_GT(count(gen.group_calls), 0) << where;
          }
        }
      }
}

// finish_and_reduce + prepend_chunk_heads: the states of one scan and, in the same sweep,
// the aggregates of the next, which then scans to its own sequential fold.  Both scans use
// different elements, so a mixed-up order or a missing or doubled chunk head shows.
TYPED_TEST(ChunkedScanTest, FusedFinishAndReduceMatchesTwoScans) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind);
  for (int T : {1, 2, 5, 7, 100, 301})
    for (int B : {1, 3})
      for (int C : {1, 3, 16, 64}) {
        const auto first = make_problem<Op>(B, T, D, 7 * T + B, Direction::Forward);
        const auto second = make_problem<Op>(B, T, D, 7 * T + B + 1000, Direction::Forward);
        const auto ref1 = sequential_fold(first, Direction::Forward);
        const auto ref2 = sequential_fold(second, Direction::Forward);
        double ref_e0 = 0;  // what the second generator reports over every step
        for (int k = 0; k < B * T; ++k)
          ref_e0 = std::max(ref_e0, std::abs(second.elements[std::size_t(k) * second.es]));
        for (bool grouped : {false, true}) {
          const std::string where = "T=" + std::to_string(T) + " B=" + std::to_string(B) +
                                    " C=" + std::to_string(C) + (grouped ? " grouped" : "");
          ungulate::scan::ChunkedScan<Op> scan(Op{D}, B, T, C, 2, grouped ? 4 : 1);
          const ReadElements<S> gen1{first.dev, 0, 2};
          const auto gen2 = grouped_reader<Op, 4>(second, 2);
          View3<S> out1("out1", B, T, first.ss), out2("out2", B, T, second.ss);
          scan.reduce_chunks(gen1, Direction::Forward);
          scan.scan_chunks();
          const auto [sunk, generated] =
              scan.finish_and_reduce(gen1, WriteStates<S>{out1, 0}, gen2);
          const double heads = double(scan.prepend_chunk_heads(gen2));
          EXPECT_LT(scaled_diff(to_vector(out1), ref1), scan_tol<S>()) << where;
          EXPECT_EQ(std::max(double(generated), heads), ref_e0) << where;
          EXPECT_GE(double(sunk), 0.0);
          scan.scan_chunks();
          scan.finish(gen2, WriteStates<S>{out2, 0}, Direction::Forward);
          EXPECT_LT(scaled_diff(to_vector(out2), ref2), scan_tol<S>()) << where;
          if (!grouped) {
            EXPECT_EQ(count(gen2.group_calls), 0) << where;
          } else if (T / scan.chunks() >= 5) {
            EXPECT_GT(count(gen2.group_calls), 0) << where;
          }
        }
      }
}

/// A replay that offers its elements in place at odd steps (null at even ones: copied).
template <class S>
struct ReadElementsInPlace : ReadElements<S> {
  KOKKOS_INLINE_FUNCTION const S* element_in_place(int b, int t) const {
    return t % 2 == 1 ? &this->elements(b, this->offset + t, 0) : nullptr;
  }
};

/// WriteStates split into write and report; counts the reports of every step in `reports`
/// (B, T), and reports max |state[0]| of the steps as written.
template <class S>
struct WriteStatesSplit {
  using Scalar = S;
  View3<S> states;  // (B, T, ss)
  Kokkos::View<int**> reports;
  KOKKOS_INLINE_FUNCTION void write(int b, int t, const S* state) const {
    for (int i = 0; i < int(states.extent(2)); ++i) states(b, t, i) = state[i];
  }
  KOKKOS_INLINE_FUNCTION void report(int b, int t, int count, S& max_value) const {
    for (int p = 0; p < count; ++p) {
      Kokkos::atomic_increment(&reports(b, t + p));
      const S v = states(b, t + p, 0), a = v < S(0) ? -v : v;
      if (a > max_value) max_value = a;
    }
  }
  // Never called by finish_and_reduce when write/report exist.
  KOKKOS_INLINE_FUNCTION void operator()(int, int, const S*, S& max_value) const {
    max_value = std::numeric_limits<S>::quiet_NaN();
  }
};

// finish_and_reduce with a replay's elements read in place and a split sink: the same states,
// every step reported exactly once (after it is written), grouped or not.
TYPED_TEST(ChunkedScanTest, FusedFinishWithElementsInPlaceAndSplitSink) {
  using Op = TypeParam;
  using S = typename Op::value_type;
  const int D = dim_for(ElementTraits<Op>::kind);
  for (int T : {1, 2, 5, 7, 100, 301})
    for (int B : {1, 3})
      for (int C : {1, 3, 16, 64})
        for (bool grouped : {false, true}) {
          const std::string where = "T=" + std::to_string(T) + " B=" + std::to_string(B) +
                                    " C=" + std::to_string(C) + (grouped ? " grouped" : "");
          const auto first = make_problem<Op>(B, T, D, 11 * T + B, Direction::Forward);
          const auto second = make_problem<Op>(B, T, D, 11 * T + B + 500, Direction::Forward);
          const auto ref = sequential_fold(first, Direction::Forward);
          ungulate::scan::ChunkedScan<Op> scan(Op{D}, B, T, C, 2, grouped ? 4 : 1);
          ReadElementsInPlace<S> replay;
          replay.elements = first.dev;
          replay.scratch = 2;
          const auto next = grouped_reader<Op, 4>(second, 2);
          View3<S> out("out", B, T, first.ss);
          Kokkos::View<int**> reports("reports", B, T);
          scan.reduce_chunks(ReadElements<S>{first.dev, 0, 2}, Direction::Forward);
          scan.scan_chunks();
          const S sunk =
              scan.finish_and_reduce(replay, WriteStatesSplit<S>{out, reports}, next).first;
          const auto states = to_vector(out);
          EXPECT_LT(scaled_diff(states, ref), scan_tol<S>()) << where;
          double max_state0 = 0;
          for (int k = 0; k < B * T; ++k)
            max_state0 = std::max(max_state0, std::abs(states[std::size_t(k) * first.ss]));
          EXPECT_EQ(double(sunk), max_state0) << where;
          const auto counts = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), reports);
          int wrong = 0;
          for (int b = 0; b < B; ++b)
            for (int t = 0; t < T; ++t) wrong += counts(b, t) != 1;
          EXPECT_EQ(wrong, 0) << where;
        }
}

// ---- chunk layout -------------------------------------------------------------------------

TEST(ChunkLayout, CoversTheSequenceContiguously) {
  for (int T : {1, 2, 3, 7, 9, 10, 100, 1001})
    for (int C : {-3, 0, 1, 2, 3, 4, 6, 16, 64, 5000}) {
      const ungulate::scan::ChunkLayout L(T, C);
      EXPECT_GE(L.chunks, 1);
      EXPECT_LE(L.chunks, T);
      EXPECT_EQ(L.chunks, std::min(std::max(C, 1), T)) << "T=" << T << " C=" << C;
      EXPECT_EQ(L.begin(0), 0);
      EXPECT_EQ(L.end(L.chunks - 1), T) << "T=" << T << " C=" << C;
      for (int c = 0; c + 1 < L.chunks; ++c) {
        EXPECT_EQ(L.end(c), L.begin(c + 1));
        EXPECT_LE(L.begin(c), L.end(c));
      }
    }
}

// chunk_layout.hpp documents chunks in [1, max(T, 1)] and ChunkedScan "an empty sequence
// still gets one empty chunk".
TEST(ChunkLayout, EmptySequenceGetsOneChunk) {
  EXPECT_EQ(ungulate::scan::ChunkLayout(0, 16).chunks, 1);
  ungulate::scan::ChunkedScan<ungulate::scan::AffineDiagonal<double>> scan({1}, 1, 0, 16, 0);
  EXPECT_EQ(scan.chunks(), 1);
}

TEST(ChunkLayout, DefaultChunksAreSane) {
  for (int B : {1, 4, 16})
    for (int T : {0, 1, 31, 32, 100, 100000}) {
      const int c = ungulate::scan::default_chunks<ungulate::DefaultExecutionSpace>(B, T);
      EXPECT_GE(c, 1);
      EXPECT_LE(c, std::max(T, 1));
    }
}

}  // namespace
