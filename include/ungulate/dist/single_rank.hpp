#pragma once
// The decomposition of a sequence over processes, as solvers see it.  Each process owns the
// contiguous time slice [first_step, first_step + local_length) of every sequence.  A
// decomposition provides:
//   size()                                number of processes sharing the sequence
//   global_length(local)                  T of the whole sequence
//   first_step()                          global index of the slice's first step
//   starts_sequence(), ends_sequence()    does this slice hold step 0 / step T-1?
//   carry_in(scan, direction)             completes pass 2 of a ChunkedScan, including the
//                                         prefix of every slice before this one in
//                                         `direction` (the cross-process scan level)
//   exchange_halo(iterate, previous, s0)  previous (B, D) <- the state before the slice
//   exchange_next_input(inputs, next)     next (B, I) <- input of the step after the slice
//   receive_previous(previous, s0[, first, count]), send_last(states, previous[, first, count])
//                                         the sequential baseline's hand-over (of the
//                                         sequences [first, first + count): a pipeline)
//   receive_from_next(carry, first, count), send_to_previous(carry, first, count)
//                                         the reverse hand-over of rows [first, first+count)
//                                         of a (B, D) carry (the gradient's pipelined sweep)
//   max_all(x)                            global max (host double)
//   max_all(values), sum_all(values)      element-wise global max / sum of a host vector
// SingleRank is the trivial decomposition: the whole sequence lives in this process and no
// communication happens.
#include <Kokkos_Core.hpp>

#include <utility>
#include <vector>

#include "ungulate/core/types.hpp"

namespace ungulate::dist {

struct SingleRank {
  int size() const { return 1; }
  long long global_length(long long local) const { return local; }
  long long first_step() const { return 0; }
  bool starts_sequence() const { return true; }
  bool ends_sequence() const { return true; }

  template <class Scan>
  void carry_in(Scan& scan, Direction /*direction*/) const {
    scan.scan_chunks();
  }

  template <class Iterate, class Boundary, class Initial>
  void exchange_halo(const Iterate& /*iterate*/, const Boundary& previous,
                     const Initial& s0) const {
    if (previous.data() != s0.data()) Kokkos::deep_copy(previous, s0);
  }

  template <class Inputs, class Next>
  void exchange_next_input(const Inputs& /*inputs*/, const Next& /*next*/) const {}

  template <class Boundary, class Initial>
  void receive_previous(const Boundary& previous, const Initial& s0, int first = 0,
                        int count = -1) const {
    if (previous.data() == s0.data()) return;
    if (count < 0) count = int(previous.extent(0)) - first;
    const auto rows = std::make_pair(first, first + count);
    Kokkos::deep_copy(Kokkos::subview(previous, rows, Kokkos::ALL),
                      Kokkos::subview(s0, rows, Kokkos::ALL));
  }
  template <class States, class Boundary>
  void send_last(const States& /*states*/, const Boundary& /*previous*/, int /*first*/ = 0,
                 int /*count*/ = -1) const {}

  template <class Carry>
  void receive_from_next(const Carry& /*carry*/, int /*first*/, int /*count*/) const {}
  template <class Carry>
  void send_to_previous(const Carry& /*carry*/, int /*first*/, int /*count*/) const {}

  double max_all(double x) const { return x; }
  void max_all(std::vector<double>& /*values*/) const {}
  void sum_all(std::vector<double>& /*values*/) const {}
};

}  // namespace ungulate::dist
