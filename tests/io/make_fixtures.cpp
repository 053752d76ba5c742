// Writes the HDF5 fixtures of the file-command tests into a directory:
//  * recipe.h5 / recipe_expected.h5: a GRU model and inputs written by a fixed recipe,
//    directly through the documented schema (docs/hdf5.md), and the trajectory computed
//    here by an independent plain-C++ GRU.  Guards the schema's stability.
//  * recipe_lstm.h5 / recipe_lstm_expected.h5 and recipe_lorenz96.h5 /
//    recipe_lorenz96_expected.h5: the same for the LSTM and Lorenz-96 schemas, with a plain
//    PyTorch-equation LSTM and a plain whole-vector RK4 written out here.
//  * recipe_cotangent.h5 / recipe_grad_expected.h5: a cotangent for the GRU recipe and the
//    gradient of L = sum <cotangent, states> by central finite differences of the plain
//    GRU here (the expected output of `ungulate grad`).
//  * one file per bad-input case.
#include <hdf5.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ungulate/io/h5file.hpp"

using ungulate::io::DType;
using ungulate::io::H5File;

namespace {

const int H = 2, I = 3, B = 2, T = 5;

struct Model {
  std::vector<double> wi = std::vector<double>(3 * H * I), wh = std::vector<double>(3 * H * H),
                      bi = std::vector<double>(3 * H), bh = std::vector<double>(3 * H);
};

Model recipe_model() {
  Model m;
  for (int g = 0; g < 3; ++g)
    for (int i = 0; i < H; ++i) {
      for (int k = 0; k < I; ++k) m.wi[(g * H + i) * I + k] = 0.1 * (g + 1) * (i - k) + 0.05;
      for (int j = 0; j < H; ++j) m.wh[(g * H + i) * H + j] = 0.3 * std::cos(g + 2.0 * i + j);
      m.bi[g * H + i] = 0.01 * (g - i);
      m.bh[g * H + i] = -0.02 * (g + i);
    }
  return m;
}

std::vector<double> recipe_inputs() {
  std::vector<double> x(B * T * I);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < I; ++k) x[(b * T + t) * I + k] = std::sin(1.0 + b + 0.7 * t + 0.3 * k);
  return x;
}

std::vector<double> recipe_initial_state() {
  return {0.1, -0.2, 0.3, 0.05};
}

// PyTorch GRU, written out independently of cells/gru.hpp.
std::vector<double> sequential(const Model& m, const std::vector<double>& x,
                               const std::vector<double>& s0) {
  std::vector<double> s(B * T * H);
  const auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int b = 0; b < B; ++b) {
    double h[H], next[H];
    for (int i = 0; i < H; ++i) h[i] = s0[b * H + i];
    for (int t = 0; t < T; ++t) {
      for (int i = 0; i < H; ++i) {
        double a[3], c[3];
        for (int g = 0; g < 3; ++g) {
          a[g] = m.bi[g * H + i];
          c[g] = m.bh[g * H + i];
          for (int k = 0; k < I; ++k) a[g] += m.wi[(g * H + i) * I + k] * x[(b * T + t) * I + k];
          for (int j = 0; j < H; ++j) c[g] += m.wh[(g * H + i) * H + j] * h[j];
        }
        const double r = sig(a[0] + c[0]), z = sig(a[1] + c[1]);
        const double n = std::tanh(a[2] + r * c[2]);
        next[i] = (1 - z) * n + z * h[i];
      }
      for (int i = 0; i < H; ++i) s[(b * T + t) * H + i] = h[i] = next[i];
    }
  }
  return s;
}

void write(H5File& f, const std::string& name, const std::vector<std::uint64_t>& shape,
           const std::vector<double>& data, DType dtype = DType::Float64) {
  f.create_dataset(name, shape, dtype);
  if (!data.empty()) f.write(name, std::vector<std::uint64_t>(shape.size(), 0), shape, data.data());
}

