#pragma once
// Device-callable elementary functions that work for float, double and user scalar types
// (such as the dual numbers in cells/dual.hpp, which specialise MathOps).
#include <Kokkos_Core.hpp>
#include <Kokkos_NumericTraits.hpp>

namespace ungulate::math {

#if KOKKOS_VERSION >= 40000
namespace kmath = ::Kokkos;
#else
namespace kmath = ::Kokkos::Experimental;
#endif

/// Elementary functions of a scalar type. Specialise for custom scalars.
template <class S>
struct MathOps {
  KOKKOS_INLINE_FUNCTION static S exp(S x) { return kmath::exp(x); }
  KOKKOS_INLINE_FUNCTION static S tanh(S x) { return kmath::tanh(x); }
  KOKKOS_INLINE_FUNCTION static S abs(S x) { return kmath::fabs(x); }
  KOKKOS_INLINE_FUNCTION static S sqrt(S x) { return kmath::sqrt(x); }
};

template <class S>
KOKKOS_INLINE_FUNCTION S exp(S x) {
  return MathOps<S>::exp(x);
}
template <class S>
KOKKOS_INLINE_FUNCTION S tanh(S x) {
  return MathOps<S>::tanh(x);
}
template <class S>
KOKKOS_INLINE_FUNCTION S abs(S x) {
  return MathOps<S>::abs(x);
}
template <class S>
KOKKOS_INLINE_FUNCTION S sqrt(S x) {
  return MathOps<S>::sqrt(x);
}
template <class S>
KOKKOS_INLINE_FUNCTION S sigmoid(S x) {
  return S(1) / (S(1) + exp(-x));
}

/// True when x is neither NaN nor infinite.
template <class T>
KOKKOS_INLINE_FUNCTION bool is_finite(T x) {
  return kmath::isfinite(x);
}

/// |x| for the convergence tests, with NaN and Inf mapped to +infinity so that a max
/// reduction cannot lose them (max(NaN, y) is not reliably NaN).
template <class T>
KOKKOS_INLINE_FUNCTION T abs_or_inf(T x) {
  return is_finite(x) ? kmath::fabs(x) : Kokkos::Experimental::infinity<T>::value;
}

}  // namespace ungulate::math
