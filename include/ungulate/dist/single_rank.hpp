#pragma once
// The decomposition of a sequence over processes, seen from a solver.  A decomposition
// provides:
//   starts_sequence(), ends_sequence()     does this slice hold step 0 / step T-1?
//   carry_in(scan, direction)              completes pass 2 of a ChunkedScan, including any
//                                          cross-process prefix
//   exchange_halo(iterate, previous, s0)   fills `previous` (B, D) with the state before the
//                                          slice's first step
//   max_all(x)                             global max reduction (host value)
// SingleRank is the trivial one: the whole sequence lives here.
#include <Kokkos_Core.hpp>

#include "ungulate/core/types.hpp"

namespace ungulate::dist {

struct SingleRank {
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

  double max_all(double x) const { return x; }
};

}  // namespace ungulate::dist