// A model group as the schema describes it; `skip` omits one dataset.
void write_model(H5File& f, const Model& m, const std::string& cell = "gru",
                 const std::string& skip = "", int hidden_override = 0) {
  f.create_group("/model");
  f.set_attribute("/model", "cell", cell);
  f.set_attribute("/model", "hidden_size", static_cast<long long>(H));
  f.set_attribute("/model", "input_size", static_cast<long long>(I));
  const std::uint64_t h = hidden_override ? hidden_override : H;
  if (skip != "input_kernel") write(f, "/model/input_kernel", {3, H, I}, m.wi, DType::Float32);
  if (skip != "recurrent_kernel") {
    if (hidden_override)
      write(f, "/model/recurrent_kernel", {3, h, h}, std::vector<double>(3 * h * h, 0.0));
    else
      write(f, "/model/recurrent_kernel", {3, H, H}, m.wh);
  }
  if (skip != "input_bias") write(f, "/model/input_bias", {3, H}, m.bi);
  if (skip != "recurrent_bias") write(f, "/model/recurrent_bias", {3, H}, m.bh);
}

// ---- LSTM and Lorenz-96 recipes -------------------------------------------------------------

struct LstmModel {  // PyTorch layout, gates i, f, g, o
  std::vector<double> wih = std::vector<double>(4 * H * I), whh = std::vector<double>(4 * H * H),
                      bih = std::vector<double>(4 * H), bhh = std::vector<double>(4 * H);
};

LstmModel recipe_lstm() {
  LstmModel m;
  for (int k = 0; k < 4 * H; ++k) {
    for (int c = 0; c < I; ++c) m.wih[k * I + c] = 0.2 * std::sin(1.0 + k + 0.5 * c);
    for (int j = 0; j < H; ++j) m.whh[k * H + j] = 0.4 * std::cos(0.3 * k - j);
    m.bih[k] = 0.05 * (k % 3) - 0.02;
    m.bhh[k] = k / H == 1 ? 0.5 : -0.01 * k;  // a forget-gate bias, as is common
  }
  return m;
}

// torch.nn.LSTMCell, written out independently of cells/lstm.hpp; the state is (h, c).
std::vector<double> sequential_lstm(const LstmModel& m, const std::vector<double>& x,
                                    const std::vector<double>& s0) {
  const int D = 2 * H;
  std::vector<double> s(B * T * D);
  const auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int b = 0; b < B; ++b) {
    double h[H], c[H];
    for (int i = 0; i < H; ++i) {
      h[i] = s0[b * D + i];
      c[i] = s0[b * D + H + i];
    }
    for (int t = 0; t < T; ++t) {
      double a[4 * H];
      for (int k = 0; k < 4 * H; ++k) {
        a[k] = m.bih[k] + m.bhh[k];
        for (int q = 0; q < I; ++q) a[k] += m.wih[k * I + q] * x[(b * T + t) * I + q];
        for (int j = 0; j < H; ++j) a[k] += m.whh[k * H + j] * h[j];
      }
      for (int i = 0; i < H; ++i) {
        c[i] = sig(a[H + i]) * c[i] + sig(a[i]) * std::tanh(a[2 * H + i]);
        h[i] = sig(a[3 * H + i]) * std::tanh(c[i]);
      }
      for (int i = 0; i < H; ++i) {
        s[(b * T + t) * D + i] = h[i];
        s[(b * T + t) * D + H + i] = c[i];
      }
    }
  }
  return s;
}

void write_lstm(H5File& f, const LstmModel& m, const std::string& skip = "") {
  f.create_group("/model");
  f.set_attribute("/model", "cell", std::string("lstm"));
  if (skip != "weight_ih") write(f, "/model/weight_ih", {4 * H, I}, m.wih, DType::Float32);
  if (skip != "weight_hh") write(f, "/model/weight_hh", {4 * H, H}, m.whh);
  if (skip != "bias_ih") write(f, "/model/bias_ih", {4 * H}, m.bih);
  if (skip != "bias_hh") write(f, "/model/bias_hh", {4 * H}, m.bhh);
}

