#pragma once
// Time decomposition over MPI ranks: rank r owns a contiguous slice of every sequence
// (the first T mod P ranks one step more; with T < P the last ranks own nothing and simply
// take part in the collectives).  This is the only place where solvers meet MPI.
//
// Cross-rank scan: each rank folds its slice into one aggregate per sequence, the P small
// aggregates are all-gathered, and each rank folds those of the ranks before it (in scan
// direction, operand order kept) into its carry-in.  Communication per scan: P * B * E
// scalars received per rank (E = element size: 2D affine-diagonal, D^2 + D dense, 5D or
// 3D^2 + 2D Kalman), independent of T.  Per Newton iteration add one halo of B * D scalars
// from the left neighbour and two scalar max-reductions.
#include <mpi.h>

#include <Kokkos_Core.hpp>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ungulate/core/types.hpp"

namespace ungulate::dist {

namespace detail {
template <class T>
MPI_Datatype mpi_type() {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value,
                "MPI decomposition supports float and double");
  return std::is_same<T, float>::value ? MPI_FLOAT : MPI_DOUBLE;
}

inline void check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw std::runtime_error(std::string("MPI call failed: ") + what);
}
}  // namespace detail

class MpiTimeDecomposition {
 public:
  /// Splits `global_length` steps over the ranks of `comm` (which must outlive this object).
  MpiTimeDecomposition(MPI_Comm comm, long long global_length)
      : comm_(comm), global_length_(global_length) {
    if (global_length < 0) throw std::invalid_argument("MpiTimeDecomposition: negative length");
    detail::check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
    const long long base = global_length / size_, extra = global_length % size_;
    local_length_ = base + (rank_ < extra ? 1 : 0);
    first_step_ = rank_ * base + (rank_ < extra ? rank_ : extra);
  }

