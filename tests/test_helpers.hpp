#pragma once
// Shared utilities for the ungulate test suite: views, random data, host (double precision)
// reference implementations and small user cells.
//
// Device code in the tests lives in functors (never in KOKKOS_LAMBDAs inside TEST bodies:
// GoogleTest's TestBody is a private member function, where CUDA forbids extended lambdas),
// and every check copies results to the host with create_mirror_view_and_copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "ungulate/ungulate.hpp"

namespace ut {

template <class S>
using View1 = Kokkos::View<S*, Kokkos::LayoutRight>;
template <class S>
using View2 = Kokkos::View<S**, Kokkos::LayoutRight>;
template <class S>
using View3 = Kokkos::View<S***, Kokkos::LayoutRight>;

using Rng = std::mt19937_64;

template <class S>
const char* scalar_name() {
  return sizeof(S) == 4 ? "float" : "double";
}

/// float and double, for typed tests (named "float" / "double").
using Scalars = ::testing::Types<float, double>;
struct ScalarNames {
  template <class T>
  static std::string GetName(int) {
    return scalar_name<T>();
  }
};

/// Tolerance for comparing a library result with a reference, relative to the data's scale:
/// ~1e-3 in float, ~1e-6 in double unless a test says otherwise.
template <class S>
constexpr double solver_tol() {
  return sizeof(S) == 4 ? 1e-3 : 1e-6;
}

template <class V>
auto to_host(const V& v) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
}

/// Contents of a (LayoutRight) view as doubles, in index order.
template <class V>
std::vector<double> to_vector(const V& v) {
  auto h = to_host(v);
  std::vector<double> out(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) out[i] = double(h.data()[i]);
  return out;
}

/// Writes `values` (index order, as doubles) into a device view.
template <class V>
void from_vector(const V& v, const std::vector<double>& values) {
  auto h = Kokkos::create_mirror_view(v);
  EXPECT_EQ(h.size(), values.size());
  using T = typename V::non_const_value_type;
  for (std::size_t i = 0; i < h.size() && i < values.size(); ++i) h.data()[i] = T(values[i]);
  Kokkos::deep_copy(v, h);
}

inline std::vector<double> normal_vector(std::size_t n, Rng& rng, double sd = 1.0,
                                         double mean = 0.0) {
  std::normal_distribution<double> d(mean, sd);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline std::vector<double> uniform_vector(std::size_t n, Rng& rng, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

template <class S>
View3<S> make_view3(const std::string& name, int a, int b, int c,
                    const std::vector<double>& values) {
  View3<S> v(name, a, b, c);
  from_vector(v, values);
  return v;
}

template <class S>
View2<S> make_view2(const std::string& name, int a, int b, const std::vector<double>& values) {
  View2<S> v(name, a, b);
  from_vector(v, values);
  return v;
}

inline double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double x : a) m = std::max(m, std::isfinite(x) ? std::abs(x) : HUGE_VAL);
  return m;
}

/// max |a - b| (infinite when anything is not finite or the sizes differ).
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return HUGE_VAL;
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = a[i] - b[i];
    m = std::max(m, std::isfinite(d) ? std::abs(d) : HUGE_VAL);
  }
  return m;
}

/// max |a - b| / (1 + max |b|): an error relative to the data's scale.
inline double scaled_diff(const std::vector<double>& a, const std::vector<double>& b) {
  return max_abs_diff(a, b) / (1.0 + max_abs(b));
}

inline bool all_finite(const std::vector<double>& a) {
  for (double x : a)
    if (!std::isfinite(x)) return false;
  return true;
}

// ---- solver variants ----------------------------------------------------------------------

/// A Newton-type method with, for ELK, the Kalman estimate it steps to.
struct Variant {
  ungulate::Method method;
  ungulate::KalmanEstimate estimate;
  std::string name() const {
    std::string n = ungulate::to_string(method);
    if (method == ungulate::Method::Elk || method == ungulate::Method::QuasiElk)
      n += estimate == ungulate::KalmanEstimate::Filter ? "-filter" : "-smoother";
    return n;
  }
  void apply(ungulate::SolverOptions& o) const {
    o.method = method;
    o.elk_estimate = estimate;
  }
  /// ELK-type: damped steps under the (default) adaptive trust region.
  bool damped() const {
    return method == ungulate::Method::Elk || method == ungulate::Method::QuasiElk;
  }
};

/// Every parallel method: quasi-DEER, DEER, and ELK / quasi-ELK with either estimate.
inline std::vector<Variant> all_variants() {
  using ungulate::KalmanEstimate;
  using ungulate::Method;
  return {
      {Method::QuasiDeer, KalmanEstimate::Smoother}, {Method::Deer, KalmanEstimate::Smoother},
      {Method::Elk, KalmanEstimate::Filter},         {Method::Elk, KalmanEstimate::Smoother},
      {Method::QuasiElk, KalmanEstimate::Filter},    {Method::QuasiElk, KalmanEstimate::Smoother}};
}

