#include "ungulate/io/model.hpp"

#include <cmath>
#include <cstdio>
#include <type_traits>

namespace ungulate::io {
namespace {

// Sizes beyond this are refused, as for the GRU (a 4 x 65536 x 65536 kernel is 128 GiB).
constexpr std::uint64_t kMaxModelDimension = 65536;

struct Tensor {
  const char* name;
  std::vector<std::uint64_t> shape;
  std::vector<double>* data;
};

// Reads whole float datasets of known shapes, refusing other shapes, dtypes, NaN and Inf.
void read_tensors(const H5File& file, const std::string& group, const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts) {
    const std::string name = group + "/" + t.name;
    file.describe_float(name, t.shape);
    std::size_t n = 1;
    for (auto d : t.shape) n *= d;
    t.data->resize(n);
    file.read(name, std::vector<std::uint64_t>(t.shape.size(), 0), t.shape, t.data->data());
    for (double v : *t.data)
      if (!std::isfinite(v))
        throw Error(file.path() + ": dataset '" + name + "' contains NaN or Inf");
  }
}

void write_tensor(H5File& file, const std::string& name, const std::vector<std::uint64_t>& shape,
                  const std::vector<double>& data, DType dtype) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  file.create_dataset(name, shape, dtype);
  const std::vector<std::uint64_t> zero(shape.size(), 0);
  file.write(name, zero, rank == 0 ? shape : zero, data.data());
}

std::string number_string(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

std::string too_large(const std::string& what) {
  return what + ": sizes above " + std::to_string(kMaxModelDimension) + " are not supported";
}

}  // namespace

const char* supported_cells() {
  return "gru, lstm, lorenz96";
}

std::string Model::cell_name() const {
  return std::visit(
      [](const auto& c) -> std::string {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, GruWeights>)
          return "gru";
        else if constexpr (std::is_same_v<T, LstmWeights>)
          return "lstm";
        else
          return "lorenz96";
      },
      cell);
}

int Model::state_size() const {
  return std::visit(
      [](const auto& c) -> int {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, GruWeights>)
          return c.hidden;
        else if constexpr (std::is_same_v<T, LstmWeights>)
          return 2 * c.hidden;
        else
          return c.n;
      },
      cell);
}

int Model::input_size() const {
  return std::visit(
      [](const auto& c) -> int {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, Lorenz96Parameters>)
          return c.n;
        else
          return c.inputs;
      },
      cell);
}

Model read_model(const H5File& file, const std::string& group) {
  const std::string& path = file.path();
  if (!file.is_group(group))
    throw Error(path + ": missing model group '" + group +
                "' (expected a model as written by 'ungulate generate')");
  if (!file.has_attribute(group, "cell"))
    throw Error(path + ": model group '" + group + "' has no 'cell' attribute");
  const std::string cell = file.get_string_attribute(group, "cell");
  Model m;
  if (cell == "gru")
    m.cell = read_gru_model(file, group);
  else if (cell == "lstm")
    m.cell = read_lstm_model(file, group);
  else if (cell == "lorenz96")
    m.cell = read_lorenz96_model(file, group);
  else
    throw Error(path + ": unknown cell type '" + cell + "' in '" + group +
                "' (supported: " + supported_cells() + ")");
  return m;
}

void write_model(H5File& file, const Model& model, DType dtype, const std::string& group) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, GruWeights>)
          write_gru_model(file, c, dtype, group);
        else if constexpr (std::is_same_v<T, LstmWeights>)
          write_lstm_model(file, c, dtype, group);
        else
          write_lorenz96_model(file, c, group);
      },
      model.cell);
}

// ---- LSTM -------------------------------------------------------------------------------------

LstmWeights read_lstm_model(const H5File& file, const std::string& group) {
  const std::string& path = file.path();
  const std::string cell = file.get_string_attribute(group, "cell");
  if (cell != "lstm")
    throw Error(path + ": model group '" + group + "' holds cell '" + cell + "', expected 'lstm'");
  const std::string hh = group + "/weight_hh", ih = group + "/weight_ih";
  const DatasetInfo rk = file.describe(hh);
  // Bounded before anything is multiplied or allocated: the weights are read whole.
  if (rk.shape.size() == 2 && rk.shape[1] > kMaxModelDimension)
    throw Error(too_large(path + ": dataset '" + hh + "' has shape " + shape_string(rk.shape)));
  if (rk.shape.size() != 2 || rk.shape[1] < 1 || rk.shape[0] != 4 * rk.shape[1])
    throw Error(path + ": dataset '" + hh + "' has shape " + shape_string(rk.shape) +
                ", expected (4 * hidden, hidden)");
  const std::uint64_t H = rk.shape[1];
  const DatasetInfo ik = file.describe(ih);
  if (ik.shape.size() == 2 && ik.shape[1] > kMaxModelDimension)
    throw Error(too_large(path + ": dataset '" + ih + "' has shape " + shape_string(ik.shape)));
  if (ik.shape.size() != 2 || ik.shape[0] != 4 * H || ik.shape[1] < 1)
    throw Error(path + ": dataset '" + ih + "' has shape " + shape_string(ik.shape) +
                ", expected (" + std::to_string(4 * H) + ", input_size)");
  const std::uint64_t I = ik.shape[1];
  LstmWeights w;
  w.hidden = int(H);
  w.inputs = int(I);
  read_tensors(file, group,
               {{"weight_ih", {4 * H, I}, &w.weight_ih},
                {"weight_hh", {4 * H, H}, &w.weight_hh},
                {"bias_ih", {4 * H}, &w.bias_ih},
                {"bias_hh", {4 * H}, &w.bias_hh}});
  return w;
}

