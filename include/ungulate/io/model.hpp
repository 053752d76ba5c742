#pragma once
// Every model schema ungulate reads and writes (see docs/hdf5.md).  The model group (default
// /model) carries an attribute `cell` that decides the rest:
//   "gru"       datasets input_kernel, recurrent_kernel, input_bias, recurrent_bias
//               (io/gru_model.hpp)
//   "lstm"      datasets weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H), bias_hh (4H),
//               PyTorch's names, shapes and gate order (i, f, g, o)
//   "lorenz96"  attributes N (integer), F and dt (numbers); no datasets
// Datasets are float32 or float64.
#include <string>
#include <variant>
#include <vector>

#include "ungulate/cells/lorenz96.hpp"
#include "ungulate/cells/lstm.hpp"
#include "ungulate/io/gru_model.hpp"

namespace ungulate::io {

/// Host copy of an LSTM's weights, row-major (PyTorch layout).
struct LstmWeights {
  int hidden = 0, inputs = 0;
  std::vector<double> weight_ih, weight_hh, bias_ih, bias_hh;
};

/// The parameters of a Lorenz-96 cell.
struct Lorenz96Parameters {
  int n = 0;             ///< N, the number of variables (state and input size)
  double forcing = 8.0;  ///< F
  double dt = 0.01;      ///< RK4 step per time step
};

/// A model of any supported cell.
struct Model {
  std::variant<GruWeights, LstmWeights, Lorenz96Parameters> cell;

  /// The schema's name of the cell: "gru", "lstm" or "lorenz96".
  std::string cell_name() const;
  /// Values per state: hidden (GRU), 2 hidden (LSTM: h then c), N (Lorenz-96).
  int state_size() const;
  int input_size() const;
};

/// The cell names read_model accepts, for messages: "gru, lstm, lorenz96".
const char* supported_cells();

/// Reads and validates a model group of any supported cell; throws io::Error naming the file,
/// the object and what was expected.
Model read_model(const H5File& file, const std::string& group = "/model");
/// Writes a model group (collective; data from rank 0).
void write_model(H5File& file, const Model& model, DType dtype,
                 const std::string& group = "/model");

LstmWeights read_lstm_model(const H5File& file, const std::string& group = "/model");
void write_lstm_model(H5File& file, const LstmWeights& w, DType dtype,
                      const std::string& group = "/model");
Lorenz96Parameters read_lorenz96_model(const H5File& file, const std::string& group = "/model");
void write_lorenz96_model(H5File& file, const Lorenz96Parameters& p,
                          const std::string& group = "/model");

template <class Scalar>
cells::LSTM<Scalar> make_lstm(const LstmWeights& w);
template <class Scalar>
LstmWeights weights_of(const cells::LSTM<Scalar>& lstm);
template <class Scalar>
cells::Lorenz96<Scalar> make_lorenz96(const Lorenz96Parameters& p);

}  // namespace ungulate::io
