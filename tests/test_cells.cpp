// Cells: the GRU's, LSTM's and Lorenz-96's values against independent host implementations,
// their analytic Jacobians against dual numbers and central finite differences; dual numbers
// themselves; and a user cell with only a templated `evaluate` going through every solver.
#include "cell_references.hpp"
#include "test_helpers.hpp"

namespace {

using namespace ut;
namespace uc = ungulate::cells;

/// Everything the tests compare, for n sample points (h_k, x_k).
template <class Cell>
struct JacobianProbe {
  using S = typename Cell::value_type;
  Cell cell;
  View2<S> h, x;          // (n, D), (n, I)
  View2<S> f_eval;        // evaluate<S>
  View2<S> f_cd, diag_c;  // CellJacobian::diagonal
  View2<S> f_cx, jac_c;   // CellJacobian::dense
  View2<S> f_dd, diag_d;  // DualJacobian::diagonal
  View2<S> f_dx, jac_d;   // DualJacobian::dense
  View2<S> fd;            // central differences of evaluate, (n, D*D) row-major
  View2<S> scratch;       // (n, 8 D + 1)
  S eps;

  KOKKOS_INLINE_FUNCTION void operator()(const int k) const {
    const int D = cell.state_size();
    const S* hk = &h(k, 0);
    const S* xk = &x(k, 0);
    S* sc = &scratch(k, 0);
    cell.evaluate(hk, xk, &f_eval(k, 0));
    uc::CellJacobian<Cell>::diagonal(cell, hk, xk, &f_cd(k, 0), &diag_c(k, 0), sc);
    uc::CellJacobian<Cell>::dense(cell, hk, xk, &f_cx(k, 0), &jac_c(k, 0), sc);
    uc::DualJacobian<Cell>::diagonal(cell, hk, xk, &f_dd(k, 0), &diag_d(k, 0), sc);
    uc::DualJacobian<Cell>::dense(cell, hk, xk, &f_dx(k, 0), &jac_d(k, 0), sc);
    S* hp = sc;  // scratch reused: the Jacobians above are done
    S* fp = hp + D;
    S* fm = fp + D;
    for (int j = 0; j < D; ++j) {
      for (int i = 0; i < D; ++i) hp[i] = hk[i];
      hp[j] = hk[j] + eps;
      cell.evaluate(hp, xk, fp);
      hp[j] = hk[j] - eps;
      cell.evaluate(hp, xk, fm);
      for (int i = 0; i < D; ++i) fd(k, i * D + j) = (fp[i] - fm[i]) / (S(2) * eps);
    }
  }
};

struct ProbeOut {
  int n, D, I;
  std::vector<double> h, x, f_eval, f_cd, diag_c, f_cx, jac_c, f_dd, diag_d, f_dx, jac_d, fd;
  std::vector<double> diag_of(const std::vector<double>& jac) const {
    std::vector<double> d;
    for (int k = 0; k < n; ++k)
      for (int i = 0; i < D; ++i) d.push_back(jac[(std::size_t(k) * D + i) * D + i]);
    return d;
  }
};

template <class Cell>
ProbeOut probe(const Cell& cell, int n, std::uint64_t seed, double eps = 1e-5,
               double h_scale = 1.0) {
  using S = typename Cell::value_type;
  const int D = cell.state_size(), I = cell.input_size();
  Rng rng(seed);
  JacobianProbe<Cell> p;
  p.cell = cell;
  p.h = make_view2<S>("h", n, D, normal_vector(std::size_t(n) * D, rng, h_scale));
  p.x = make_view2<S>("x", n, I, normal_vector(std::size_t(n) * I, rng));
  p.f_eval = View2<S>("f", n, D);
  p.f_cd = View2<S>("f_cd", n, D);
  p.diag_c = View2<S>("diag_c", n, D);
  p.f_cx = View2<S>("f_cx", n, D);
  p.jac_c = View2<S>("jac_c", n, D * D);
  p.f_dd = View2<S>("f_dd", n, D);
  p.diag_d = View2<S>("diag_d", n, D);
  p.f_dx = View2<S>("f_dx", n, D);
  p.jac_d = View2<S>("jac_d", n, D * D);
  p.fd = View2<S>("fd", n, D * D);
  p.scratch = View2<S>("scratch", n, 8 * D + 1);
  p.eps = S(eps);
  Kokkos::parallel_for("jacobian_probe", Kokkos::RangePolicy<>(0, n), p);
  Kokkos::fence();
  return {n,
          D,
          I,
          to_vector(p.h),
          to_vector(p.x),
          to_vector(p.f_eval),
          to_vector(p.f_cd),
          to_vector(p.diag_c),
          to_vector(p.f_cx),
          to_vector(p.jac_c),
          to_vector(p.f_dd),
          to_vector(p.diag_d),
          to_vector(p.f_dx),
          to_vector(p.jac_d),
          to_vector(p.fd)};
}

template <class S>
class GruCell : public ::testing::Test {};
TYPED_TEST_SUITE(GruCell, Scalars, ScalarNames);

struct Shape {
  int hidden, inputs;
};
// 17 and 33 straddle the packed evaluation's 16-row blocks.
const Shape kShapes[] = {{1, 1}, {1, 3}, {4, 2}, {7, 10}, {16, 5}, {17, 3}, {33, 4}};

template <class S>
double rounding_tol() {
  return sizeof(S) == 4 ? 2e-5 : 1e-13;
}

// The GRU computes the flax/PyTorch cell (gate order r, z, n; b_hn inside r * (.)): checked
// against an independent host implementation in double.
TYPED_TEST(GruCell, EvaluateMatchesHostReference) {
  using S = TypeParam;
  for (const auto& sh : kShapes)
    for (std::uint64_t seed : {1, 2}) {
      for (bool packed : {false, true}) {
        const auto plain = make_random_gru<S>(sh.hidden, sh.inputs, seed, 1.5, 1.0);
        const auto gru = packed ? plain.prepared() : plain;  // row by row, and in row blocks
        const HostGru ref(plain);
        const auto p = probe(gru, 20, seed + 10);
        std::vector<double> f(p.f_eval.size());
        for (int k = 0; k < p.n; ++k)
          ref.evaluate(&p.h[std::size_t(k) * p.D], &p.x[std::size_t(k) * p.I],
                       &f[std::size_t(k) * p.D]);
        EXPECT_LT(max_abs_diff(p.f_eval, f), 10 * rounding_tol<S>())
            << "hidden=" << sh.hidden << " inputs=" << sh.inputs;
        // Every entry point returns the same f.
        for (const auto* other : {&p.f_cd, &p.f_cx, &p.f_dd, &p.f_dx})
          EXPECT_LT(max_abs_diff(*other, p.f_eval), rounding_tol<S>());
      }
    }
}

/// evaluate_points<N> and evaluate_points_with_diagonal_jacobian<N> over n = N * groups
/// points, into (n, D) outputs.
template <class S, int N>
struct GruPoints {
  uc::GRU<S> cell;
  View2<S> h, x, f, f_diag, diag;
  KOKKOS_INLINE_FUNCTION void operator()(const int g) const {
    const S *hp[N], *xp[N];
    S *fp[N], *fdp[N], *dp[N];
    for (int p = 0; p < N; ++p) {
      hp[p] = &h(g * N + p, 0);
      xp[p] = &x(g * N + p, 0);
      fp[p] = &f(g * N + p, 0);
      fdp[p] = &f_diag(g * N + p, 0);
      dp[p] = &diag(g * N + p, 0);
    }
    cell.template evaluate_points<N>(hp, xp, fp);
    cell.template evaluate_points_with_diagonal_jacobian<N>(hp, xp, fdp, dp);
  }
};

template <class S, int N>
void check_points_match_single_points(const uc::GRU<S>& gru, const ProbeOut& single) {
  const int n = single.n - single.n % N, D = single.D, I = single.I;
  const std::vector<double> h(single.h.begin(), single.h.begin() + std::size_t(n) * D);
  const std::vector<double> x(single.x.begin(), single.x.begin() + std::size_t(n) * I);
  GruPoints<S, N> k{gru,
                    make_view2<S>("h", n, D, h),
                    make_view2<S>("x", n, I, x),
                    View2<S>("f", n, D),
                    View2<S>("f_diag", n, D),
                    View2<S>("diag", n, D)};
  Kokkos::parallel_for("gru_points", Kokkos::RangePolicy<>(0, n / N), k);
  Kokkos::fence();
  const std::size_t m = std::size_t(n) * D;
  const std::vector<double> f_ref(single.f_eval.begin(), single.f_eval.begin() + m);
  const std::vector<double> d_ref(single.diag_c.begin(), single.diag_c.begin() + m);
  // Bitwise: a sequence's states must not depend on how many others share its work item
  // (the batch size, the thread count), nor differ between the sequential and Newton paths.
  EXPECT_EQ(max_abs_diff(to_vector(k.f), f_ref), 0.0) << "N=" << N << " D=" << D;
  EXPECT_EQ(max_abs_diff(to_vector(k.f_diag), f_ref), 0.0) << "N=" << N << " D=" << D;
  EXPECT_EQ(max_abs_diff(to_vector(k.diag), d_ref), 0.0) << "N=" << N << " D=" << D;
}

// Several independent points at once (the CPU solvers' interleaved linearisation, the
// sequential pass's groups of sequences) give exactly what one point at a time gives, in both
// evaluation layouts and across the 16-row blocks.
TYPED_TEST(GruCell, PointsAtOnceMatchOnePointAtATime) {
  using S = TypeParam;
  static_assert(uc::detail::has_points_diagonal_jacobian<uc::GRU<S>>::value, "");
  for (const auto& sh : kShapes)
    for (bool packed : {false, true}) {
      const auto plain = make_random_gru<S>(sh.hidden, sh.inputs, 21, 1.5, 1.0);
      const auto gru = packed ? plain.prepared() : plain;
      const auto single = probe(gru, 24, 22);
      check_points_match_single_points<S, 1>(gru, single);
      check_points_match_single_points<S, 3>(gru, single);
      check_points_match_single_points<S, 4>(gru, single);
    }
}

TYPED_TEST(GruCell, AnalyticJacobiansMatchDualNumbers) {
  using S = TypeParam;
  static_assert(uc::detail::has_dense_jacobian<uc::GRU<S>>::value, "GRU has analytic Jacobians");
  static_assert(uc::detail::has_diagonal_jacobian<uc::GRU<S>>::value, "");
  EXPECT_EQ(uc::CellJacobian<uc::GRU<S>>::scratch_size(uc::GRU<S>(3, 2)), 0);
  for (const auto& sh : kShapes)
    for (std::uint64_t seed : {3, 4}) {
      const auto plain = make_random_gru<S>(sh.hidden, sh.inputs, seed, 1.5, 1.0);
      const auto gru = seed == 3 ? plain : plain.prepared();  // both evaluation layouts
      const auto p = probe(gru, 20, seed + 10);
      const std::string where =
          "hidden=" + std::to_string(sh.hidden) + " inputs=" + std::to_string(sh.inputs);
      // Entries are O(1): absolute tolerances at rounding level.
      EXPECT_LT(max_abs_diff(p.jac_c, p.jac_d), 10 * rounding_tol<S>()) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_d), 10 * rounding_tol<S>()) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(p.jac_c)), rounding_tol<S>()) << where;
      EXPECT_LT(max_abs_diff(p.diag_d, p.diag_of(p.jac_d)), rounding_tol<S>()) << where;
      EXPECT_GT(max_abs(p.jac_c), 0.1) << "a degenerate Jacobian proves nothing";
    }
}