// ---- small dense linear algebra on the host, double precision, row-major ----------------

using Mat = std::vector<double>;  // n x n row-major

inline Mat identity(int n) {
  Mat m(std::size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) m[std::size_t(i) * n + i] = 1.0;
  return m;
}
inline Mat matmul(int n, const Mat& a, const Mat& b) {
  Mat c(std::size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}
inline Mat transpose(int n, const Mat& a) {
  Mat t(a.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) t[j * n + i] = a[i * n + j];
  return t;
}
inline Mat add(const Mat& a, const Mat& b, double sb = 1.0) {
  Mat c(a);
  for (std::size_t i = 0; i < c.size(); ++i) c[i] += sb * b[i];
  return c;
}
inline std::vector<double> matvec(int n, const Mat& a, const std::vector<double>& x) {
  std::vector<double> y(n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) y[i] += a[i * n + j] * x[j];
  return y;
}
/// Inverse by Gauss-Jordan with partial pivoting.
inline Mat inverse(int n, Mat a) {
  Mat inv = identity(n);
  for (int k = 0; k < n; ++k) {
    int p = k;
    for (int i = k + 1; i < n; ++i)
      if (std::abs(a[i * n + k]) > std::abs(a[p * n + k])) p = i;
    for (int j = 0; j < n; ++j) {
      std::swap(a[k * n + j], a[p * n + j]);
      std::swap(inv[k * n + j], inv[p * n + j]);
    }
    const double d = a[k * n + k];
    for (int j = 0; j < n; ++j) {
      a[k * n + j] /= d;
      inv[k * n + j] /= d;
    }
    for (int i = 0; i < n; ++i) {
      if (i == k) continue;
      const double f = a[i * n + k];
      if (f == 0) continue;
      for (int j = 0; j < n; ++j) {
        a[i * n + j] -= f * a[k * n + j];
        inv[i * n + j] -= f * inv[k * n + j];
      }
    }
  }
  return inv;
}
/// A random symmetric positive semi-definite matrix G G^T * scale / n.
inline Mat random_psd(int n, Rng& rng, double scale) {
  const Mat g = normal_vector(std::size_t(n) * n, rng);
  Mat c = matmul(n, g, transpose(n, g));
  for (auto& v : c) v *= scale / n;
  return c;
}

// ---- GRU: random construction and a host double-precision reference ---------------------

/// A GRU with random weights: input kernels ~ N(0, 1/I), recurrent kernels ~ N(0, g^2/D),
/// biases ~ N(0, bias_sd^2).  Weights live in the default memory space.
template <class S>
ungulate::cells::GRU<S> make_random_gru(int hidden, int inputs, std::uint64_t seed,
                                        double gain = 1.0, double bias_sd = 0.5) {
  ungulate::cells::GRU<S> gru(hidden, inputs);
  Rng rng(seed);
  from_vector(gru.input_kernel,
              normal_vector(std::size_t(3) * hidden * inputs, rng, 1.0 / std::sqrt(inputs)));
  from_vector(gru.recurrent_kernel,
              normal_vector(std::size_t(3) * hidden * hidden, rng, gain / std::sqrt(hidden)));
  from_vector(gru.input_bias, normal_vector(std::size_t(3) * hidden, rng, bias_sd));
  from_vector(gru.recurrent_bias, normal_vector(std::size_t(3) * hidden, rng, bias_sd));
  return gru;
}

/// The GRU written out again in plain double precision on the host, independent of the
/// library's implementation: f and its analytic Jacobian.
struct HostGru {
  int D = 0, I = 0;
  std::vector<double> wi, wh, bi, bh;  // (3, D, I), (3, D, D), (3, D), (3, D)

  template <class Gru>
  explicit HostGru(const Gru& g)
      : D(g.state_size()),
        I(g.input_size()),
        wi(to_vector(g.input_kernel)),
        wh(to_vector(g.recurrent_kernel)),
        bi(to_vector(g.input_bias)),
        bh(to_vector(g.recurrent_bias)) {}

  double Wi(int g, int i, int k) const { return wi[(std::size_t(g) * D + i) * I + k]; }
  double Wh(int g, int i, int j) const { return wh[(std::size_t(g) * D + i) * D + j]; }

  static double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

  void evaluate(const double* h, const double* x, double* out, double* jac = nullptr) const {
    for (int i = 0; i < D; ++i) {
      double ar = bi[i] + bh[i], az = bi[D + i] + bh[D + i], an = bi[2 * D + i];
      double hn = bh[2 * D + i];
      for (int k = 0; k < I; ++k) {
        ar += Wi(0, i, k) * x[k];
        az += Wi(1, i, k) * x[k];
        an += Wi(2, i, k) * x[k];
      }
      for (int j = 0; j < D; ++j) {
        ar += Wh(0, i, j) * h[j];
        az += Wh(1, i, j) * h[j];
        hn += Wh(2, i, j) * h[j];
      }
      const double r = sigmoid(ar), z = sigmoid(az), n = std::tanh(an + r * hn);
      out[i] = (1 - z) * n + z * h[i];
      if (jac)
        for (int j = 0; j < D; ++j) {
          const double dr = r * (1 - r) * Wh(0, i, j);
          const double dz = z * (1 - z) * Wh(1, i, j);
          const double dn = (1 - n * n) * (dr * hn + r * Wh(2, i, j));
          jac[i * D + j] = -dz * n + (1 - z) * dn + dz * h[i] + (i == j ? z : 0.0);
        }
    }
  }
};

/// s_t = f(s_{t-1}, x_t) on the host in double: x (B, T, I), s0 (B, D) -> (B, T, D).
template <class Cell>
std::vector<double> host_sequential(const Cell& cell, int B, int T, const std::vector<double>& x,
                                    const std::vector<double>& s0) {
  const int D = cell.D, I = cell.I;
  std::vector<double> s(std::size_t(B) * T * D);
  for (int b = 0; b < B; ++b) {
    const double* h = &s0[std::size_t(b) * D];
    for (int t = 0; t < T; ++t) {
      double* out = &s[(std::size_t(b) * T + t) * D];
      cell.evaluate(h, &x[(std::size_t(b) * T + t) * I], out);
      h = out;
    }
  }
  return s;
}

// ---- user cells with only a templated `evaluate` (dual-number Jacobians) -----------------

/// h' = tanh(W h + U x + c).
template <class Scalar>
struct TanhRnn {
  using value_type = Scalar;
  View2<Scalar> W;  // (D, D)
  View2<Scalar> U;  // (D, I)
  View1<Scalar> c;  // (D)

  KOKKOS_INLINE_FUNCTION int state_size() const { return int(W.extent(0)); }
  KOKKOS_INLINE_FUNCTION int input_size() const { return int(U.extent(1)); }

  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* h, const Scalar* x, S* out) const {
    const int D = state_size(), I = input_size();
    for (int i = 0; i < D; ++i) {
      Scalar drive = c(i);
      for (int k = 0; k < I; ++k) drive += U(i, k) * x[k];
      S acc = S(drive);
      for (int j = 0; j < D; ++j) acc += W(i, j) * h[j];
      out[i] = ungulate::math::tanh(acc);
    }
  }
};