const int kLorenzN = 5;
const double kLorenzF = 8.0, kLorenzDt = 0.02;

// One whole-vector RK4 step of Lorenz-96 per time step, independently of cells/lorenz96.hpp.
std::vector<double> sequential_lorenz96(const std::vector<double>& u,
                                        const std::vector<double>& s0) {
  const int N = kLorenzN;
  std::vector<double> s(B * T * N);
  const auto field = [&](const std::vector<double>& y, const double* ut) {
    std::vector<double> v(N);
    for (int j = 0; j < N; ++j)
      v[j] = (y[(j + 1) % N] - y[(j + N - 2) % N]) * y[(j + N - 1) % N] - y[j] + kLorenzF + ut[j];
    return v;
  };
  for (int b = 0; b < B; ++b) {
    std::vector<double> y(s0.begin() + b * N, s0.begin() + (b + 1) * N);
    for (int t = 0; t < T; ++t) {
      const double* ut = &u[(b * T + t) * N];
      std::vector<double> y1(N), y2(N), y3(N);
      const auto k1 = field(y, ut);
      for (int j = 0; j < N; ++j) y1[j] = y[j] + kLorenzDt / 2 * k1[j];
      const auto k2 = field(y1, ut);
      for (int j = 0; j < N; ++j) y2[j] = y[j] + kLorenzDt / 2 * k2[j];
      const auto k3 = field(y2, ut);
      for (int j = 0; j < N; ++j) y3[j] = y[j] + kLorenzDt * k3[j];
      const auto k4 = field(y3, ut);
      for (int j = 0; j < N; ++j) {
        y[j] += kLorenzDt / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
        s[(b * T + t) * N + j] = y[j];
      }
    }
  }
  return s;
}

void write_lorenz96(H5File& f, const std::string& skip = "") {
  f.create_group("/model");
  f.set_attribute("/model", "cell", std::string("lorenz96"));
  if (skip != "N") f.set_attribute("/model", "N", static_cast<long long>(kLorenzN));
  if (skip != "F") f.set_attribute("/model", "F", kLorenzF);
  if (skip != "dt") f.set_attribute("/model", "dt", kLorenzDt);
}

template <class F>
void make(const std::string& dir, const std::string& name, F&& body) {
  H5File f = H5File::create(dir + "/" + name, MPI_COMM_SELF);
  body(f);
}

// Edits a finished fixture with the HDF5 C API: what ungulate never writes itself but other
// writers (h5py, netCDF, corrupt files) do.
template <class F>
void edit(const std::string& dir, const std::string& name, F&& body) {
  const hid_t file = H5Fopen((dir + "/" + name).c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  body(file);
  H5Fclose(file);
}

struct StringFlavour {
  const char* name;
  bool variable;
  H5T_cset_t cset;
  H5T_str_t pad;
  std::size_t size;  // fixed length
  const char* bytes;
};

// Replaces attribute `name` of `object` by a string of the given flavour and element count.
void string_attribute(hid_t file, const char* object, const char* name, const StringFlavour& s,
                      hsize_t count = 0) {
  const hid_t obj = H5Oopen(file, object, H5P_DEFAULT);
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, s.variable ? H5T_VARIABLE : s.size);
  H5Tset_cset(type, s.cset);
  H5Tset_strpad(type, s.pad);
  const hid_t space = count ? H5Screate_simple(1, &count, nullptr) : H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<const char*> pointers(count ? count : 1, s.bytes);
  std::string fixed;
  for (std::size_t i = 0; i < pointers.size(); ++i) fixed.append(s.bytes, s.size);
  H5Awrite(attr, type, s.variable ? static_cast<const void*>(pointers.data()) : fixed.data());
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Oclose(obj);
}