TEST(GruCellDouble, JacobiansMatchCentralDifferences) {
  for (const auto& sh : kShapes)
    for (std::uint64_t seed : {5, 6, 7}) {
      const auto plain = make_random_gru<double>(sh.hidden, sh.inputs, seed, 1.5, 1.0);
      const auto gru = seed == 6 ? plain : plain.prepared();
      const auto p = probe(gru, 20, seed + 10, 1e-5);
      const std::string where =
          "hidden=" + std::to_string(sh.hidden) + " inputs=" + std::to_string(sh.inputs);
      EXPECT_LT(max_abs_diff(p.jac_c, p.fd), 1e-8) << where;
      EXPECT_LT(max_abs_diff(p.jac_d, p.fd), 1e-8) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(p.fd)), 1e-8) << where;
      // And the independent host Jacobian agrees (so the host reference used elsewhere is
      // right too).
      const HostGru ref(gru);
      std::vector<double> f(p.D), J(std::size_t(p.D) * p.D), all;
      for (int k = 0; k < p.n; ++k) {
        ref.evaluate(&p.h[std::size_t(k) * p.D], &p.x[std::size_t(k) * p.I], f.data(), J.data());
        all.insert(all.end(), J.begin(), J.end());
      }
      EXPECT_LT(max_abs_diff(all, p.jac_c), 1e-13) << where;
    }
}

