#pragma once
// The GRU model schema in HDF5 (see docs/hdf5.md):
//   <group> (default /model)   attribute cell = "gru", hidden_size, input_size
//     input_kernel      (3, hidden, input)   gates r, z, n
//     recurrent_kernel  (3, hidden, hidden)
//     input_bias        (3, hidden)
//     recurrent_bias    (3, hidden)
// float32 or float64.
#include <string>
#include <vector>

#include "ungulate/cells/gru.hpp"
#include "ungulate/io/h5file.hpp"

namespace ungulate::io {

/// Host copy of a GRU's weights, row-major, the exchange format with files.
struct GruWeights {
  int hidden = 0, inputs = 0;
  std::vector<double> input_kernel, recurrent_kernel, input_bias, recurrent_bias;
};

/// Reads and validates a model group; throws io::Error naming the file, dataset and what
/// was expected.
GruWeights read_gru_model(const H5File& file, const std::string& group = "/model");
/// Writes a model group (collective; data from rank 0).
void write_gru_model(H5File& file, const GruWeights& w, DType dtype,
                     const std::string& group = "/model");

template <class Scalar>
cells::GRU<Scalar> make_gru(const GruWeights& w);
template <class Scalar>
GruWeights weights_of(const cells::GRU<Scalar>& gru);

}  // namespace ungulate::io
