#pragma once
// Random LSTM and Lorenz-96 cells for the tests, and host double-precision references written
// independently of the library's implementations (the LSTM straight from PyTorch's equations;
// Lorenz-96 as a plain whole-vector RK4 step with its Jacobian as a product of dense matrices).
#include "test_helpers.hpp"

namespace ut {

/// An LSTM with random weights: W_ih ~ N(0, 1/I), W_hh ~ N(0, gain^2/H), biases
/// ~ N(0, bias_sd^2).  Weights live in the default memory space.
template <class S>
ungulate::cells::LSTM<S> make_random_lstm(int hidden, int inputs, std::uint64_t seed,
                                          double gain = 1.0, double bias_sd = 0.5) {
  ungulate::cells::LSTM<S> cell(hidden, inputs);
  Rng rng(seed);
  from_vector(cell.weight_ih,
              normal_vector(std::size_t(4) * hidden * inputs, rng, 1.0 / std::sqrt(inputs)));
  from_vector(cell.weight_hh,
              normal_vector(std::size_t(4) * hidden * hidden, rng, gain / std::sqrt(hidden)));
  from_vector(cell.bias_ih, normal_vector(std::size_t(4) * hidden, rng, bias_sd));
  from_vector(cell.bias_hh, normal_vector(std::size_t(4) * hidden, rng, bias_sd));
  return cell;
}

/// torch.nn.LSTMCell on the host in double; the state is (h, c).
struct HostLstm {
  int H = 0, D = 0, I = 0;
  std::vector<double> wih, whh, bih, bhh;  // (4H, I), (4H, H), (4H), (4H)

  template <class Cell>
  explicit HostLstm(const Cell& cell)
      : H(cell.hidden_size()),
        D(2 * cell.hidden_size()),
        I(cell.input_size()),
        wih(to_vector(cell.weight_ih)),
        whh(to_vector(cell.weight_hh)),
        bih(to_vector(cell.bias_ih)),
        bhh(to_vector(cell.bias_hh)) {}

  static double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

  void evaluate(const double* s, const double* x, double* out) const {
    const double* h = s;
    const double* c = s + H;
    std::vector<double> gates(std::size_t(4) * H);
    for (int k = 0; k < 4 * H; ++k) {
      double a = bih[k] + bhh[k];
      for (int m = 0; m < I; ++m) a += wih[std::size_t(k) * I + m] * x[m];
      for (int j = 0; j < H; ++j) a += whh[std::size_t(k) * H + j] * h[j];
      gates[k] = a;
    }
    for (int r = 0; r < H; ++r) {
      const double i = sigmoid(gates[r]), f = sigmoid(gates[H + r]);
      const double g = std::tanh(gates[2 * H + r]), o = sigmoid(gates[3 * H + r]);
      const double cn = f * c[r] + i * g;
      out[H + r] = cn;
      out[r] = o * std::tanh(cn);
    }
  }
};

/// A Lorenz-96 cell (float or double) with the given parameters.
template <class S>
ungulate::cells::Lorenz96<S> make_lorenz96(int n, double forcing = 8.0, double dt = 0.01) {
  return ungulate::cells::Lorenz96<S>(n, S(forcing), S(dt));
}

/// One whole-vector RK4 step of Lorenz-96 on the host in double, and its Jacobian
/// J = I + dt/6 (K1 + 2 K2 + 2 K3 + K4), K1 = V(x), K2 = V(y1) (I + dt/2 K1),
/// K3 = V(y2) (I + dt/2 K2), K4 = V(y3) (I + dt K3), V the vector field's Jacobian.
struct HostLorenz96 {
  int D = 0, I = 0;
  double F = 8, dt = 0.01;

  template <class Cell>
  explicit HostLorenz96(const Cell& cell)
      : D(cell.n), I(cell.n), F(double(cell.forcing)), dt(double(cell.dt)) {}

  int wrap(int j) const { return ((j % D) + D) % D; }

  std::vector<double> field(const std::vector<double>& x, const double* u) const {
    std::vector<double> v(D);
    for (int j = 0; j < D; ++j)
      v[j] = (x[wrap(j + 1)] - x[wrap(j - 2)]) * x[wrap(j - 1)] - x[j] + F + u[j];
    return v;
  }
  Mat field_jacobian(const std::vector<double>& x) const {
    Mat V(std::size_t(D) * D, 0.0);
    for (int j = 0; j < D; ++j) {
      V[std::size_t(j) * D + wrap(j + 1)] += x[wrap(j - 1)];
      V[std::size_t(j) * D + wrap(j - 2)] -= x[wrap(j - 1)];
      V[std::size_t(j) * D + wrap(j - 1)] += x[wrap(j + 1)] - x[wrap(j - 2)];
      V[std::size_t(j) * D + j] -= 1.0;
    }
    return V;
  }

  void evaluate(const double* s, const double* u, double* out, double* jac = nullptr) const {
    const std::vector<double> x(s, s + D);
    const auto axpy = [&](const std::vector<double>& a, double c, const std::vector<double>& b) {
      std::vector<double> r(D);
      for (int j = 0; j < D; ++j) r[j] = a[j] + c * b[j];
      return r;
    };
    const auto k1 = field(x, u);
    const auto y1 = axpy(x, dt / 2, k1);
    const auto k2 = field(y1, u);
    const auto y2 = axpy(x, dt / 2, k2);
    const auto k3 = field(y2, u);
    const auto y3 = axpy(x, dt, k3);
    const auto k4 = field(y3, u);
    for (int j = 0; j < D; ++j) out[j] = x[j] + dt / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    if (!jac) return;
    const Mat Id = identity(D);
    const Mat K1 = field_jacobian(x);
    const Mat K2 = matmul(D, field_jacobian(y1), add(Id, K1, dt / 2));
    const Mat K3 = matmul(D, field_jacobian(y2), add(Id, K2, dt / 2));
    const Mat K4 = matmul(D, field_jacobian(y3), add(Id, K3, dt));
    for (std::size_t k = 0; k < Id.size(); ++k)
      jac[k] = Id[k] + dt / 6 * (K1[k] + 2 * K2[k] + 2 * K3[k] + K4[k]);
  }
};

}  // namespace ut