// ---- LSTM --------------------------------------------------------------------------------------

template <class S>
class LstmCell : public ::testing::Test {};
TYPED_TEST_SUITE(LstmCell, Scalars, ScalarNames);

// (hidden, inputs): the state has 2 * hidden values.
// 17 and 33 straddle the packed evaluation's 16-row blocks.
const Shape kLstmShapes[] = {{1, 1}, {1, 3}, {2, 2}, {4, 2}, {7, 10}, {16, 5}, {17, 3}, {33, 4}};

// torch.nn.LSTMCell's equations (gates i, f, g, o; state (h, c)) against the host reference.
TYPED_TEST(LstmCell, EvaluateMatchesHostReference) {
  using S = TypeParam;
  for (const auto& sh : kLstmShapes)
    for (std::uint64_t seed : {1, 2})
      for (bool packed : {false, true}) {
        const auto plain = make_random_lstm<S>(sh.hidden, sh.inputs, seed, 1.5, 1.0);
        const auto cell = packed ? plain.prepared() : plain;  // row by row, and in row blocks
        EXPECT_EQ(cell.state_size(), 2 * sh.hidden);
        EXPECT_EQ(cell.input_size(), sh.inputs);
        const HostLstm ref(plain);
        const auto p = probe(cell, 20, seed + 10);
        std::vector<double> f(p.f_eval.size());
        for (int k = 0; k < p.n; ++k)
          ref.evaluate(&p.h[std::size_t(k) * p.D], &p.x[std::size_t(k) * p.I],
                       &f[std::size_t(k) * p.D]);
        const std::string where = "hidden=" + std::to_string(sh.hidden) +
                                  " inputs=" + std::to_string(sh.inputs) +
                                  (packed ? " packed" : " row by row");
        // c' = f c + i g is O(|c|): relative to the data's scale.
        EXPECT_LT(scaled_diff(p.f_eval, f), 10 * rounding_tol<S>()) << where;
        for (const auto* other : {&p.f_cd, &p.f_cx, &p.f_dd, &p.f_dx})
          EXPECT_LT(max_abs_diff(*other, p.f_eval), 10 * rounding_tol<S>()) << where;
      }
}