void integer_array_attribute(hid_t file, const char* object, const char* name) {
  const hid_t obj = H5Oopen(file, object, H5P_DEFAULT);
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  const hsize_t count = 3;
  const long long values[3] = {1, 2, 3};
  const hid_t space = H5Screate_simple(1, &count, nullptr);
  const hid_t attr = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_LLONG, values);
  H5Aclose(attr);
  H5Sclose(space);
  H5Oclose(obj);
}

const StringFlavour kAsciiArray = {"array", false, H5T_CSET_ASCII, H5T_STR_NULLTERM, 4, "gru"};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fixtures DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const Model m = recipe_model();
  const auto x = recipe_inputs();
  const auto s0 = recipe_initial_state();
  make(dir, "recipe.h5", [&](H5File& f) {
    write_model(f, m);
    write(f, "/inputs", {B, T, I}, x);
    write(f, "/initial_state", {B, H}, s0);
  });
  make(dir, "recipe_expected.h5", [&](H5File& f) {
    write(f, "/states", {B, T, H}, sequential(m, x, s0));
  });

  // The LSTM and Lorenz-96 recipes.
  // The gradient recipe: L = sum_{b,t,i} C[b,t,i] s[b,t,i] through the recipe GRU, by central
  // differences (the model file stores input_kernel as float32: differentiate that model).
  {
    Model mf = m;
    for (double& w : mf.wi) w = double(float(w));
    std::vector<double> cot(B * T * H);
    for (std::size_t k = 0; k < cot.size(); ++k) cot[k] = std::cos(0.9 * k + 0.2);
    make(dir, "recipe_cotangent.h5", [&](H5File& f) { write(f, "/cotangent", {B, T, H}, cot); });
    const auto loss = [&](const Model& mm, const std::vector<double>& xx,
                          const std::vector<double>& ss) {
      const auto s = sequential(mm, xx, ss);
      double L = 0;
      for (std::size_t k = 0; k < s.size(); ++k) L += cot[k] * s[k];
      return L;
    };
    const auto central = [&](auto&& at, std::vector<double>& v, std::size_t k) {
      const double keep = v[k], eps = 1e-6;
      v[k] = keep + eps;
      const double up = at();
      v[k] = keep - eps;
      const double down = at();
      v[k] = keep;
      return (up - down) / (2 * eps);
    };
    Model mm = mf;
    std::vector<double> xx = x, ss = s0;
    const auto at = [&] { return loss(mm, xx, ss); };
    const auto gradient_of = [&](std::vector<double>& v) {
      std::vector<double> g(v.size());
      for (std::size_t k = 0; k < v.size(); ++k) g[k] = central(at, v, k);
      return g;
    };
    const auto gx = gradient_of(xx), gs = gradient_of(ss);
    const auto gwi = gradient_of(mm.wi), gwh = gradient_of(mm.wh);
    const auto gbi = gradient_of(mm.bi), gbh = gradient_of(mm.bh);
    make(dir, "recipe_grad_expected.h5", [&](H5File& f) {
      f.create_group("/grad");
      f.create_group("/grad/model");
      write(f, "/grad/inputs", {B, T, I}, gx);
      write(f, "/grad/initial_state", {B, H}, gs);
      write(f, "/grad/model/input_kernel", {3, H, I}, gwi);
      write(f, "/grad/model/recurrent_kernel", {3, H, H}, gwh);
      write(f, "/grad/model/input_bias", {3, H}, gbi);
      write(f, "/grad/model/recurrent_bias", {3, H}, gbh);
    });
  }

  const LstmModel lm = recipe_lstm();
  std::vector<double> lstm_s0(B * 2 * H);
  for (std::size_t k = 0; k < lstm_s0.size(); ++k) lstm_s0[k] = 0.3 * std::sin(2.0 * k + 1);
  make(dir, "recipe_lstm.h5", [&](H5File& f) {
    write_lstm(f, lm);
    write(f, "/inputs", {B, T, I}, x);
    write(f, "/initial_state", {B, 2 * H}, lstm_s0);
  });
  {
    std::vector<double> cot(B * T * 2 * H);
    for (std::size_t k = 0; k < cot.size(); ++k) cot[k] = std::sin(0.4 * k - 1.0);
    make(dir, "recipe_lstm_cotangent.h5", [&](H5File& f) {
      write(f, "/cotangent", {B, T, 2 * H}, cot);
    });
  }
  make(dir, "recipe_lstm_expected.h5", [&](H5File& f) {
    write(f, "/states", {B, T, 2 * H}, sequential_lstm(lm, x, lstm_s0));
  });
  std::vector<double> lorenz_u(B * T * kLorenzN), lorenz_s0(B * kLorenzN);
  for (std::size_t k = 0; k < lorenz_u.size(); ++k) lorenz_u[k] = std::cos(0.7 * k);
  for (std::size_t k = 0; k < lorenz_s0.size(); ++k) lorenz_s0[k] = 2.0 + 3.0 * std::sin(1.3 * k);
  make(dir, "recipe_lorenz96.h5", [&](H5File& f) {
    write_lorenz96(f);
    write(f, "/inputs", {B, T, kLorenzN}, lorenz_u);
    write(f, "/initial_state", {B, kLorenzN}, lorenz_s0);
  });
  {
    std::vector<double> cot(B * T * kLorenzN);
    for (std::size_t k = 0; k < cot.size(); ++k) cot[k] = std::sin(0.6 * k + 0.5);
    make(dir, "recipe_lorenz96_cotangent.h5", [&](H5File& f) {
      write(f, "/cotangent", {B, T, kLorenzN}, cot);
    });
  }
  make(dir, "recipe_lorenz96_expected.h5", [&](H5File& f) {
    write(f, "/states", {B, T, kLorenzN}, sequential_lorenz96(lorenz_u, lorenz_s0));
  });
  // Bad LSTM and Lorenz-96 models (inputs of the right sizes, so only the model is wrong).
  const auto lstm_bad = [&](const std::string& name, auto&& body) {
    make(dir, name, [&](H5File& f) {
      body(f);
      write(f, "/inputs", {B, T, I}, x);
    });
  };
  lstm_bad("lstm_missing_bias.h5", [&](H5File& f) { write_lstm(f, lm, "bias_hh"); });
  lstm_bad("lstm_wrong_shape.h5", [&](H5File& f) {
    write_lstm(f, lm, "weight_hh");
    write(f, "/model/weight_hh", {3 * H, H}, std::vector<double>(3 * H * H, 0.1));
  });
  // A chunked, never written 4 * 2^20 x 2^20 kernel (the file stays tiny): refused by its
  // shape alone.
  lstm_bad("lstm_huge.h5", [&](H5File& f) { write_lstm(f, lm, "weight_hh"); });
  edit(dir, "lstm_huge.h5", [&](hid_t file) {
    const hsize_t dims[2] = {hsize_t(4) << 20, hsize_t(1) << 20}, chunk[2] = {64, 64};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Dclose(H5Dcreate2(file, "/model/weight_hh", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                        H5P_DEFAULT));
    H5Pclose(dcpl);
    H5Sclose(space);
  });
  lstm_bad("lstm_int.h5", [&](H5File& f) {
    write_lstm(f, lm, "bias_ih");
    f.create_dataset("/model/bias_ih", {4 * H}, DType::Int32);
    std::vector<int> ones(4 * H, 1);
    f.write("/model/bias_ih", {0}, {4 * H}, ones.data());
  });
  lstm_bad("lstm_nan.h5", [&](H5File& f) {
    auto bad = lm;
    bad.whh[3] = NAN;
    write_lstm(f, bad);
  });
  lstm_bad("lstm_gru_datasets.h5", [&](H5File& f) { write_model(f, m, "lstm"); });
  const auto lorenz_bad = [&](const std::string& name, auto&& body) {
    make(dir, name, [&](H5File& f) {
      body(f);
      write(f, "/inputs", {B, T, kLorenzN}, lorenz_u);
    });
  };
  for (const char* missing : {"N", "F", "dt"})
    lorenz_bad(std::string("lorenz96_no_") + missing + ".h5",
               [&](H5File& f) { write_lorenz96(f, missing); });
  const std::pair<const char*, double> bad_numbers[] = {
      {"N", 0}, {"N", -3}, {"N", 1e12}, {"F", NAN}, {"dt", -0.01}, {"dt", INFINITY}, {"dt", 0}};
  int bad_index = 0;
  for (const auto& [name, value] : bad_numbers)
    lorenz_bad("lorenz96_bad_" + std::to_string(bad_index++) + ".h5", [&](H5File& f) {
      write_lorenz96(f, name);
      if (std::string(name) == "N")
        f.set_attribute("/model", name, static_cast<long long>(value));
      else
        f.set_attribute("/model", name, value);
    });
  lorenz_bad("lorenz96_string_n.h5", [&](H5File& f) {
    write_lorenz96(f, "N");
    f.set_attribute("/model", "N", std::string("5"));
  });
  lorenz_bad("lorenz96_float_n.h5", [&](H5File& f) {
    write_lorenz96(f, "N");
    f.set_attribute("/model", "N", 5.0);
  });
  make(dir, "lorenz96_inputs_wrong_size.h5", [&](H5File& f) {
    write_lorenz96(f);
    write(f, "/inputs", {B, T, I}, x);
  });

  // Bad inputs.
  std::ofstream(dir + "/not_hdf5.h5") << "this is not an HDF5 file\n";
  {
    std::ifstream in(dir + "/recipe.h5", std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir + "/truncated.h5", std::ios::binary)
        .write(bytes.data(), std::streamsize(bytes.size() / 2));
  }
  make(dir, "no_inputs.h5", [&](H5File& f) { write_model(f, m); });
  make(dir, "no_model.h5", [&](H5File& f) { write(f, "/inputs", {B, T, I}, x); });
  make(dir, "inputs_rank2.h5", [&](H5File& f) {
    write_model(f, m);
    write(f, "/inputs", {B * T, I}, x);
  });
  make(dir, "inputs_wrong_size.h5", [&](H5File& f) {
    write_model(f, m);
    write(f, "/inputs", {B, T, I + 1}, std::vector<double>(B * T * (I + 1), 0.5));
  });
  make(dir, "inputs_int.h5", [&](H5File& f) {
    write_model(f, m);
    f.create_dataset("/inputs", {B, T, I}, DType::Int32);
    std::vector<int> zeros(B * T * I, 1);
    f.write("/inputs", {0, 0, 0}, {B, T, I}, zeros.data());
  });
  for (const char* bad : {"nan", "inf"}) {
    make(dir, std::string("inputs_") + bad + ".h5", [&](H5File& f) {
      write_model(f, m);
      auto y = x;
      y[(1 * T + 4) * I + 2] = std::string(bad) == "nan" ? NAN : INFINITY;  // b = 1, t = 4
      write(f, "/inputs", {B, T, I}, y);
    });
  }
  make(dir, "unknown_cell.h5", [&](H5File& f) {
    write_model(f, m, "transformer");
    write(f, "/inputs", {B, T, I}, x);
  });
  make(dir, "model_missing_dataset.h5", [&](H5File& f) {
    write_model(f, m, "gru", "recurrent_bias");
    write(f, "/inputs", {B, T, I}, x);
  });
  make(dir, "model_wrong_shape.h5", [&](H5File& f) {
    write_model(f, m, "gru", "", 3);
    write(f, "/inputs", {B, T, I}, x);
  });
  make(dir, "zero_length.h5", [&](H5File& f) {
    write_model(f, m);
    write(f, "/inputs", {B, 0, I}, {});
  });

  // Every string flavour of the 'cell' attribute (h5py writes variable-length UTF-8 for str
  // and fixed-length null-padded for np.bytes_).
  const StringFlavour flavours[] = {
      {"vlen_utf8", true, H5T_CSET_UTF8, H5T_STR_NULLTERM, 0, "gru"},
      {"vlen_ascii", true, H5T_CSET_ASCII, H5T_STR_NULLTERM, 0, "gru"},
      {"fixed_nullpad", false, H5T_CSET_ASCII, H5T_STR_NULLPAD, 3, "gru"},
      {"fixed_nullpad_padded", false, H5T_CSET_ASCII, H5T_STR_NULLPAD, 6, "gru\0\0\0"},
      {"fixed_spacepad", false, H5T_CSET_ASCII, H5T_STR_SPACEPAD, 5, "gru  "},
      {"fixed_utf8_nullterm", false, H5T_CSET_UTF8, H5T_STR_NULLTERM, 4, "gru"},
  };
  for (const StringFlavour& flavour : flavours) {
    const std::string name = std::string("cell_") + flavour.name + ".h5";
    make(dir, name, [&](H5File& f) {
      write_model(f, m);
      write(f, "/inputs", {B, T, I}, x);
      write(f, "/initial_state", {B, H}, s0);
    });
    edit(dir, name, [&](hid_t file) {
      string_attribute(file, "/model", "cell", flavour);
      string_attribute(file, "/", "note_utf8",
                       {"", true, H5T_CSET_UTF8, H5T_STR_NULLTERM, 0, "\xce\xbb = 0.01"});
    });
  }

  // Array-valued attributes where ungulate reads one value.
  make(dir, "cell_array.h5", [&](H5File& f) {
    write_model(f, m);
    write(f, "/inputs", {B, T, I}, x);
  });
  edit(dir, "cell_array.h5",
       [&](hid_t file) { string_attribute(file, "/model", "cell", kAsciiArray, 2); });
  for (const char* which : {"method", "iterations", "status"}) {
    const std::string name = std::string("ck_") + which + "_array.h5";
    make(dir, name, [&](H5File& f) {
      write(f, "/states", {B, T, H}, std::vector<double>(B * T * H, 0.0));
      f.set_attribute("/", "method", std::string("quasi-deer"));
      f.set_attribute("/", "iterations", 2LL);
      f.set_attribute("/", "status", std::string("converged"));
      f.set_attribute("/", "kind", std::string("checkpoint"));
    });
    edit(dir, name, [&](hid_t file) {
      if (std::string(which) == "iterations")
        integer_array_attribute(file, "/", which);
      else
        string_attribute(file, "/", which, kAsciiArray, 3);
    });
  }

  // Links inspect must not follow: dangling soft, external, hard-link cycle, deep nesting.
  make(dir, "links.h5", [&](H5File& f) {
    write_model(f, m);
    f.create_group("/a");
  });
  edit(dir, "links.h5", [&](hid_t file) {
    H5Lcreate_soft("/nowhere", file, "/dangling", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/model", file, "/model_alias", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external("other.h5", "/x", file, "/external", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_hard(file, "/a", file, "/a/loop", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_hard(file, "/", file, "/a/root", H5P_DEFAULT, H5P_DEFAULT);
  });
  make(dir, "deep.h5", [&](H5File& f) {
    std::string path;
    for (int depth = 0; depth < 100; ++depth) f.create_group(path += "/g");
  });

  // Initial iterates and checkpoints a restart must refuse.
  auto nan_states = std::vector<double>(B * T * H, 0.1);
  nan_states[7] = NAN;
  make(dir, "states_nan.h5", [&](H5File& f) { write(f, "/states", {B, T, H}, nan_states); });
  const auto checkpoint = [&](const std::string& name, const std::vector<double>& states,
                              long long iterations, std::vector<double> log) {
    make(dir, name, [&](H5File& f) {
      write(f, "/states", {B, T, H}, states);
      f.set_attribute("/", "method", std::string("quasi-deer"));
      f.set_attribute("/", "iterations", iterations);
      f.set_attribute("/", "kind", std::string("checkpoint"));
      f.create_group("/convergence");
      const std::uint64_t n = log.size();
      std::vector<long long> counts(log.begin(), log.end());
      f.create_dataset("/convergence/iteration", {n}, DType::Int64);
      f.write("/convergence/iteration", {0}, {n}, counts.data());
      for (const char* column : {"residual", "update_norm", "seconds"})
        write(f, std::string("/convergence/") + column, {n}, std::vector<double>(n, 0.5));
    });
  };
  checkpoint("ck_nan.h5", nan_states, 2, {1, 2});
  checkpoint("ck_negative.h5", std::vector<double>(B * T * H, 0.1), -5, {-5});
  checkpoint("ck_absurd.h5", std::vector<double>(B * T * H, 0.1), 1000000000000LL, {1, 2});
  checkpoint("ck_scalar_log.h5", std::vector<double>(B * T * H, 0.1), 2, {1, 2});
  edit(dir, "ck_scalar_log.h5", [&](hid_t file) {
    H5Ldelete(file, "/convergence/iteration", H5P_DEFAULT);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t d = H5Dcreate2(file, "/convergence/iteration", H5T_STD_I64LE, space, H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT);
    const long long two = 2;
    H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &two);
    H5Dclose(d);
    H5Sclose(space);
  });

  // Chunked, never written /inputs declaring absurd sizes (the file stays tiny).
  const auto huge_inputs = [&](const std::string& name, hsize_t batch, hsize_t length) {
    make(dir, name, [&](H5File&) {});
    edit(dir, name, [&](hid_t file) {
      const hsize_t dims[3] = {batch, length, I},
                    chunk[3] = {1, std::min<hsize_t>(length, 1024), I};
      const hid_t space = H5Screate_simple(3, dims, nullptr);
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_chunk(dcpl, 3, chunk);
      H5Dclose(H5Dcreate2(file, "/inputs", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
      H5Pclose(dcpl);
      H5Sclose(space);
    });
  };
  huge_inputs("inputs_huge_length.h5", 1, hsize_t(1) << 32);
  huge_inputs("inputs_huge_batch.h5", hsize_t(1) << 32, 2);
  huge_inputs("inputs_huge_memory.h5", 1 << 20, (hsize_t(1) << 31) - 1);

  // A root attribute message of an unknown version (found by fuzzing): HDF5 opens the file and
  // reads other attributes by name, but listing the attributes fails part-way.  The damaged
  // attribute is the first, so HDF5 1.10 fails cleanly (a later one can crash it, see
  // docs/safety.md).
  make(dir, "attr_corrupt.h5", [&](H5File& f) {
    f.set_attribute("/", "damaged", 1LL);
    f.set_attribute("/", "kind", std::string("checkpoint"));
  });
  {
    std::ifstream in(dir + "/attr_corrupt.h5", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    // Attribute message, version 1: version, reserved, name size 8 ("damaged\0"), then sizes.
    const std::string header("\x01\x00\x08\x00", 4);
    const auto name = bytes.find(std::string("damaged\0", 8));
    if (name == std::string::npos || name < 8 || bytes.compare(name - 8, 4, header) != 0) {
      std::fprintf(stderr, "make_fixtures: attr_corrupt.h5: attribute message not found\n");
      return 1;
    }
    bytes[name - 8] = '\x00';  // version 0 does not exist
    std::ofstream(dir + "/attr_corrupt.h5", std::ios::binary)
        .write(bytes.data(), std::streamsize(bytes.size()));
  }
  MPI_Finalize();
  return 0;
}