  /// The caller's own slices (collective over comm): this rank owns `local_length` steps,
  /// following the slices of the lower ranks (first_step = their sum, global length = the sum
  /// over all ranks, both from one MPI_Allgather).  Empty slices must come last, as in the
  /// even split: an empty slice between non-empty ones would break the halo chain.  Throws
  /// std::invalid_argument, on every rank alike, otherwise.
  static MpiTimeDecomposition from_local_length(MPI_Comm comm, long long local_length) {
    int rank = 0, size = 1;
    detail::check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
    std::vector<long long> lengths(std::size_t(size), 0);
    detail::check(
        MPI_Allgather(&local_length, 1, MPI_LONG_LONG, lengths.data(), 1, MPI_LONG_LONG, comm),
        "MPI_Allgather (slice lengths)");
    long long total = 0, first = 0;
    bool empty_seen = false;
    for (int r = 0; r < size; ++r) {
      const long long n = lengths[std::size_t(r)];
      if (n < 0)
        throw std::invalid_argument("MpiTimeDecomposition: rank " + std::to_string(r) +
                                    " has a negative slice length");
      if (n > 0 && empty_seen)
        throw std::invalid_argument("MpiTimeDecomposition: rank " + std::to_string(r) +
                                    " has steps after an empty slice (empty slices must "
                                    "come last)");
      empty_seen = empty_seen || n == 0;
      if (r == rank) first = total;
      total += n;
    }
    MpiTimeDecomposition d(comm, 0);
    d.global_length_ = total;
    d.local_length_ = local_length;
    d.first_step_ = first;
    return d;
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm communicator() const { return comm_; }
  long long local_length() const { return local_length_; }
  long long first_step() const { return first_step_; }
  long long global_length(long long /*local*/ = 0) const { return global_length_; }
  bool starts_sequence() const { return first_step_ == 0; }
  bool ends_sequence() const { return first_step_ + local_length_ == global_length_; }

  template <class Scan>
  void carry_in(Scan& scan, Direction direction) const {
    using Scalar = typename Scan::Scalar;
    const auto op = scan.op();
    const int B = scan.batch(), E = op.element_size();
    typename Scan::SliceBuffer aggregate(
        Kokkos::view_alloc("ungulate::slice_aggregate", Kokkos::WithoutInitializing), B, E);
    scan.slice_aggregates(aggregate);
    auto mine = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), aggregate);
    std::vector<Scalar> all(std::size_t(size_) * B * E);
    detail::check(MPI_Allgather(mine.data(), B * E, detail::mpi_type<Scalar>(), all.data(), B * E,
                                detail::mpi_type<Scalar>(), comm_),
                  "MPI_Allgather");
    const bool forward = direction == Direction::Forward;
    const int before = forward ? rank_ : size_ - 1 - rank_;  // slices preceding this one
    if (before == 0) {
      scan.scan_chunks();
      return;
    }
    // carry = fold of the preceding slices' aggregates, in scan order.
    auto carry = Kokkos::create_mirror_view(aggregate);
    std::vector<Scalar> acc(E), next(E), scratch(op.scratch_size() + 1);
    for (int b = 0; b < B; ++b) {
      op.set_identity(acc.data());
      for (int k = 0; k < before; ++k) {
        const int q = forward ? k : size_ - 1 - k;
        op.combine(acc.data(), &all[(std::size_t(q) * B + b) * E], next.data(), scratch.data());
        acc.swap(next);
      }
      for (int i = 0; i < E; ++i) carry(b, i) = acc[i];
    }
    Kokkos::deep_copy(aggregate, carry);
    scan.scan_chunks(aggregate);
  }

  /// previous <- the left neighbour's last state (s0 on the first rank).
  template <class Iterate, class Boundary, class Initial>
  void exchange_halo(const Iterate& iterate, const Boundary& previous, const Initial& s0) const {
    auto send = last_state(iterate, previous);
    auto recv = Kokkos::create_mirror_view(previous);
    using Scalar = typename Boundary::non_const_value_type;
    const int count = int(previous.size());
    detail::check(
        MPI_Sendrecv(send.data(), count, detail::mpi_type<Scalar>(), right(), 0, recv.data(), count,
                     detail::mpi_type<Scalar>(), left(), 0, comm_, MPI_STATUS_IGNORE),
        "MPI_Sendrecv (halo)");
    if (rank_ == 0)
      Kokkos::deep_copy(previous, s0);
    else
      Kokkos::deep_copy(previous, recv);
  }

  /// next (B, I) <- the right neighbour's first input (unchanged on the last rank).
  template <class Inputs, class Next>
  void exchange_next_input(const Inputs& inputs, const Next& next) const {
    using Scalar = typename Next::non_const_value_type;
    const int B = int(next.extent(0)), I = int(next.extent(1));
    Kokkos::View<Scalar**, Kokkos::LayoutRight, typename Next::memory_space> first(
        "ungulate::first_input", B, I);
    if (local_length_ > 0) copy_step(inputs, 0, first);
    auto send = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), first);
    auto recv = Kokkos::create_mirror_view(next);
    detail::check(
        MPI_Sendrecv(send.data(), B * I, detail::mpi_type<Scalar>(), left(), 1, recv.data(), B * I,
                     detail::mpi_type<Scalar>(), right(), 1, comm_, MPI_STATUS_IGNORE),
        "MPI_Sendrecv (next input)");
    if (right() != MPI_PROC_NULL) Kokkos::deep_copy(next, recv);
  }

  /// Sequential hand-over: rows [first, first + count) (count < 0: to the end) of previous
  /// <- the left neighbour's last states (s0's on the first rank).
  template <class Boundary, class Initial>
  void receive_previous(const Boundary& previous, const Initial& s0, int first = 0,
                        int count = -1) const {
    if (count < 0) count = int(previous.extent(0)) - first;
    const auto rows = std::make_pair(first, first + count);
    const auto mine = Kokkos::subview(previous, rows, Kokkos::ALL);
    if (rank_ == 0) {
      Kokkos::deep_copy(mine, Kokkos::subview(s0, rows, Kokkos::ALL));
      return;
    }
    if (count == 0) return;
    using Scalar = typename Boundary::non_const_value_type;
    auto recv = Kokkos::create_mirror_view(mine);
    detail::check(MPI_Recv(recv.data(), int(mine.size()), detail::mpi_type<Scalar>(), left(), 2,
                           comm_, MPI_STATUS_IGNORE),
                  "MPI_Recv (sequential hand-over)");
    Kokkos::deep_copy(mine, recv);
  }
  /// Sequential hand-over: rows [first, first + count) of the last states (previous' on an
  /// empty slice) to the right neighbour.
  template <class States, class Boundary>
  void send_last(const States& states, const Boundary& previous, int first = 0,
                 int count = -1) const {
    if (count < 0) count = int(previous.extent(0)) - first;
    if (right() == MPI_PROC_NULL || count == 0) return;
    using Scalar = typename Boundary::non_const_value_type;
    const auto last = last_state(states, previous);
    const int D = int(previous.extent(1));
    detail::check(
        MPI_Send(&last(first, 0), count * D, detail::mpi_type<Scalar>(), right(), 2, comm_),
        "MPI_Send (sequential hand-over)");
  }

  /// Reverse hand-over (the gradient's pipelined sweep): rows [first, first + count) of the
  /// (B, D) carry from the right neighbour; left alone on the last rank.
  template <class Carry>
  void receive_from_next(const Carry& carry, int first, int count) const {
    if (right() == MPI_PROC_NULL || count <= 0) return;
    using Scalar = typename Carry::non_const_value_type;
    const auto rows = Kokkos::subview(carry, std::make_pair(first, first + count), Kokkos::ALL);
    auto recv = Kokkos::create_mirror_view(rows);
    detail::check(MPI_Recv(recv.data(), int(rows.size()), detail::mpi_type<Scalar>(), right(), 3,
                           comm_, MPI_STATUS_IGNORE),
                  "MPI_Recv (reverse hand-over)");
    Kokkos::deep_copy(rows, recv);
  }
  /// Reverse hand-over: rows [first, first + count) of the carry to the left neighbour.
  template <class Carry>
  void send_to_previous(const Carry& carry, int first, int count) const {
    if (left() == MPI_PROC_NULL || count <= 0) return;
    using Scalar = typename Carry::non_const_value_type;
    const auto rows = Kokkos::subview(carry, std::make_pair(first, first + count), Kokkos::ALL);
    const auto send = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rows);
    detail::check(
        MPI_Send(send.data(), int(rows.size()), detail::mpi_type<Scalar>(), left(), 3, comm_),
        "MPI_Send (reverse hand-over)");
  }

  double max_all(double x) const {
    double out = x;
    detail::check(MPI_Allreduce(&x, &out, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
    return out;
  }
  void max_all(std::vector<double>& values) const { reduce_all(values, MPI_MAX); }
  void sum_all(std::vector<double>& values) const { reduce_all(values, MPI_SUM); }

 private:
  void reduce_all(std::vector<double>& values, MPI_Op op) const {
    detail::check(
        MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, op, comm_),
        "MPI_Allreduce");
  }
  int left() const { return rank_ == 0 ? MPI_PROC_NULL : rank_ - 1; }
  int right() const { return rank_ == size_ - 1 ? MPI_PROC_NULL : rank_ + 1; }

  // Host copy of states(:, local_length - 1, :), or of `previous` for an empty slice (so
  // that a chain through empty ranks forwards the state unchanged).
  template <class States, class Boundary>
  auto last_state(const States& states, const Boundary& previous) const {
    using Scalar = typename Boundary::non_const_value_type;
    Kokkos::View<Scalar**, Kokkos::LayoutRight, typename Boundary::memory_space> last(
        "ungulate::last_state", previous.extent(0), previous.extent(1));
    if (local_length_ > 0)
      copy_step(states, int(local_length_ - 1), last);
    else
      Kokkos::deep_copy(last, previous);
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), last);
  }

  template <class Src, class Dst>
  static void copy_step(const Src& src, int t, const Dst& dst) {
    using Exec = typename Dst::execution_space;
    const int n = int(dst.extent(1));
    Kokkos::parallel_for(
        "ungulate::copy_step", Kokkos::RangePolicy<Exec>(0, dst.extent(0)),
        KOKKOS_LAMBDA(const int b) {
          for (int i = 0; i < n; ++i) dst(b, i) = src(b, t, i);
        });
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  long long global_length_ = 0, local_length_ = 0, first_step_ = 0;
};

}  // namespace ungulate::dist