TYPED_TEST(LstmCell, AnalyticJacobiansMatchDualNumbers) {
  using S = TypeParam;
  using Cell = uc::LSTM<S>;
  static_assert(uc::detail::has_dense_jacobian<Cell>::value, "LSTM has analytic Jacobians");
  static_assert(uc::detail::has_diagonal_jacobian<Cell>::value, "");
  EXPECT_EQ(uc::CellJacobian<Cell>::scratch_size(Cell(3, 2)), 0);
  for (const auto& sh : kLstmShapes)
    for (std::uint64_t seed : {3, 4}) {
      const auto plain = make_random_lstm<S>(sh.hidden, sh.inputs, seed, 1.5, 1.0);
      const auto cell = seed == 3 ? plain : plain.prepared();  // both evaluation layouts
      const auto p = probe(cell, 20, seed + 10);
      const std::string where =
          "hidden=" + std::to_string(sh.hidden) + " inputs=" + std::to_string(sh.inputs);
      EXPECT_LT(max_abs_diff(p.jac_c, p.jac_d), 10 * rounding_tol<S>()) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_d), 10 * rounding_tol<S>()) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(p.jac_c)), rounding_tol<S>()) << where;
      EXPECT_GT(max_abs(p.jac_c), 0.1) << "a degenerate Jacobian proves nothing";
    }
}

