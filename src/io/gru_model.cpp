#include "ungulate/io/gru_model.hpp"

#include "ungulate/io/model.hpp"

#include <cmath>

namespace ungulate::io {
namespace {

// Hidden and input sizes beyond this are refused (a 3 x 65536 x 65536 kernel is 100 GiB).
constexpr std::uint64_t kMaxModelDimension = 65536;

struct Tensor {
  const char* name;
  std::vector<std::uint64_t> shape;
  std::vector<double>* data;
};

}  // namespace

GruWeights read_gru_model(const H5File& file, const std::string& group) {
  const std::string& path = file.path();
  if (!file.is_group(group))
    throw Error(path + ": missing model group '" + group +
                "' (expected a model as written by 'ungulate generate')");
  if (!file.has_attribute(group, "cell"))
    throw Error(path + ": model group '" + group + "' has no 'cell' attribute");
  const std::string cell = file.get_string_attribute(group, "cell");
  if (cell != "gru")
    throw Error(
        path + ": model group '" + group + "' holds cell '" + cell +
        "', expected 'gru' (io::read_model reads every supported cell: " + supported_cells() + ")");
  GruWeights w;
  const DatasetInfo rk = file.describe(group + "/recurrent_kernel");
  const DatasetInfo ik = file.describe(group + "/input_kernel");
  if (rk.shape.size() != 3 || rk.shape[0] != 3 || rk.shape[1] != rk.shape[2] || rk.shape[1] < 1)
    throw Error(path + ": dataset '" + group + "/recurrent_kernel' has shape " +
                shape_string(rk.shape) + ", expected (3, hidden, hidden)");
  // Bounded before anything is allocated: the kernels are read whole.
  for (const auto& [name, size] :
       {std::pair{"recurrent_kernel", rk.shape[1]},
        std::pair{"input_kernel", ik.shape.size() == 3 ? ik.shape[2] : 0}})
    if (size > kMaxModelDimension)
      throw Error(path + ": dataset '" + group + "/" + name + "' has shape " +
                  shape_string(name == std::string("recurrent_kernel") ? rk.shape : ik.shape) +
                  ": sizes above " + std::to_string(kMaxModelDimension) + " are not supported");
  w.hidden = int(rk.shape[1]);
  if (ik.shape.size() != 3 || ik.shape[0] != 3 || ik.shape[1] != rk.shape[1] || ik.shape[2] < 1)
    throw Error(path + ": dataset '" + group + "/input_kernel' has shape " +
                shape_string(ik.shape) + ", expected (3, " + std::to_string(w.hidden) +
                ", input_size)");
  w.inputs = int(ik.shape[2]);
  const std::uint64_t H = std::uint64_t(w.hidden), I = std::uint64_t(w.inputs);
  const std::vector<Tensor> tensors = {{"input_kernel", {3, H, I}, &w.input_kernel},
                                       {"recurrent_kernel", {3, H, H}, &w.recurrent_kernel},
                                       {"input_bias", {3, H}, &w.input_bias},
                                       {"recurrent_bias", {3, H}, &w.recurrent_bias}};
  for (const Tensor& t : tensors) {
    const std::string name = group + "/" + t.name;
    file.describe_float(name, t.shape);
    std::size_t n = 1;
    for (auto d : t.shape) n *= d;
    t.data->resize(n);
    file.read(name, std::vector<std::uint64_t>(t.shape.size(), 0), t.shape, t.data->data());
    for (double v : *t.data)
      if (!std::isfinite(v)) throw Error(path + ": dataset '" + name + "' contains NaN or Inf");
  }
  return w;
}

void write_gru_model(H5File& file, const GruWeights& w, DType dtype, const std::string& group) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  file.create_group(group);
  file.set_attribute(group, "cell", std::string("gru"));
  file.set_attribute(group, "convention",
                     std::string("PyTorch/flax GRU, gates (r, z, n) along the first axis"));
  file.set_attribute(group, "hidden_size", static_cast<long long>(w.hidden));
  file.set_attribute(group, "input_size", static_cast<long long>(w.inputs));
  const std::uint64_t H = std::uint64_t(w.hidden), I = std::uint64_t(w.inputs);
  const std::vector<
      std::pair<const char*, std::pair<std::vector<std::uint64_t>, const std::vector<double>*>>>
      tensors = {{"input_kernel", {{3, H, I}, &w.input_kernel}},
                 {"recurrent_kernel", {{3, H, H}, &w.recurrent_kernel}},
                 {"input_bias", {{3, H}, &w.input_bias}},
                 {"recurrent_bias", {{3, H}, &w.recurrent_bias}}};
  for (const auto& t : tensors) {
    const std::string name = group + "/" + t.first;
    const auto& shape = t.second.first;
    file.create_dataset(name, shape, dtype);
    const std::vector<std::uint64_t> zero(shape.size(), 0), none(shape.size(), 0);
    file.write(name, zero, rank == 0 ? shape : none, t.second.second->data());
  }
}

template <class Scalar>
cells::GRU<Scalar> make_gru(const GruWeights& w) {
  cells::GRU<Scalar> gru(w.hidden, w.inputs);
  auto ik = Kokkos::create_mirror_view(gru.input_kernel);
  auto rk = Kokkos::create_mirror_view(gru.recurrent_kernel);
  auto ib = Kokkos::create_mirror_view(gru.input_bias);
  auto rb = Kokkos::create_mirror_view(gru.recurrent_bias);
  for (std::size_t i = 0; i < ik.size(); ++i) ik.data()[i] = Scalar(w.input_kernel[i]);
  for (std::size_t i = 0; i < rk.size(); ++i) rk.data()[i] = Scalar(w.recurrent_kernel[i]);
  for (std::size_t i = 0; i < ib.size(); ++i) ib.data()[i] = Scalar(w.input_bias[i]);
  for (std::size_t i = 0; i < rb.size(); ++i) rb.data()[i] = Scalar(w.recurrent_bias[i]);
  Kokkos::deep_copy(gru.input_kernel, ik);
  Kokkos::deep_copy(gru.recurrent_kernel, rk);
  Kokkos::deep_copy(gru.input_bias, ib);
  Kokkos::deep_copy(gru.recurrent_bias, rb);
  return gru;
}

template <class Scalar>
GruWeights weights_of(const cells::GRU<Scalar>& gru) {
  GruWeights w;
  w.hidden = gru.state_size();
  w.inputs = gru.input_size();
  const auto copy = [](const auto& view, std::vector<double>& out) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    out.assign(h.data(), h.data() + h.size());
  };
  copy(gru.input_kernel, w.input_kernel);
  copy(gru.recurrent_kernel, w.recurrent_kernel);
  copy(gru.input_bias, w.input_bias);
  copy(gru.recurrent_bias, w.recurrent_bias);
  return w;
}

template cells::GRU<float> make_gru<float>(const GruWeights&);
template cells::GRU<double> make_gru<double>(const GruWeights&);
template GruWeights weights_of<float>(const cells::GRU<float>&);
template GruWeights weights_of<double>(const cells::GRU<double>&);

}  // namespace ungulate::io