template <class S>
TanhRnn<S> make_tanh_rnn(int hidden, int inputs, std::uint64_t seed, double gain = 0.9) {
  Rng rng(seed);
  TanhRnn<S> cell;
  cell.W = make_view2<S>(
      "W", hidden, hidden,
      normal_vector(std::size_t(hidden) * hidden, rng, gain / std::sqrt(double(hidden))));
  cell.U = make_view2<S>(
      "U", hidden, inputs,
      normal_vector(std::size_t(hidden) * inputs, rng, 1.0 / std::sqrt(double(inputs))));
  cell.c = View1<S>("c", hidden);
  from_vector(cell.c, normal_vector(hidden, rng, 0.3));
  return cell;
}

/// Host double reference of TanhRnn.
struct HostTanhRnn {
  int D = 0, I = 0;
  std::vector<double> W, U, c;
  template <class Cell>
  explicit HostTanhRnn(const Cell& cell)
      : D(cell.state_size()),
        I(cell.input_size()),
        W(to_vector(cell.W)),
        U(to_vector(cell.U)),
        c(to_vector(cell.c)) {}
  void evaluate(const double* h, const double* x, double* out) const {
    for (int i = 0; i < D; ++i) {
      double a = c[i];
      for (int k = 0; k < I; ++k) a += U[std::size_t(i) * I + k] * x[k];
      for (int j = 0; j < D; ++j) a += W[std::size_t(i) * D + j] * h[j];
      out[i] = std::tanh(a);
    }
  }
};

/// The logistic map h' = r h (1 - h), elementwise, ignoring its (one) input: chaotic for
/// r = 3.9, so Newton-type linearisations far from the solution blow up.
template <class Scalar>
struct LogisticMap {
  using value_type = Scalar;
  Scalar r = Scalar(3.9);
  int dim = 1;

  KOKKOS_INLINE_FUNCTION int state_size() const { return dim; }
  KOKKOS_INLINE_FUNCTION int input_size() const { return 1; }

  template <class S>
  KOKKOS_INLINE_FUNCTION void evaluate(const S* h, const Scalar* x, S* out) const {
    for (int i = 0; i < dim; ++i) out[i] = r * h[i] * (Scalar(1) - h[i]) + Scalar(0) * x[0];
  }
};

}  // namespace ut