TEST(LstmCellDouble, JacobiansMatchCentralDifferences) {
  for (const auto& sh : kLstmShapes)
    for (std::uint64_t seed : {5, 6, 7}) {
      const auto cell = make_random_lstm<double>(sh.hidden, sh.inputs, seed, 1.5, 1.0);
      const auto p = probe(cell, 20, seed + 10, 1e-5);
      const std::string where =
          "hidden=" + std::to_string(sh.hidden) + " inputs=" + std::to_string(sh.inputs);
      EXPECT_LT(max_abs_diff(p.jac_c, p.fd), 1e-8) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(p.fd)), 1e-8) << where;
      // The structure: dc'/dc = diag(f) with 0 < f < 1, dh'/dc diagonal.
      const int H = sh.hidden, D = 2 * H;
      double off_diagonal = 0;
      for (int k = 0; k < p.n; ++k)
        for (int r = 0; r < H; ++r) {
          const double* jac = &p.jac_c[std::size_t(k) * D * D];
          const double f = jac[std::size_t(H + r) * D + H + r];
          EXPECT_GT(f, 0.0) << where;
          EXPECT_LT(f, 1.0) << where;
          for (int j = 0; j < H; ++j)
            if (j != r)
              off_diagonal = std::max({off_diagonal, std::abs(jac[std::size_t(r) * D + H + j]),
                                       std::abs(jac[std::size_t(H + r) * D + H + j])});
        }
      EXPECT_EQ(off_diagonal, 0.0) << where;
    }
}

// ---- Lorenz-96 ---------------------------------------------------------------------------------

template <class S>
class Lorenz96Cell : public ::testing::Test {};
TYPED_TEST_SUITE(Lorenz96Cell, Scalars, ScalarNames);

// Below 13 variables the 13-wide window of an output wraps around the ring.
const int kLorenzSizes[] = {1, 2, 3, 4, 5, 8, 12, 13, 14, 40};

// The windowed RK4 step against a plain whole-vector RK4 step on the host, with non-zero
// inputs (forcing perturbations) and two step sizes.
TYPED_TEST(Lorenz96Cell, EvaluateMatchesWholeVectorRk4) {
  using S = TypeParam;
  for (int N : kLorenzSizes)
    for (double dt : {0.01, 0.05}) {
      const auto cell = make_lorenz96<S>(N, 8.0, dt);
      const HostLorenz96 ref(cell);
      const auto p = probe(cell, 10, 100 + N, 1e-5, 3.0);
      std::vector<double> f(p.f_eval.size());
      for (int k = 0; k < p.n; ++k)
        ref.evaluate(&p.h[std::size_t(k) * p.D], &p.x[std::size_t(k) * p.I],
                     &f[std::size_t(k) * p.D]);
      const std::string where = "N=" + std::to_string(N) + " dt=" + std::to_string(dt);
      EXPECT_LT(scaled_diff(p.f_eval, f), rounding_tol<S>()) << where;
      for (const auto* other : {&p.f_cd, &p.f_cx, &p.f_dd, &p.f_dx})
        EXPECT_LT(scaled_diff(*other, p.f_eval), rounding_tol<S>()) << where;
      // The step moves the state: a cell that returned its input would pass the rest.
      EXPECT_GT(max_abs_diff(p.f_eval, p.h), 0.1 * dt) << where;
    }
}

TYPED_TEST(Lorenz96Cell, AnalyticJacobiansMatchDualNumbers) {
  using S = TypeParam;
  using Cell = uc::Lorenz96<S>;
  static_assert(uc::detail::has_dense_jacobian<Cell>::value, "Lorenz-96 has analytic Jacobians");
  static_assert(uc::detail::has_diagonal_jacobian<Cell>::value, "");
  EXPECT_EQ(uc::CellJacobian<Cell>::scratch_size(make_lorenz96<S>(5)), 0);
  for (int N : kLorenzSizes) {
    const auto cell = make_lorenz96<S>(N, 8.0, 0.05);
    const auto p = probe(cell, 10, 200 + N, 1e-5, 3.0);
    const std::string where = "N=" + std::to_string(N);
    EXPECT_LT(max_abs_diff(p.jac_c, p.jac_d), 10 * rounding_tol<S>()) << where;
    EXPECT_LT(max_abs_diff(p.diag_c, p.diag_d), 10 * rounding_tol<S>()) << where;
    EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(p.jac_c)), rounding_tol<S>()) << where;
  }
}

