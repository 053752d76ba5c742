// ELK's Kalman machinery against a plain sequential Kalman filter and RTS smoother written
// here in double precision with explicit matrices.
//
// One ELK iteration from an iterate s^(0) solves the linear-Gaussian model
//   s_t = F_t s_{t-1} + u_t + N(0, I),   y_t = s_t + N(0, I / lambda),   s_0 known,
// with F_t = df/dh(s^(0)_{t-1}) (its diagonal for quasi-ELK), u_t = f(s^(0)_{t-1}) - F_t
// s^(0)_{t-1}, step 1 exact (F_1 = 0, u_1 = f(s_0)) and y_t = s^(0)_t.  The filter mean is the
// reference code's step, the smoother mean the exact minimiser of the ELK objective.
#include "test_helpers.hpp"

namespace {

using namespace ut;
using ungulate::KalmanEstimate;
using ungulate::Method;
namespace sv = ungulate::solvers;

using Vec = std::vector<double>;

struct LinearModel {
  int T = 0, D = 0;
  double lambda = 0;
  std::vector<Mat> F;  // F[t], t = 0..T-1 (0-based steps)
  std::vector<Vec> u, y;
  Vec s0;
};

/// The model of one (quasi-)ELK step for sequence b.
LinearModel linearise(const HostGru& g, int T, const Vec& x, const Vec& s0, const Vec& iterate,
                      int b, bool diagonal, double lambda) {
  const int D = g.D, I = g.I;
  LinearModel m;
  m.T = T;
  m.D = D;
  m.lambda = lambda;
  m.s0.assign(s0.begin() + b * D, s0.begin() + (b + 1) * D);
  Vec f(D);
  Mat J(std::size_t(D) * D);
  for (int t = 0; t < T; ++t) {
    const double* h = t == 0 ? &s0[std::size_t(b) * D] : &iterate[(std::size_t(b) * T + t - 1) * D];
    const double* xt = &x[(std::size_t(b) * T + t) * I];
    g.evaluate(h, xt, f.data(), J.data());
    Mat F(std::size_t(D) * D, 0.0);
    if (t > 0) {
      F = J;
      if (diagonal)
        for (int i = 0; i < D; ++i)
          for (int j = 0; j < D; ++j)
            if (i != j) F[i * D + j] = 0.0;
    }
    const Vec hv(h, h + D);
    m.F.push_back(F);
    m.u.push_back(add(f, matvec(D, F, hv), -1.0));
    m.y.emplace_back(&iterate[(std::size_t(b) * T + t) * D],
                     &iterate[(std::size_t(b) * T + t) * D] + D);
  }
  return m;
}

struct Filtered {
  std::vector<Vec> m;
  std::vector<Mat> P;
};

/// Textbook Kalman filter: predict with (F, u, Q = I), update with H = I, R = I / lambda.
Filtered kalman_filter(const LinearModel& M) {
  const int D = M.D;
  const Mat I = identity(D);
  Filtered out;
  Vec m = M.s0;
  Mat P(std::size_t(D) * D, 0.0);  // s_0 known exactly
  for (int t = 0; t < M.T; ++t) {
    const Vec mp = add(matvec(D, M.F[t], m), M.u[t]);
    const Mat Pp = add(matmul(D, matmul(D, M.F[t], P), transpose(D, M.F[t])), I);
    Mat S = Pp;
    for (int i = 0; i < D; ++i) S[i * D + i] += 1.0 / M.lambda;
    const Mat K = matmul(D, Pp, inverse(D, S));
    m = add(mp, matvec(D, K, add(M.y[t], mp, -1.0)));
    P = matmul(D, add(I, K, -1.0), Pp);
    out.m.push_back(m);
    out.P.push_back(P);
  }
  return out;
}

/// Rauch-Tung-Striebel smoother means.
std::vector<Vec> rts_smoother(const LinearModel& M, const Filtered& f) {
  const int D = M.D, T = M.T;
  const Mat I = identity(D);
  std::vector<Vec> ms(T);
  if (T == 0) return ms;
  ms[T - 1] = f.m[T - 1];
  for (int t = T - 2; t >= 0; --t) {
    const Mat& F = M.F[t + 1];
    const Mat Pp = add(matmul(D, matmul(D, F, f.P[t]), transpose(D, F)), I);
    const Mat G = matmul(D, matmul(D, f.P[t], transpose(D, F)), inverse(D, Pp));
    const Vec pred = add(matvec(D, F, f.m[t]), M.u[t + 1]);
    ms[t] = add(f.m[t], matvec(D, G, add(ms[t + 1], pred, -1.0)));
  }
  return ms;
}

/// The ELK objective sum_t |s_t - F_t s_{t-1} - u_t|^2 / 2 + lambda |s_t - y_t|^2 / 2.
double objective(const LinearModel& M, const std::vector<Vec>& s) {
  double L = 0;
  for (int t = 0; t < M.T; ++t) {
    const Vec& prev = t == 0 ? M.s0 : s[t - 1];
    const Vec r = add(add(s[t], matvec(M.D, M.F[t], prev), -1.0), M.u[t], -1.0);
    const Vec d = add(s[t], M.y[t], -1.0);
    for (int i = 0; i < M.D; ++i) L += 0.5 * r[i] * r[i] + 0.5 * M.lambda * d[i] * d[i];
  }
  return L;
}

/// Its gradient with respect to s_1..s_T (max-abs norm).
double gradient_norm(const LinearModel& M, const std::vector<Vec>& s) {
  const int D = M.D;
  std::vector<Vec> r(M.T);
  for (int t = 0; t < M.T; ++t) {
    const Vec& prev = t == 0 ? M.s0 : s[t - 1];
    r[t] = add(add(s[t], matvec(D, M.F[t], prev), -1.0), M.u[t], -1.0);
  }
  double g = 0;
  for (int t = 0; t < M.T; ++t) {
    Vec gt = add(r[t], add(s[t], M.y[t], -1.0), M.lambda);
    if (t + 1 < M.T) gt = add(gt, matvec(D, transpose(D, M.F[t + 1]), r[t + 1]), -1.0);
    g = std::max(g, max_abs(gt));
  }
  return g;
}

std::vector<Vec> rows_of(const Vec& states, int b, int T, int D) {
  std::vector<Vec> out;
  for (int t = 0; t < T; ++t)
    out.emplace_back(states.begin() + (std::size_t(b) * T + t) * D,
                     states.begin() + (std::size_t(b) * T + t + 1) * D);
  return out;
}
Vec flatten(const std::vector<Vec>& rows) {
  Vec out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

template <class S>
struct Case {
  int B, T, D, I;
  double lambda;
  ungulate::cells::GRU<S> gru;
  View3<S> x, iterate;
  View2<S> s0;
  Vec hx, hs0, hiterate;  // host copies (exactly the values the library sees)
};

template <class S>
Case<S> make_case(int B, int T, int D, int I, double lambda, std::uint64_t seed) {
  Rng rng(seed);
  Case<S> c{B, T, D, I, lambda, make_random_gru<S>(D, I, seed), {}, {}, {}, {}, {}, {}};
  c.x = make_view3<S>("x", B, T, I, normal_vector(std::size_t(B) * T * I, rng));
  c.s0 = make_view2<S>("s0", B, D, uniform_vector(std::size_t(B) * D, rng, -0.8, 0.8));
  c.iterate = make_view3<S>("iterate", B, T, D, normal_vector(std::size_t(B) * T * D, rng, 0.5));
  c.hx = to_vector(c.x);
  c.hs0 = to_vector(c.s0);
  c.hiterate = to_vector(c.iterate);
  return c;
}

template <class S>
double kalman_tol() {
  return sizeof(S) == 4 ? 1e-5 : 1e-12;
}

template <class S>
class Kalman : public ::testing::Test {};
TYPED_TEST_SUITE(Kalman, Scalars, ScalarNames);

const int kDims[] = {1, 3, 5};
const int kLengths[] = {1, 2, 7, 60};
const double kLambdas[] = {0.01, 1.0, 30.0};

// One ELK / quasi-ELK iteration through ungulate::solve equals the sequential filter mean
// (KalmanEstimate::Filter) or RTS smoother mean (::Smoother) of the linearised model.
TYPED_TEST(Kalman, OneElkStepEqualsSequentialFilterAndSmoother) {
  using S = TypeParam;
  const int B = 2, I = 2;
  int seed = 1;
  for (int D : kDims)
    for (int T : kLengths)
      for (double lambda : kLambdas) {
        const auto c = make_case<S>(B, T, D, I, lambda, 100 + seed++);
        const HostGru g(c.gru);
        for (Method method : {Method::Elk, Method::QuasiElk})
          for (KalmanEstimate est : {KalmanEstimate::Filter, KalmanEstimate::Smoother})
            for (int chunks : {1, 3}) {
              View3<S> states("states", B, T, D);
              Kokkos::deep_copy(states, c.iterate);
              ungulate::SolverOptions o;
              o.method = method;
              o.elk_estimate = est;
              o.lambda = lambda;
              o.max_iterations = 1;
              o.init = ungulate::Initialization::Given;
              o.num_chunks = chunks;
              const auto r = ungulate::solve(c.gru, c.x, c.s0, states, o);
              ASSERT_EQ(r.history.size(), 1u);
              const Vec got = to_vector(states);
              for (int b = 0; b < B; ++b) {
                const auto M =
                    linearise(g, T, c.hx, c.hs0, c.hiterate, b, method == Method::QuasiElk, lambda);
                const auto f = kalman_filter(M);
                const Vec ref = flatten(est == KalmanEstimate::Filter ? f.m : rts_smoother(M, f));
                const Vec mine = flatten(rows_of(got, b, T, D));
                EXPECT_LT(scaled_diff(mine, ref), kalman_tol<S>())
                    << ungulate::to_string(method)
                    << (est == KalmanEstimate::Filter ? " filter" : " smoother") << " D=" << D
                    << " T=" << T << " lambda=" << lambda << " chunks=" << chunks << " b=" << b;
              }
            }
      }
}

// The engine-level path: KalmanBuilder elements through ChunkedScan<Kalman*> with the
// StoreFiltered sink give the filtered means and covariances; SmootherElements through the
// reverse affine scan give the smoothed means.
template <class Structure, class S>
void check_filter_and_smoother_elements(const Case<S>& c, int chunks) {
  using Memory = ungulate::DefaultExecutionSpace::memory_space;
  using Cell = ungulate::cells::GRU<S>;
  using KalmanOp = typename Structure::template Kalman<S>;
  using AffineOp = typename Structure::template Affine<S>;
  const bool diagonal = std::is_same<Structure, sv::DiagonalJacobian>::value;
  const int B = c.B, T = c.T, D = c.D, n = Structure::size(D);

  sv::SliceBoundary<S, Memory> boundary;
  boundary.previous = c.s0;
  using Gen = sv::LinearisedElements<Cell, Structure, sv::KalmanBuilder<Structure>, Memory>;
  const Gen gen{c.gru, {c.lambda}, c.x, c.iterate, boundary, D};
  const KalmanOp kop{D};
  ungulate::scan::ChunkedScan<KalmanOp> kscan(kop, B, T, chunks, gen.scratch_size());
  View3<S> mean("mean", B, T, D), cov("cov", B, T, n);
  const double residual = double(kscan.reduce_chunks(gen, ungulate::Direction::Forward));
  kscan.scan_chunks();
  const double max_mean = double(kscan.finish(
      gen, sv::StoreFiltered<KalmanOp, Memory>{kop, mean, cov}, ungulate::Direction::Forward));

  using SGen = sv::SmootherElements<Cell, Structure, Memory>;
  const SGen sgen{c.gru, c.x, c.iterate, mean, cov, boundary, D, T};
  const AffineOp aop{D};
  ungulate::scan::ChunkedScan<AffineOp> ascan(aop, B, T, chunks, sgen.scratch_size());
  View3<S> smoothed("smoothed", B, T, D);
  ascan.reduce_chunks(sgen, ungulate::Direction::Reverse);
  ascan.scan_chunks();
  const double max_update =
      double(ascan.finish(sgen, sv::WriteIterate<AffineOp, Memory>{aop, smoothed, c.iterate},
                          ungulate::Direction::Reverse));

  const HostGru g(c.gru);
  const Vec hm = to_vector(mean), hP = to_vector(cov), hs = to_vector(smoothed);
  double ref_residual = 0, ref_max_mean = 0, ref_update = 0;
  Vec f(D);
  for (int b = 0; b < B; ++b) {
    const auto M = linearise(g, T, c.hx, c.hs0, c.hiterate, b, diagonal, c.lambda);
    const auto fl = kalman_filter(M);
    const auto sm = rts_smoother(M, fl);
    const std::string where = std::string(diagonal ? "diagonal" : "dense") +
                              " D=" + std::to_string(D) + " T=" + std::to_string(T) +
                              " lambda=" + std::to_string(c.lambda) +
                              " chunks=" + std::to_string(chunks) + " b=" + std::to_string(b);
    EXPECT_LT(scaled_diff(flatten(rows_of(hm, b, T, D)), flatten(fl.m)), kalman_tol<S>())
        << "filtered mean, " << where;
    Vec Pref;
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < D; ++i)
        if (diagonal)
          Pref.push_back(fl.P[t][i * D + i]);
        else
          for (int j = 0; j < D; ++j) Pref.push_back(fl.P[t][i * D + j]);
    EXPECT_LT(scaled_diff(flatten(rows_of(hP, b, T, n)), Pref), kalman_tol<S>())
        << "filtered covariance, " << where;
    EXPECT_LT(scaled_diff(flatten(rows_of(hs, b, T, D)), flatten(sm)), kalman_tol<S>())
        << "smoothed mean, " << where;
    for (int t = 0; t < T; ++t) {
      const double* h =
          t == 0 ? &c.hs0[std::size_t(b) * D] : &c.hiterate[(std::size_t(b) * T + t - 1) * D];
      g.evaluate(h, &c.hx[(std::size_t(b) * T + t) * c.I], f.data());
      for (int i = 0; i < D; ++i) {
        ref_residual =
            std::max(ref_residual, std::abs(c.hiterate[(std::size_t(b) * T + t) * D + i] - f[i]));
        ref_max_mean = std::max(ref_max_mean, std::abs(fl.m[t][i]));
        ref_update =
            std::max(ref_update, std::abs(sm[t][i] - c.hiterate[(std::size_t(b) * T + t) * D + i]));
      }
    }
  }
  // The values the generator and sinks report through the reductions.
  EXPECT_NEAR(residual, ref_residual, kalman_tol<S>() * (1 + ref_residual));
  EXPECT_NEAR(max_mean, ref_max_mean, kalman_tol<S>() * (1 + ref_max_mean));
  EXPECT_NEAR(max_update, ref_update, kalman_tol<S>() * (1 + ref_update));
}

TYPED_TEST(Kalman, FilterCovarianceAndSmootherElements) {
  using S = TypeParam;
  int seed = 500;
  for (int D : kDims)
    for (int T : kLengths)
      for (double lambda : kLambdas) {
        const auto c = make_case<S>(2, T, D, 3, lambda, seed++);
        for (int chunks : {1, 4, 64}) {
          check_filter_and_smoother_elements<sv::DenseJacobian>(c, chunks);
          check_filter_and_smoother_elements<sv::DiagonalJacobian>(c, chunks);
        }
      }
}

// The smoother mean is the exact minimiser of the ELK objective: it is no worse than the
// filter mean, the iterate itself or nearby points, and the gradient vanishes there.
TEST(KalmanObjective, SmootherMinimisesElkObjective) {
  using S = double;
  const int B = 2, I = 2;
  Rng perturb(99);
  for (int D : {1, 3, 5})
    for (int T : {2, 7, 60})
      for (double lambda : {0.01, 1.0, 30.0})
        for (Method method : {Method::Elk, Method::QuasiElk}) {
          const auto c = make_case<S>(B, T, D, I, lambda, 7000 + 10 * D + T);
          const HostGru g(c.gru);
          Vec by_estimate[2];
          for (KalmanEstimate est : {KalmanEstimate::Filter, KalmanEstimate::Smoother}) {
            View3<S> states("states", B, T, D);
            Kokkos::deep_copy(states, c.iterate);
            ungulate::SolverOptions o;
            o.method = method;
            o.elk_estimate = est;
            o.lambda = lambda;
            o.max_iterations = 1;
            o.init = ungulate::Initialization::Given;
            ungulate::solve(c.gru, c.x, c.s0, states, o);
            by_estimate[est == KalmanEstimate::Smoother] = to_vector(states);
          }
          for (int b = 0; b < B; ++b) {
            const auto M =
                linearise(g, T, c.hx, c.hs0, c.hiterate, b, method == Method::QuasiElk, lambda);
            const auto filt = rows_of(by_estimate[0], b, T, D);
            const auto smooth = rows_of(by_estimate[1], b, T, D);
            const double Ls = objective(M, smooth), Lf = objective(M, filt);
            const double Ly = objective(M, M.y);
            const std::string where = std::string(ungulate::to_string(method)) +
                                      " D=" + std::to_string(D) + " T=" + std::to_string(T) +
                                      " lambda=" + std::to_string(lambda);
            EXPECT_LE(Ls, Lf * (1 + 1e-12) + 1e-14) << where;
            EXPECT_LE(Ls, Ly * (1 + 1e-12) + 1e-14) << where;
            // For T > 1 the filter is not the minimiser in general: strictly worse.
            if (T > 1) {
              EXPECT_LT(Ls, Lf * (1 - 1e-9)) << where;
            }
            EXPECT_LT(gradient_norm(M, smooth), 1e-9 * (1 + gradient_norm(M, filt))) << where;
            for (int k = 0; k < 5; ++k) {
              auto near = smooth;
              for (auto& row : near)
                for (auto& v : row) v += 1e-3 * std::normal_distribution<double>()(perturb);
              EXPECT_LE(Ls, objective(M, near)) << where;
            }
          }
        }
}

}  // namespace
