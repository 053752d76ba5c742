#pragma once
// The large arrays of an iterative solve, kept across solves.
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "ungulate/core/types.hpp"

namespace ungulate {

/// Where a solve keeps its (B, T, width) arrays: the next iterate, the stored linearisations
/// (host backends, diagonal Jacobians) and the Kalman smoother's filtered covariances.
///
/// A solve without a Workspace allocates them and frees them on return.  Passing the same
/// Workspace to successive solves (an embedding code's time loop, training, a benchmark)
/// allocates them once: later solves of the same or smaller size allocate nothing large and
/// write into memory the process has already touched (307 MB at B 16, T 1e5, GRU 16; its
/// first touch cost a cold 2-thread quasi-DEER solve ~0.1 s on the benchmark VM).
///
/// Buffers grow to the largest request and are kept until release() or destruction.  One
/// solve at a time may use a Workspace; its contents between solves mean nothing.
template <class Scalar, class ExecSpace = DefaultExecutionSpace>
class Workspace {
 public:
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;
  /// Arrays handed out are unmanaged views into the kept buffers.
  using Array = Kokkos::View<Scalar***, Kokkos::LayoutRight, memory_space>;

  enum class Role : int { NextIterate, Linearisation, FilteredCovariance };

  /// A (B, T, width) array for `role`, contents undefined.  It stays valid until the next
  /// request for the same role, release() or the Workspace's end.
  Array array(Role role, std::size_t B, std::size_t T, std::size_t width) {
    const std::size_t n = B * T * width;
    if (width != 0 && T != 0 && n / width / T != B)
      throw std::length_error("ungulate::Workspace: array size overflows");
    Buffer& buffer = buffers_[int(role)];
    // At least one element: an empty array still has data (solvers read a null view as
    // "absent", and a rank's slice may hold no steps).
    const std::size_t want = n > 0 ? n : 1;
    if (buffer.extent(0) < want) {
      buffer = Buffer();  // free first: the peak holds one copy, not two
      buffer = Buffer(Kokkos::view_alloc(std::string("ungulate::workspace::") + name(role),
                                         Kokkos::WithoutInitializing),
                      want);
    }
    return Array(buffer.data(), B, T, width);
  }

  /// Bytes held.
  std::size_t bytes() const {
    std::size_t total = 0;
    for (const Buffer& b : buffers_) total += b.extent(0) * sizeof(Scalar);
    return total;
  }

  /// Frees every buffer (arrays handed out become invalid).
  void release() {
    for (Buffer& b : buffers_) b = Buffer();
  }

 private:
  using Buffer = Kokkos::View<Scalar*, memory_space>;
  static constexpr int kRoles = 3;

  static const char* name(Role role) {
    switch (role) {
      case Role::NextIterate:
        return "next_iterate";
      case Role::Linearisation:
        return "linearisation";
      case Role::FilteredCovariance:
        return "filtered_covariance";
    }
    return "unknown";
  }

  Buffer buffers_[kRoles];
};

}  // namespace ungulate