TEST(Lorenz96CellDouble, JacobiansMatchCentralDifferencesAndMatrixProduct) {
  for (int N : kLorenzSizes)
    for (double dt : {0.01, 0.1}) {
      const auto cell = make_lorenz96<double>(N, 8.0, dt);
      const auto p = probe(cell, 10, 300 + N, 1e-5, 3.0);
      const std::string where = "N=" + std::to_string(N) + " dt=" + std::to_string(dt);
      EXPECT_LT(max_abs_diff(p.jac_c, p.fd), 1e-8) << where;
      EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(p.fd)), 1e-8) << where;
      // The chain rule written as dense matrix products on the host.
      const HostLorenz96 ref(cell);
      std::vector<double> f(p.D), J(std::size_t(p.D) * p.D), all;
      for (int k = 0; k < p.n; ++k) {
        ref.evaluate(&p.h[std::size_t(k) * p.D], &p.x[std::size_t(k) * p.I], f.data(), J.data());
        all.insert(all.end(), J.begin(), J.end());
      }
      EXPECT_LT(max_abs_diff(all, p.jac_c), 1e-12) << where;
      // Off the identity by O(dt): the Jacobian is not trivially I.
      std::vector<double> minus_identity = p.jac_c;
      for (int k = 0; k < p.n; ++k)
        for (int i = 0; i < p.D; ++i) minus_identity[(std::size_t(k) * p.D + i) * p.D + i] -= 1;
      EXPECT_GT(max_abs(minus_identity), 0.1 * dt) << where;
    }
}

// For N >= 13 a row of the step's Jacobian is zero outside columns j - 8 .. j + 4.
TEST(Lorenz96CellDouble, JacobianRowsHaveThirteenWideStencil) {
  const int N = 40;
  const auto cell = make_lorenz96<double>(N, 8.0, 0.05);
  const auto p = probe(cell, 4, 77, 1e-5, 3.0);
  for (int k = 0; k < p.n; ++k)
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j) {
        const int offset = ((j - i) % N + N + 8) % N;  // 0 .. 12 inside the stencil
        const double v = p.jac_c[(std::size_t(k) * N + i) * N + j];
        if (offset > 12)
          EXPECT_EQ(v, 0.0) << "row " << i << " column " << j;
        else
          EXPECT_NE(v, 0.0) << "row " << i << " column " << j;
      }
}

// ---- dual numbers ----------------------------------------------------------------------------

TEST(DualNumbers, ArithmeticAndElementaryFunctions) {
  using D1 = ungulate::Dual<double>;
  namespace um = ungulate::math;
  for (double v : {-1.7, -0.3, 0.4, 2.2}) {
    const D1 x(v, 1.0);
    // g(x) = (3 x^2 - x / (1 + x^2)) * tanh(x) + exp(-x) * sqrt(x^2 + 1) - |x|, written with
    // every operator and every mixed scalar form.
    const D1 x2 = x * x;
    D1 g =
        (3.0 * x2 - x / (1.0 + x2)) * um::tanh(x) + um::exp(-x) * um::sqrt(x2 + 1.0) - um::abs(x);
    g += x - 1.0;
    g -= 2.0 - x;
    g *= D1(0.5);
    g = g / 2.0 + 4.0 / (x2 + 2.0);
    const auto value = [](double t) {
      double r = (3 * t * t - t / (1 + t * t)) * std::tanh(t) +
                 std::exp(-t) * std::sqrt(t * t + 1) - std::abs(t);
      r += t - 1.0;
      r -= 2.0 - t;
      r *= 0.5;
      return r / 2.0 + 4.0 / (t * t + 2.0);
    };
    const double e = 1e-6;
    EXPECT_NEAR(g.v, value(v), 1e-14);
    EXPECT_NEAR(g.d, (value(v + e) - value(v - e)) / (2 * e), 1e-8) << "x=" << v;
    const D1 s = um::sigmoid(x);
    const double sv = 1 / (1 + std::exp(-v));
    EXPECT_NEAR(s.v, sv, 1e-15);
    EXPECT_NEAR(s.d, sv * (1 - sv), 1e-15);
  }
}

// ---- a user cell with only a templated evaluate --------------------------------------------

