// ungulate::gradient (the reverse adjoint scan) against a plain sequential backpropagation
// written here (host, double, local Jacobians by forward-mode dual numbers through cells
// re-written from their equations) and against central finite differences of the loss
// L = sum_t <g_t, s_t>, for the GRU, LSTM and Lorenz-96 cells.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "test_helpers.hpp"

namespace {

using ut::Rng;
using ut::View1;
using ut::View2;
using ut::View3;
using D1 = ungulate::Dual<double>;

template <class T>
T sigm(T v) {
  return T(1.0) / (T(1.0) + ungulate::math::exp(-v));
}

// ---- host cells, written out from their equations; every argument of type T ---------------

/// GRU: theta = input_kernel (3, D, I), recurrent_kernel (3, D, D), input_bias (3, D),
/// recurrent_bias (3, D).
struct HostGruModel {
  int D, I;
  int P() const { return 3 * D * I + 3 * D * D + 6 * D; }
  template <class T>
  void operator()(const T* th, const T* h, const T* x, T* out) const {
    const T* wi = th;
    const T* wh = wi + 3 * D * I;
    const T* bi = wh + 3 * D * D;
    const T* bh = bi + 3 * D;
    for (int i = 0; i < D; ++i) {
      T a[3], c[3];
      for (int g = 0; g < 3; ++g) {
        a[g] = bi[g * D + i];
        c[g] = bh[g * D + i];
        for (int k = 0; k < I; ++k) a[g] = a[g] + wi[(g * D + i) * I + k] * x[k];
        for (int j = 0; j < D; ++j) c[g] = c[g] + wh[(g * D + i) * D + j] * h[j];
      }
      const T r = sigm(a[0] + c[0]), z = sigm(a[1] + c[1]);
      const T n = ungulate::math::tanh(a[2] + r * c[2]);
      out[i] = (T(1.0) - z) * n + z * h[i];
    }
  }
};

/// LSTM (PyTorch): theta = weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H), bias_hh (4H);
/// state (h, c).
struct HostLstmModel {
  int H, I;
  int D = 2 * H;
  int P() const { return 4 * H * I + 4 * H * H + 8 * H; }
  template <class T>
  void operator()(const T* th, const T* s, const T* x, T* out) const {
    const T* wih = th;
    const T* whh = wih + 4 * H * I;
    const T* bih = whh + 4 * H * H;
    const T* bhh = bih + 4 * H;
    std::vector<T> a(4 * H);
    for (int k = 0; k < 4 * H; ++k) {
      a[k] = bih[k] + bhh[k];
      for (int m = 0; m < I; ++m) a[k] = a[k] + wih[k * I + m] * x[m];
      for (int j = 0; j < H; ++j) a[k] = a[k] + whh[k * H + j] * s[j];
    }
    for (int r = 0; r < H; ++r) {
      const T c = sigm(a[H + r]) * s[H + r] + sigm(a[r]) * ungulate::math::tanh(a[2 * H + r]);
      out[H + r] = c;
      out[r] = sigm(a[3 * H + r]) * ungulate::math::tanh(c);
    }
  }
};

/// Lorenz-96, one RK4 step of the whole vector: theta = F; inputs perturb the forcing.
struct HostLorenzModel {
  int D, I;
  double dt;
  int P() const { return 1; }
  template <class T>
  void operator()(const T* th, const T* y, const T* u, T* out) const {
    const int N = D;
    const auto field = [&](const std::vector<T>& v) {
      std::vector<T> k(N);
      for (int j = 0; j < N; ++j)
        k[j] = (v[(j + 1) % N] - v[(j + N - 2) % N]) * v[(j + N - 1) % N] - v[j] + th[0] + u[j];
      return k;
    };
    std::vector<T> y0(y, y + N), y1(N), y2(N), y3(N);
    const auto k1 = field(y0);
    for (int j = 0; j < N; ++j) y1[j] = y0[j] + T(dt / 2) * k1[j];
    const auto k2 = field(y1);
    for (int j = 0; j < N; ++j) y2[j] = y0[j] + T(dt / 2) * k2[j];
    const auto k3 = field(y2);
    for (int j = 0; j < N; ++j) y3[j] = y0[j] + T(dt) * k3[j];
    const auto k4 = field(y3);
    for (int j = 0; j < N; ++j)
      out[j] = y0[j] + T(dt / 6) * (k1[j] + T(2.0) * k2[j] + T(2.0) * k3[j] + k4[j]);
  }
};

struct Grads {
  std::vector<double> x, s0, theta;
};

struct Problem {
  int B, T;
  std::vector<double> theta, x, s0, g;  // float-representable values
};

template <class Model>
std::vector<double> host_states(const Model& m, const Problem& p, const std::vector<double>& th,
                                const std::vector<double>& x, const std::vector<double>& s0) {
  const int D = m.D, I = m.I;
  std::vector<double> s(std::size_t(p.B) * p.T * D);
  for (int b = 0; b < p.B; ++b) {
    const double* h = &s0[std::size_t(b) * D];
    for (int t = 0; t < p.T; ++t) {
      double* o = &s[(std::size_t(b) * p.T + t) * D];
      m(th.data(), h, &x[(std::size_t(b) * p.T + t) * I], o);
      h = o;
    }
  }
  return s;
}

template <class Model>
double host_loss(const Model& m, const Problem& p, const std::vector<double>& th,
                 const std::vector<double>& x, const std::vector<double>& s0) {
  const auto s = host_states(m, p, th, x, s0);
  double L = 0;
  for (std::size_t k = 0; k < s.size(); ++k) L += p.g[k] * s[k];
  return L;
}

/// Sequential backpropagation: lambda = g_t + J_{t+1}^T lambda, step by step backwards, with
/// every local Jacobian (wrt h, x, theta) by forward-mode dual numbers.
template <class Model>
Grads host_backprop(const Model& m, const Problem& p) {
  const int D = m.D, I = m.I, P = m.P();
  const auto s = host_states(m, p, p.theta, p.x, p.s0);
  Grads out{std::vector<double>(p.x.size()), std::vector<double>(p.s0.size()),
            std::vector<double>(P, 0.0)};
  std::vector<D1> th(P), h(D), x(I), f(D);
  for (int b = 0; b < p.B; ++b) {
    std::vector<double> lambda(D, 0.0);
    for (int t = p.T - 1; t >= 0; --t) {
      for (int i = 0; i < D; ++i) lambda[i] += p.g[(std::size_t(b) * p.T + t) * D + i];
      const double* hv =
          t == 0 ? &p.s0[std::size_t(b) * D] : &s[(std::size_t(b) * p.T + t - 1) * D];
      const double* xv = &p.x[(std::size_t(b) * p.T + t) * I];
      for (int q = 0; q < P; ++q) th[q] = D1(p.theta[q]);
      for (int i = 0; i < D; ++i) h[i] = D1(hv[i]);
      for (int k = 0; k < I; ++k) x[k] = D1(xv[k]);
      // <lambda, df/dv> for the seed v: one column of J^T lambda.
      const auto column = [&]() {
        m(th.data(), h.data(), x.data(), f.data());
        double acc = 0;
        for (int i = 0; i < D; ++i) acc += lambda[i] * f[i].d;
        return acc;
      };
      for (int q = 0; q < P; ++q) {
        th[q].d = 1;
        out.theta[q] += column();
        th[q].d = 0;
      }
      for (int k = 0; k < I; ++k) {
        x[k].d = 1;
        out.x[(std::size_t(b) * p.T + t) * I + k] = column();
        x[k].d = 0;
      }
      std::vector<double> next(D);
      for (int j = 0; j < D; ++j) {
        h[j].d = 1;
        next[j] = column();
        h[j].d = 0;
      }
      lambda = next;
    }
    for (int i = 0; i < D; ++i) out.s0[std::size_t(b) * D + i] = lambda[i];
  }
  return out;
}

/// max |a - b| / max |b|.
double relative(const std::vector<double>& a, const std::vector<double>& b) {
  return ut::max_abs_diff(a, b) / std::max(ut::max_abs(b), 1e-300);
}

/// Central finite differences of L at `count` coordinates of each group, against `grads`:
/// returns the worst error relative to the group's largest gradient.
template <class Model>
double finite_difference_error(const Model& m, const Problem& p, const Grads& grads, int count,
                               Rng& rng) {
  double worst = 0;
  const auto check = [&](std::vector<double> Problem::*member, const std::vector<double>& grad) {
    std::uniform_int_distribution<std::size_t> pick(0, grad.size() - 1);
    double err = 0;
    for (int n = 0; n < count; ++n) {
      const std::size_t k = pick(rng);
      Problem q = p;
      const double v = (p.*member)[k], eps = 1e-6 * std::max(1.0, std::abs(v));
      (q.*member)[k] = v + eps;
      const double up = host_loss(m, q, q.theta, q.x, q.s0);
      (q.*member)[k] = v - eps;
      const double down = host_loss(m, q, q.theta, q.x, q.s0);
      err = std::max(err, std::abs((up - down) / (2 * eps) - grad[k]));
    }
    worst = std::max(worst, err / std::max(ut::max_abs(grad), 1e-300));
  };
  check(&Problem::x, grads.x);
  check(&Problem::s0, grads.s0);
  check(&Problem::theta, grads.theta);
  return worst;
}

std::vector<double> float_values(std::vector<double> v) {
  for (auto& x : v) x = double(float(x));
  return v;
}

// ---- library side -------------------------------------------------------------------------

template <class S>
ungulate::cells::GRU<S> library_cell(const HostGruModel& m, const std::vector<double>& th) {
  ungulate::cells::GRU<S> gru(m.D, m.I);
  const int D = m.D, I = m.I;
  ut::from_vector(gru.input_kernel, {th.begin(), th.begin() + 3 * D * I});
  ut::from_vector(gru.recurrent_kernel,
                  {th.begin() + 3 * D * I, th.begin() + 3 * D * I + 3 * D * D});
  ut::from_vector(gru.input_bias,
                  {th.begin() + 3 * D * I + 3 * D * D, th.begin() + 3 * D * I + 3 * D * D + 3 * D});
  ut::from_vector(gru.recurrent_bias, {th.begin() + 3 * D * I + 3 * D * D + 3 * D, th.end()});
  return gru;
}
template <class S>
ungulate::cells::LSTM<S> library_cell(const HostLstmModel& m, const std::vector<double>& th) {
  ungulate::cells::LSTM<S> lstm(m.H, m.I);
  const int H = m.H, I = m.I;
  auto at = [&](int k) { return th.begin() + k; };
  ut::from_vector(lstm.weight_ih, {at(0), at(4 * H * I)});
  ut::from_vector(lstm.weight_hh, {at(4 * H * I), at(4 * H * (I + H))});
  ut::from_vector(lstm.bias_ih, {at(4 * H * (I + H)), at(4 * H * (I + H) + 4 * H)});
  ut::from_vector(lstm.bias_hh, {at(4 * H * (I + H) + 4 * H), th.end()});
  return lstm;
}
template <class S>
ungulate::cells::Lorenz96<S> library_cell(const HostLorenzModel& m, const std::vector<double>& th) {
  return ungulate::cells::Lorenz96<S>(m.D, S(th[0]), S(m.dt));
}

/// The library's gradient in precision S: trajectory by sequential evaluation, then
/// ungulate::gradient with `chunks` (<= 0: default).
template <class S, class Model>
Grads library_gradient(const Model& m, const Problem& p, int chunks, double* max_adjoint = nullptr,
                       int accumulation_chunks = -1) {
  const auto cell = library_cell<S>(m, p.theta);
  const int D = m.D, I = m.I;
  const auto x = ut::make_view3<S>("x", p.B, p.T, I, p.x);
  const auto s0 = ut::make_view2<S>("s0", p.B, D, p.s0);
  const auto g = ut::make_view3<S>("g", p.B, p.T, D, p.g);
  View3<S> states("states", p.B, p.T, D);
  ungulate::SolverOptions opt;
  opt.method = ungulate::Method::Sequential;
  ungulate::solve(cell, x, s0, states, opt);
  ungulate::GradientOptions gopt;
  gopt.num_chunks = chunks;
  gopt.accumulation_chunks = accumulation_chunks;
  const auto r = ungulate::gradient(cell, x, s0, states, g, gopt);
  EXPECT_EQ(r.weights.size(), std::size_t(m.P()));
  std::size_t blocks = 0;
  for (const auto& b : r.blocks) blocks += b.size();
  EXPECT_EQ(blocks, std::size_t(m.P()));
  if (max_adjoint) *max_adjoint = r.max_abs_adjoint;
  return {ut::to_vector(r.inputs), ut::to_vector(r.initial_state), r.weights};
}

template <class Model>
Problem random_problem(const Model& m, int B, int T, std::uint64_t seed, double theta_sd,
                       double theta_mean, double x_sd, double s0_sd, double s0_mean) {
  Rng rng(seed);
  Problem p{B, T, {}, {}, {}, {}};
  p.theta = float_values(ut::normal_vector(m.P(), rng, theta_sd, theta_mean));
  p.x = float_values(ut::normal_vector(std::size_t(B) * T * m.I, rng, x_sd));
  p.s0 = float_values(ut::normal_vector(std::size_t(B) * m.D, rng, s0_sd, s0_mean));
  p.g = float_values(ut::normal_vector(std::size_t(B) * T * m.D, rng));
  return p;
}

template <class Model>
void check_against_references(const Model& m, const Problem& p, const std::string& name,
                              const std::vector<int>& chunk_counts) {
  const Grads ref = host_backprop(m, p);
  Rng rng(99);
  const double fd = finite_difference_error(m, p, ref, 12, rng);
  EXPECT_LE(fd, 1e-6) << name << ": sequential backprop vs finite differences";
  for (int chunks : chunk_counts) {
    const std::string what = name + " chunks " + std::to_string(chunks);
    const Grads d = library_gradient<double>(m, p, chunks);
    EXPECT_LE(relative(d.x, ref.x), 1e-10) << what << " double: inputs";
    EXPECT_LE(relative(d.s0, ref.s0), 1e-10) << what << " double: initial state";
    EXPECT_LE(relative(d.theta, ref.theta), 1e-10) << what << " double: weights";
    const Grads f = library_gradient<float>(m, p, chunks);
    EXPECT_LE(relative(f.x, ref.x), 1e-5) << what << " float: inputs";
    EXPECT_LE(relative(f.s0, ref.s0), 1e-5) << what << " float: initial state";
    EXPECT_LE(relative(f.theta, ref.theta), 1e-5) << what << " float: weights";
    if (std::getenv("UNGULATE_TEST_VERBOSE"))
      std::printf("%s: fd %.2g | double %.2g %.2g %.2g | float %.2g %.2g %.2g\n", what.c_str(), fd,
                  relative(d.x, ref.x), relative(d.s0, ref.s0), relative(d.theta, ref.theta),
                  relative(f.x, ref.x), relative(f.s0, ref.s0), relative(f.theta, ref.theta));
  }
}

// Sizes: T = 1, T not a power of two, T smaller than the chunk count (8 chunks on T = 3).
TEST(Gradient, GruMatchesBackpropAndFiniteDifferences) {
  for (auto [D, I, B, T] : std::vector<std::array<int, 4>>{
           {1, 1, 1, 1}, {3, 2, 2, 3}, {5, 4, 2, 37}, {8, 3, 3, 101}, {17, 3, 2, 29}}) {
    const HostGruModel m{D, I};
    const Problem p = random_problem(m, B, T, 7 + D * 31 + T, 0.5, 0.0, 1.0, 0.5, 0.0);
    check_against_references(m, p, "gru D=" + std::to_string(D) + " T=" + std::to_string(T),
                             {-1, 1, 8});
  }
}

TEST(Gradient, LstmMatchesBackpropAndFiniteDifferences) {
  for (auto [H, I, B, T] :
       std::vector<std::array<int, 4>>{{1, 2, 1, 1}, {3, 2, 2, 3}, {4, 3, 2, 53}}) {
    const HostLstmModel m{H, I};
    const Problem p = random_problem(m, B, T, 11 + H * 13 + T, 0.4, 0.0, 1.0, 0.3, 0.0);
    check_against_references(m, p, "lstm H=" + std::to_string(H) + " T=" + std::to_string(T),
                             {-1, 1, 8});
  }
}

// Lorenz-96 over short horizons (chaotic: the gradient grows with the horizon, and so does
// any error relative to it); N = 5 wraps the RK4 stencil onto itself, N = 16 does not.
TEST(Gradient, Lorenz96MatchesBackpropAndFiniteDifferences) {
  for (auto [N, B, T] : std::vector<std::array<int, 3>>{{5, 2, 3}, {5, 1, 29}, {16, 2, 45}}) {
    const HostLorenzModel m{N, N, 0.01};
    Problem p = random_problem(m, B, T, 5 + N + T, 0.0, 0.0, 0.5, 3.0, 2.0);
    p.theta = {8.0};
    check_against_references(m, p, "lorenz96 N=" + std::to_string(N) + " T=" + std::to_string(T),
                             {-1, 1, 8});
  }
}

// The weight gradient is summed in a fixed order: repeated calls agree bit for bit, and the
// number of partial sums changes only rounding.
TEST(Gradient, WeightSumIsDeterministic) {
  const HostGruModel m{6, 3};
  const Problem p = random_problem(m, 3, 250, 3, 0.5, 0.0, 1.0, 0.5, 0.0);
  const Grads a = library_gradient<float>(m, p, 7, nullptr, 5);
  const Grads b = library_gradient<float>(m, p, 7, nullptr, 5);
  EXPECT_EQ(a.theta, b.theta);
  EXPECT_EQ(a.x, b.x);
  const Grads c = library_gradient<float>(m, p, 7, nullptr, 1);
  EXPECT_LE(relative(c.theta, a.theta), 1e-6);
  EXPECT_EQ(c.x, a.x);  // the vjp of each step does not depend on the chunking
}

// A zero cotangent everywhere but the last step: the gradient reaches back to s_0 through
// every step (the reverse scan runs the right way), and a cotangent on the first step only
// leaves every later input's gradient exactly zero (causality).
TEST(Gradient, CotangentFlowsBackwardOnly) {
  const HostGruModel m{4, 2};
  Problem p = random_problem(m, 1, 40, 21, 0.5, 0.0, 1.0, 0.5, 0.0);
  std::fill(p.g.begin(), p.g.end(), 0.0);
  for (int i = 0; i < m.D; ++i) p.g[std::size_t(39) * m.D + i] = 1.0;
  const Grads last = library_gradient<double>(m, p, 4);
  EXPECT_GT(ut::max_abs(last.s0), 0.0);
  std::fill(p.g.begin(), p.g.end(), 0.0);
  for (int i = 0; i < m.D; ++i) p.g[i] = 1.0;
  const Grads first = library_gradient<double>(m, p, 4);
  EXPECT_GT(ut::max_abs(std::vector<double>(first.x.begin(), first.x.begin() + m.I)), 0.0);
  EXPECT_EQ(ut::max_abs(std::vector<double>(first.x.begin() + m.I, first.x.end())), 0.0);
}

// A cell's vjp at one point, on the device: out = [grad_h | grad_x | grad_weights].
template <class Cell>
struct VjpAt {
  Cell cell;
  View1<double> h, x, v, out;
  KOKKOS_INLINE_FUNCTION void operator()(int) const {
    const int D = cell.state_size(), I = cell.input_size();
    cell.vjp(h.data(), x.data(), v.data(), out.data(), out.data() + D, out.data() + D + I);
  }
};

// The GRU's vjp gives the same from its plain weights and from its prepared (blocked) layout.
TEST(Gradient, GruVjpSameWithAndWithoutPreparedLayout) {
  const int D = 19, I = 5;  // one full block of 16 rows and a partial one
  const auto gru = ut::make_random_gru<double>(D, I, 8);
  Rng rng(4);
  const auto make = [](const std::vector<double>& values) {
    View1<double> v("v", values.size());
    ut::from_vector(v, values);
    return v;
  };
  const auto h = make(ut::normal_vector(D, rng, 0.5)), x = make(ut::normal_vector(I, rng));
  const auto v = make(ut::normal_vector(D, rng));
  const std::size_t n = std::size_t(D + I + gru.parameter_count());
  View1<double> plain("plain", n), blocked("blocked", n);
  Kokkos::parallel_for(1, VjpAt<ungulate::cells::GRU<double>>{gru, h, x, v, plain});
  Kokkos::parallel_for(1, VjpAt<ungulate::cells::GRU<double>>{gru.prepared(), h, x, v, blocked});
  const auto a = ut::to_vector(plain), b = ut::to_vector(blocked);
  EXPECT_GT(ut::max_abs(a), 0.0);
  EXPECT_LE(relative(b, a), 1e-14);
}

TEST(Gradient, RejectsInconsistentShapes) {
  const auto gru = ut::make_random_gru<double>(3, 2, 1);
  View3<double> x("x", 2, 5, 2), states("s", 2, 5, 3), g("g", 2, 4, 3), gi("gi", 2, 5, 2);
  View2<double> s0("s0", 2, 3);
  EXPECT_THROW(ungulate::gradient(gru, x, s0, states, g), std::invalid_argument);
  EXPECT_THROW(ungulate::gradient(gru, x, s0, states, gi), std::invalid_argument);
}

}  // namespace