void write_lstm_model(H5File& file, const LstmWeights& w, DType dtype, const std::string& group) {
  file.create_group(group);
  file.set_attribute(group, "cell", std::string("lstm"));
  file.set_attribute(group, "convention",
                     std::string("PyTorch LSTM, gates (i, f, g, o) along the first axis; "
                                 "state (h, c), h first"));
  file.set_attribute(group, "hidden_size", static_cast<long long>(w.hidden));
  file.set_attribute(group, "input_size", static_cast<long long>(w.inputs));
  file.set_attribute(group, "state_size", static_cast<long long>(2 * w.hidden));
  const std::uint64_t H = std::uint64_t(w.hidden), I = std::uint64_t(w.inputs);
  write_tensor(file, group + "/weight_ih", {4 * H, I}, w.weight_ih, dtype);
  write_tensor(file, group + "/weight_hh", {4 * H, H}, w.weight_hh, dtype);
  write_tensor(file, group + "/bias_ih", {4 * H}, w.bias_ih, dtype);
  write_tensor(file, group + "/bias_hh", {4 * H}, w.bias_hh, dtype);
}

template <class Scalar>
cells::LSTM<Scalar> make_lstm(const LstmWeights& w) {
  cells::LSTM<Scalar> lstm(w.hidden, w.inputs);
  const auto fill = [](const auto& view, const std::vector<double>& values) {
    auto h = Kokkos::create_mirror_view(view);
    for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = Scalar(values[i]);
    Kokkos::deep_copy(view, h);
  };
  fill(lstm.weight_ih, w.weight_ih);
  fill(lstm.weight_hh, w.weight_hh);
  fill(lstm.bias_ih, w.bias_ih);
  fill(lstm.bias_hh, w.bias_hh);
  return lstm;
}

template <class Scalar>
LstmWeights weights_of(const cells::LSTM<Scalar>& lstm) {
  LstmWeights w;
  w.hidden = lstm.hidden_size();
  w.inputs = lstm.input_size();
  const auto copy = [](const auto& view, std::vector<double>& out) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    out.assign(h.data(), h.data() + h.size());
  };
  copy(lstm.weight_ih, w.weight_ih);
  copy(lstm.weight_hh, w.weight_hh);
  copy(lstm.bias_ih, w.bias_ih);
  copy(lstm.bias_hh, w.bias_hh);
  return w;
}

// ---- Lorenz-96 --------------------------------------------------------------------------------

Lorenz96Parameters read_lorenz96_model(const H5File& file, const std::string& group) {
  const std::string& path = file.path();
  const std::string cell = file.get_string_attribute(group, "cell");
  if (cell != "lorenz96")
    throw Error(path + ": model group '" + group + "' holds cell '" + cell +
                "', expected 'lorenz96'");
  const char* const descriptions[] = {"N (the number of variables)", "F (the forcing)",
                                      "dt (the RK4 step)"};
  const char* const names[] = {"N", "F", "dt"};
  for (int k = 0; k < 3; ++k)
    if (!file.has_attribute(group, names[k]))
      throw Error(path + ": lorenz96 model group '" + group + "' has no attribute '" + names[k] +
                  "': expected " + descriptions[k]);
  Lorenz96Parameters p;
  const long long n = file.get_int_attribute(group, "N");
  if (n < 1 || std::uint64_t(n) > kMaxModelDimension)
    throw Error(path + ": attribute 'N' on '" + group + "' is " + std::to_string(n) +
                ", expected a number of variables in [1, " + std::to_string(kMaxModelDimension) +
                "]");
  p.n = int(n);
  p.forcing = file.get_double_attribute(group, "F");
  if (!std::isfinite(p.forcing))
    throw Error(path + ": attribute 'F' on '" + group + "' is not finite");
  p.dt = file.get_double_attribute(group, "dt");
  if (!std::isfinite(p.dt) || !(p.dt > 0))
    throw Error(path + ": attribute 'dt' on '" + group + "' is " + number_string(p.dt) +
                ", expected a finite step > 0");
  return p;
}

void write_lorenz96_model(H5File& file, const Lorenz96Parameters& p, const std::string& group) {
  file.create_group(group);
  file.set_attribute(group, "cell", std::string("lorenz96"));
  file.set_attribute(group, "convention",
                     std::string("one RK4 step of dt per time step of dx_j/dt = (x_{j+1} - "
                                 "x_{j-2}) x_{j-1} - x_j + F + u_j, indices mod N"));
  file.set_attribute(group, "N", static_cast<long long>(p.n));
  file.set_attribute(group, "F", p.forcing);
  file.set_attribute(group, "dt", p.dt);
  file.set_attribute(group, "state_size", static_cast<long long>(p.n));
  file.set_attribute(group, "input_size", static_cast<long long>(p.n));
}

template <class Scalar>
cells::Lorenz96<Scalar> make_lorenz96(const Lorenz96Parameters& p) {
  return cells::Lorenz96<Scalar>(p.n, Scalar(p.forcing), Scalar(p.dt));
}

template cells::LSTM<float> make_lstm<float>(const LstmWeights&);
template cells::LSTM<double> make_lstm<double>(const LstmWeights&);
template LstmWeights weights_of<float>(const cells::LSTM<float>&);
template LstmWeights weights_of<double>(const cells::LSTM<double>&);
template cells::Lorenz96<float> make_lorenz96<float>(const Lorenz96Parameters&);
template cells::Lorenz96<double> make_lorenz96<double>(const Lorenz96Parameters&);

}  // namespace ungulate::io
