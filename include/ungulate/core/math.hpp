#pragma once
// Device-callable elementary functions that work for float, double and user scalar types
// (such as the dual numbers in cells/dual.hpp, which specialise MathOps).
#include <Kokkos_Core.hpp>
#include <Kokkos_NumericTraits.hpp>

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ungulate::math {

#if KOKKOS_VERSION >= 40000
namespace kmath = ::Kokkos;
#else
namespace kmath = ::Kokkos::Experimental;
#endif

/// a * b + c.  With hardware FMA, fused (one rounding) by name: where an expression can be
/// contracted two ways, such as a * b + c * d, the compiler's choice (-ffp-contract=fast) may
/// differ between two inlined copies of the same code (a cell evaluated at one point or at
/// four), and so would the results; spelling out the fused form keeps them bitwise alike.
/// Without hardware FMA nothing is contracted and it is the plain expression (no libm call).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T multiply_add(T a, T b, T c) {
  if constexpr (std::is_floating_point_v<T>) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
    return fma(a, b, c);
#elif defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    if constexpr (std::is_same_v<T, float>) return __builtin_fmaf(a, b, c);
    if constexpr (std::is_same_v<T, double>) return __builtin_fma(a, b, c);
#endif
  }
  return a * b + c;
}

namespace detail {

/// The float with bit pattern `bits`, and back (memcpy: defined behaviour, and compilers turn
/// it into a register move, also inside vectorised loops).
KOKKOS_FORCEINLINE_FUNCTION float float_from_bits(std::uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
KOKKOS_FORCEINLINE_FUNCTION std::uint32_t bits_of_float(float f) {
  std::uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

/// 2^e for a biased exponent e = n + 127 in [1, 254] (unsigned arithmetic: lanes whose value
/// is NaN may carry any e, and their result is discarded; no signed overflow).
KOKKOS_FORCEINLINE_FUNCTION float power_of_two(std::uint32_t biased_exponent) {
  return float_from_bits(biased_exponent << 23);
}

// Branch-free float elementary functions, written so that a loop over them vectorises (the
// C library's expf/tanhf are scalar calls, and were 60% of a GRU step).  Selects instead of
// branches; NaN propagates (every clamp is written `x > hi ? hi : x`, false for NaN).

/// e^x = p 2^n with Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2, and Cephes'
/// degree-7 polynomial p = e^r (about 1 ulp).  x must be clamped to [-86.5, 88.7228317]
/// (or NaN, which travels in p; n is then arbitrary).
KOKKOS_FORCEINLINE_FUNCTION float exp_reduced(float x, std::uint32_t& n) {
  // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick (no call, no SSE4.1):
  // the sum's low mantissa bits are n.  Reading n from the bits, not int(fn), needs no
  // special case for NaN (where int() is undefined); such a select made GCC duplicate the
  // whole polynomial and the sigmoid's division for the NaN path (1.5x slower).
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float fn = shifted - 12582912.0f;
  n = bits_of_float(shifted) - bits_of_float(12582912.0f);
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

/// e^x for x in [-86.5, 88] or NaN (no clamps, no special cases): n + 127 is then a normal
/// exponent, so 2^n is one float.  For the sigmoid and tanh, whose arguments are clamped.
KOKKOS_FORCEINLINE_FUNCTION float exp_float_in_range(float x) {
  std::uint32_t n;
  const float p = exp_reduced(x, n);
  return p * power_of_two(n + 127);
}

/// e^x, about 1 ulp.  Results below 2^-125 flush to 0 (the subnormal range).
KOKKOS_FORCEINLINE_FUNCTION float exp_float(float x) {
  constexpr float hi = 88.7228317f, lo = -86.5f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  std::uint32_t n;
  const float p = exp_reduced(xc, n);
  // 2^n as (2 p) * 2^(n-1): n - 1 + 127 stays within the normal exponents for n in
  // [-124, 128], so neither factor is subnormal or infinite before the product.
  float y = (p * 2.0f) * power_of_two(n + 126);
  y = x > hi ? Kokkos::Experimental::infinity<float>::value : y;
  y = x < lo ? 0.0f : y;
  return y;
}

/// 1 / (1 + e^-x), about 2 ulp: e^-x is clamped to [e^-86.5, e^88] (1 / (1 + e^-x) is 1 or
/// below 1e-38 outside), which spares exp_float's special cases; below -88 the result is 0.
KOKKOS_FORCEINLINE_FUNCTION float sigmoid_float(float x) {
  float t = -x;
  t = t > 88.0f ? 88.0f : t;
  t = t < -86.5f ? -86.5f : t;
  const float y = 1.0f / (1.0f + exp_float_in_range(t));
  return x < -88.0f ? 0.0f : y;
}

/// tanh: Cephes' odd polynomial below |x| = 0.625 (keeps relative accuracy near 0), and
/// 1 - 2 / (e^{2|x|} + 1) above; about 2 ulp.
KOKKOS_FORCEINLINE_FUNCTION float tanh_float(float x) {
  const float z = x * x;
  float small = -5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  const float ax = x < 0.0f ? -x : x;
  // tanh(10) rounds to 1; e^[0, 20] needs no special cases.
  const float e = exp_float_in_range(2.0f * (ax > 10.0f ? 10.0f : ax));
  float large = 1.0f - 2.0f / (e + 1.0f);
  large = x < 0.0f ? -large : large;
  return ax < 0.625f ? small : large;
}

}  // namespace detail

/// Elementary functions of a scalar type. Specialise for custom scalars.
template <class S>
struct MathOps {
  KOKKOS_INLINE_FUNCTION static S exp(S x) { return kmath::exp(x); }
  KOKKOS_INLINE_FUNCTION static S tanh(S x) { return kmath::tanh(x); }
  KOKKOS_INLINE_FUNCTION static S abs(S x) { return kmath::fabs(x); }
  KOKKOS_INLINE_FUNCTION static S sqrt(S x) { return kmath::sqrt(x); }
  KOKKOS_INLINE_FUNCTION static S log(S x) { return kmath::log(x); }
  KOKKOS_INLINE_FUNCTION static S log1p(S x) { return kmath::log1p(x); }
};

/// float: the vectorisable exp and tanh above (double keeps the C library's).
template <>
struct MathOps<float> {
  KOKKOS_FORCEINLINE_FUNCTION static float exp(float x) { return detail::exp_float(x); }
  KOKKOS_FORCEINLINE_FUNCTION static float tanh(float x) { return detail::tanh_float(x); }
  KOKKOS_INLINE_FUNCTION static float abs(float x) { return kmath::fabs(x); }
  KOKKOS_INLINE_FUNCTION static float sqrt(float x) { return kmath::sqrt(x); }
  KOKKOS_INLINE_FUNCTION static float log(float x) { return kmath::log(x); }
  KOKKOS_INLINE_FUNCTION static float log1p(float x) { return kmath::log1p(x); }
};

template <class S>
KOKKOS_FORCEINLINE_FUNCTION S exp(S x) {
  return MathOps<S>::exp(x);
}
template <class S>
KOKKOS_FORCEINLINE_FUNCTION S tanh(S x) {
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
KOKKOS_INLINE_FUNCTION S log(S x) {
  return MathOps<S>::log(x);
}
template <class S>
KOKKOS_INLINE_FUNCTION S log1p(S x) {
  return MathOps<S>::log1p(x);
}
template <class S>
KOKKOS_FORCEINLINE_FUNCTION S sigmoid(S x) {
  if constexpr (std::is_same_v<S, float>)
    return detail::sigmoid_float(x);
  else
    return S(1) / (S(1) + exp(-x));
}
/// log(1 + e^x) without overflow for large x or loss of accuracy for very negative x.
template <class S>
KOKKOS_INLINE_FUNCTION S softplus(S x) {
  return x > S(0) ? x + log1p(exp(-x)) : log1p(exp(x));
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

namespace detail {
/// The unsigned integer of a float's or double's size.
template <class T>
struct same_size_int;
template <>
struct same_size_int<float> {
  using type = std::int32_t;
};
template <>
struct same_size_int<double> {
  using type = std::int64_t;
};
}  // namespace detail

/// max(start, max_i |a_i - b_i|) with NaN/Inf counted as +infinity; a local, branch-free
/// reduction that vectorises (a running max through a reference does not).  start >= 0.
template <class T>
KOKKOS_INLINE_FUNCTION T max_abs_difference(int n, const T* a, const T* b, T start) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    // On the bit patterns of |d|: for non-negative IEEE values the integer order is the
    // numeric order, and every NaN sorts above +infinity.  An integer max vectorises; a
    // floating-point one with NaN handling does not.
    using Int = typename detail::same_size_int<T>::type;
    constexpr Int magnitude = ~(Int(1) << (8 * sizeof(T) - 1));
    const T inf = Kokkos::Experimental::infinity<T>::value;
    Int m, inf_bits;
    memcpy(&m, &start, sizeof m);
    memcpy(&inf_bits, &inf, sizeof inf_bits);
    for (int i = 0; i < n; ++i) {
      const T d = a[i] - b[i];
      Int bits;
      memcpy(&bits, &d, sizeof bits);
      bits &= magnitude;
      m = bits > m ? bits : m;
    }
    T result;
    memcpy(&result, &m, sizeof result);
    return m > inf_bits ? inf : result;
  } else {
    T m = start;
    for (int i = 0; i < n; ++i) {
      const T d = abs_or_inf(a[i] - b[i]);
      m = d > m ? d : m;
    }
    return m;
  }
}

}  // namespace ungulate::math