TEST(UserCell, DualJacobianOfTanhRnn) {
  static_assert(!uc::detail::has_dense_jacobian<TanhRnn<double>>::value, "no analytic Jacobian");
  static_assert(!uc::detail::has_diagonal_jacobian<TanhRnn<double>>::value, "");
  for (int D : {1, 3, 6}) {
    const auto cell = make_tanh_rnn<double>(D, 2, 40 + D, 1.2);
    EXPECT_EQ(uc::CellJacobian<TanhRnn<double>>::scratch_size(cell), 4 * D);
    const auto p = probe(cell, 15, 3 + D, 1e-5);
    // d tanh(W h + U x + c) / dh = diag(1 - f^2) W
    const auto W = to_vector(cell.W);
    std::vector<double> J;
    for (int k = 0; k < p.n; ++k)
      for (int i = 0; i < D; ++i) {
        const double f = p.f_eval[std::size_t(k) * D + i];
        for (int j = 0; j < D; ++j) J.push_back((1 - f * f) * W[std::size_t(i) * D + j]);
      }
    const HostTanhRnn ref(cell);
    std::vector<double> f(p.f_eval.size());
    for (int k = 0; k < p.n; ++k)
      ref.evaluate(&p.h[std::size_t(k) * D], &p.x[std::size_t(k) * 2], &f[std::size_t(k) * D]);
    EXPECT_LT(max_abs_diff(p.f_eval, f), 1e-14);
    EXPECT_LT(max_abs_diff(p.f_cx, f), 1e-14);
    EXPECT_LT(max_abs_diff(p.jac_c, J), 1e-13) << "D=" << D;
    EXPECT_LT(max_abs_diff(p.diag_c, p.diag_of(J)), 1e-13) << "D=" << D;
    EXPECT_LT(max_abs_diff(p.jac_c, p.fd), 1e-8) << "D=" << D;
  }
}

TEST(UserCell, DualJacobianOfLogisticMap) {
  ut::LogisticMap<double> cell;
  cell.dim = 2;
  const auto p = probe(cell, 10, 9, 1e-5, 0.5);
  for (int k = 0; k < p.n; ++k)
    for (int i = 0; i < 2; ++i) {
      const double h = p.h[std::size_t(k) * 2 + i];
      EXPECT_NEAR(p.f_eval[std::size_t(k) * 2 + i], 3.9 * h * (1 - h), 1e-14);
      EXPECT_NEAR(p.diag_c[std::size_t(k) * 2 + i], 3.9 * (1 - 2 * h), 1e-14);
      EXPECT_NEAR(p.jac_c[(std::size_t(k) * 2 + i) * 2 + (1 - i)], 0.0, 0.0);
    }
}

template <class S>
class UserCellSolve : public ::testing::Test {};
TYPED_TEST_SUITE(UserCellSolve, Scalars, ScalarNames);

// Every solver handles a cell without analytic Jacobians (dual-number fallback) and agrees
// with sequential evaluation and with a host double-precision loop.
TYPED_TEST(UserCellSolve, EverySolverMatchesSequential) {
  using S = TypeParam;
  for (int D : {1, 4})
    for (int T : {1, 7, 300})
      for (int B : {1, 3}) {
        const int I = 2;
        const std::uint64_t seed = 1000 + 10 * D + T + B;
        const auto cell = make_tanh_rnn<S>(D, I, seed);
        Rng rng(seed);
        const auto hx = normal_vector(std::size_t(B) * T * I, rng);
        const auto hs0 = uniform_vector(std::size_t(B) * D, rng, -0.5, 0.5);
        const auto x = make_view3<S>("x", B, T, I, hx);
        const auto s0 = make_view2<S>("s0", B, D, hs0);
        View3<S> ref("ref", B, T, D), out("out", B, T, D);
        ungulate::SolverOptions o;
        o.method = ungulate::Method::Sequential;
        const auto rs = ungulate::solve(cell, x, s0, ref, o);
        EXPECT_EQ(rs.status, ungulate::Status::Converged);
        const auto href = to_vector(ref);
        // Sequential itself against the host loop on the same (rounded) data.
        const auto host = host_sequential(HostTanhRnn(cell), B, T, to_vector(x), to_vector(s0));
        EXPECT_LT(scaled_diff(href, host), sizeof(S) == 4 ? 1e-5 : 1e-13);
        for (const auto& v : all_variants()) {
          v.apply(o);
          o.max_iterations = std::min(T + 60, 200);  // see SolverDefaults in test_solvers
          const auto r = ungulate::solve(cell, x, s0, out, o);
          const std::string where = v.name() + " D=" + std::to_string(D) +
                                    " T=" + std::to_string(T) + " B=" + std::to_string(B);
          EXPECT_EQ(r.status, ungulate::Status::Converged) << where;
          EXPECT_LT(scaled_diff(to_vector(out), href), solver_tol<S>()) << where;
        }
      }
}

}  // namespace
