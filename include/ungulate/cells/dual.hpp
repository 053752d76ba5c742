#pragma once
// Forward-mode dual numbers: v + d eps with eps^2 = 0.  Evaluating a cell on duals seeded
// with a unit tangent gives one Jacobian column exactly (no finite differences).
#include "ungulate/core/math.hpp"

namespace ungulate {

template <class T>
struct Dual {
  T v;  // value
  T d;  // tangent

  KOKKOS_INLINE_FUNCTION constexpr Dual() : v(0), d(0) {}
  KOKKOS_INLINE_FUNCTION constexpr Dual(T value) : v(value), d(0) {}  // NOLINT: scalars promote
  KOKKOS_INLINE_FUNCTION constexpr Dual(T value, T tangent) : v(value), d(tangent) {}

  KOKKOS_INLINE_FUNCTION Dual& operator+=(const Dual& o) {
    v += o.v;
    d += o.d;
    return *this;
  }
  KOKKOS_INLINE_FUNCTION Dual& operator-=(const Dual& o) {
    v -= o.v;
    d -= o.d;
    return *this;
  }
  KOKKOS_INLINE_FUNCTION Dual& operator*=(const Dual& o) {
    d = d * o.v + v * o.d;
    v *= o.v;
    return *this;
  }
};

template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator-(const Dual<T>& a) {
  return {-a.v, -a.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator+(const Dual<T>& a, const Dual<T>& b) {
  return {a.v + b.v, a.d + b.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator-(const Dual<T>& a, const Dual<T>& b) {
  return {a.v - b.v, a.d - b.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator*(const Dual<T>& a, const Dual<T>& b) {
  return {a.v * b.v, a.d * b.v + a.v * b.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator/(const Dual<T>& a, const Dual<T>& b) {
  return {a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)};
}
// Mixed operations with a plain scalar (weights, inputs, constants).
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator+(const Dual<T>& a, T b) {
  return {a.v + b, a.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator+(T a, const Dual<T>& b) {
  return {a + b.v, b.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator-(const Dual<T>& a, T b) {
  return {a.v - b, a.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator-(T a, const Dual<T>& b) {
  return {a - b.v, -b.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator*(const Dual<T>& a, T b) {
  return {a.v * b, a.d * b};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator*(T a, const Dual<T>& b) {
  return {a * b.v, a * b.d};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator/(const Dual<T>& a, T b) {
  return {a.v / b, a.d / b};
}
template <class T>
KOKKOS_INLINE_FUNCTION Dual<T> operator/(T a, const Dual<T>& b) {
  return {a / b.v, -a * b.d / (b.v * b.v)};
}

/// Comparisons look at the value (softplus and other piecewise functions branch on it).
template <class T>
KOKKOS_INLINE_FUNCTION bool operator>(const Dual<T>& a, const Dual<T>& b) {
  return a.v > b.v;
}
template <class T>
KOKKOS_INLINE_FUNCTION bool operator<(const Dual<T>& a, const Dual<T>& b) {
  return a.v < b.v;
}

namespace math {
template <class T>
struct MathOps<Dual<T>> {
  KOKKOS_INLINE_FUNCTION static Dual<T> exp(Dual<T> x) {
    const T e = MathOps<T>::exp(x.v);
    return {e, e * x.d};
  }
  KOKKOS_INLINE_FUNCTION static Dual<T> tanh(Dual<T> x) {
    const T t = MathOps<T>::tanh(x.v);
    return {t, (T(1) - t * t) * x.d};
  }
  KOKKOS_INLINE_FUNCTION static Dual<T> abs(Dual<T> x) {
    return x.v < T(0) ? Dual<T>{-x.v, -x.d} : x;
  }
  KOKKOS_INLINE_FUNCTION static Dual<T> sqrt(Dual<T> x) {
    const T s = MathOps<T>::sqrt(x.v);
    return {s, x.d / (T(2) * s)};
  }
  KOKKOS_INLINE_FUNCTION static Dual<T> log(Dual<T> x) { return {MathOps<T>::log(x.v), x.d / x.v}; }
  KOKKOS_INLINE_FUNCTION static Dual<T> log1p(Dual<T> x) {
    return {MathOps<T>::log1p(x.v), x.d / (T(1) + x.v)};
  }
};

}  // namespace math

}  // namespace ungulate
