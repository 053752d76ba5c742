#pragma once
// Basic vocabulary shared by every part of ungulate.
#include <Kokkos_Core.hpp>

#include <type_traits>

#include <string>

namespace ungulate {

using DefaultExecutionSpace = Kokkos::DefaultExecutionSpace;

/// Independent time steps evaluated together by one work item in memory space M: on CPUs
/// their instruction streams interleave and fill the core; GPUs parallelise over work items.
template <class MemorySpace>
inline constexpr int steps_per_group = std::is_same_v<MemorySpace, Kokkos::HostSpace> ? 4 : 1;

/// The evaluation methods.  Sequential is the plain loop every other method is tested against.
/// Auto: sequential evaluation for a chaotic recurrence, quasi-DEER from the windowed warm
/// start for a predictable one (by the LLE estimate; SolveResult::method says which ran).
enum class Method { Sequential, Deer, QuasiDeer, Elk, QuasiElk, Auto };

/// How a solve ended.  Converged means the residual max_t |s_t - f(s_{t-1})| is within the
/// tolerance (not merely that the last step was small).  Stalled: the step fell below the
/// tolerance but the residual did not (a damped method standing still far from the answer).
enum class Status { Converged, MaxIterations, Diverged, Stalled };

/// Which Kalman estimate an ELK step uses: the filter mean (as the reference code) or the
/// RTS smoother mean (the exact trust-region step).
enum class KalmanEstimate { Filter, Smoother };

/// Order in which a scan combines its elements.
enum class Direction { Forward, Reverse };

inline const char* to_string(Method m) {
  switch (m) {
    case Method::Sequential:
      return "seq";
    case Method::Deer:
      return "deer";
    case Method::QuasiDeer:
      return "quasi-deer";
    case Method::Elk:
      return "elk";
    case Method::QuasiElk:
      return "quasi-elk";
    case Method::Auto:
      return "auto";
  }
  return "?";
}

inline const char* to_string(Status s) {
  switch (s) {
    case Status::Converged:
      return "converged";
    case Status::MaxIterations:
      return "max-iterations";
    case Status::Diverged:
      return "diverged";
    case Status::Stalled:
      return "stalled";
  }
  return "?";
}

/// Parses a method name as printed by to_string(Method); returns false if unknown.
inline bool parse_method(const std::string& name, Method& out) {
  for (Method m : {Method::Sequential, Method::Deer, Method::QuasiDeer, Method::Elk,
                   Method::QuasiElk, Method::Auto}) {
    if (name == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

/// True for methods that use only the diagonal of the Jacobian.
inline bool is_quasi(Method m) {
  return m == Method::QuasiDeer || m == Method::QuasiElk;
}

}  // namespace ungulate
