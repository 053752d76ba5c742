// `ungulate generate`: a benchmark GRU (or LSTM, or Lorenz-96 model) and inputs in one HDF5
// file.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "mpi_context.hpp"
#include "output_file.hpp"
#include "ungulate/dist/mpi_decomposition.hpp"
#include "ungulate/io/model.hpp"
#include "ungulate/ungulate.hpp"

namespace ungulate::app {

int generate_command(int argc, char** argv, int first) {
  cli::ArgParser args(
      "ungulate generate",
      "Writes a random model and random inputs of shape (batch, length, input_size) to one\n"
      "HDF5 file; runs start from a zero state. --cell chooses the model:\n"
      "  gru       input kernels N(0, 1/input_size), orthogonal recurrent kernels, zero biases\n"
      "  lstm      the same per gate (PyTorch layout, gates i, f, g, o); the state is (h, c),\n"
      "            2 hidden values\n"
      "  lorenz96  --hidden variables, forcing --forcing, one RK4 step of --dt per time step;\n"
      "            the inputs (size --hidden) perturb the forcing. Chaotic for F = 8: keep\n"
      "            --length * --dt small (a few time units) for the parallel methods.\n"
      "Inputs are N(0, --input-scale^2). Under mpirun each rank generates and writes only\n"
      "its own time slice; the values do not depend on the number of ranks.");
  args.option("cell", "NAME", "gru | lstm | lorenz96", "gru");
  args.option("hidden", "N", "hidden size (GRU, LSTM) or number of variables (Lorenz-96)", "16");
  args.option("input-size", "N", "input size (default: the hidden size; Lorenz-96: always N)");
  args.option("forcing", "F", "Lorenz-96 forcing", "8");
  args.option("dt", "DT", "Lorenz-96 RK4 step per time step", "0.01");
  args.option("input-scale", "S", "standard deviation of the inputs", "1");
  args.option("length", "T", "sequence length", "10000");
  args.option("batch", "B", "independent sequences", "16");
  args.option("seed", "S", "random seed", "0");
  args.option("output", "FILE", "output file (also -o)");
  args.flag("double", "store float64 instead of float32");
  args.flag("force", "replace an existing output file");
  for (int i = first; i < argc; ++i)
    if (std::string(argv[i]) == "-o") argv[i] = const_cast<char*>("--output");
  if (!args.parse(argc, argv, first)) return 0;
  const std::string cell = args.get("cell");
  if (cell != "gru" && cell != "lstm" && cell != "lorenz96")
    throw cli::UsageError("--cell must be gru, lstm or lorenz96, got '" + cell + "'");
  const bool lorenz = cell == "lorenz96";
  const int hidden = int(args.get_int("hidden", 1, lorenz ? 65536 : 4096));
  if (lorenz && args.has("input-size") && args.get_int("input-size", 1, 65536) != hidden)
    throw cli::UsageError("--input-size: a Lorenz-96 model's input size is its --hidden (N)");
  if (!lorenz && (args.has("forcing") || args.has("dt")))
    throw cli::UsageError("--forcing and --dt are Lorenz-96 parameters (--cell lorenz96)");
  const int inputs = args.has("input-size") ? int(args.get_int("input-size", 1, 65536)) : hidden;
  const double forcing = args.get_double("forcing");
  const double dt = args.get_double("dt");
  if (!std::isfinite(forcing)) throw cli::UsageError("--forcing must be finite");
  if (!(dt > 0) || !std::isfinite(dt)) throw cli::UsageError("--dt must be finite and > 0");
  const double input_scale = args.get_double("input-scale");
  if (!(input_scale >= 0) || !std::isfinite(input_scale))
    throw cli::UsageError("--input-scale must be finite and >= 0");
  const long long length = args.get_int("length", 1, std::numeric_limits<int>::max());
  const int batch = int(args.get_int("batch", 1, 1 << 20));
  const long long seed = args.get_int("seed", 0, 1LL << 62);
  if (!args.has("output")) throw cli::UsageError("missing -o/--output FILE");
  const std::string output = args.get("output");
  const io::DType dtype = args.get_flag("double") ? io::DType::Float64 : io::DType::Float32;
  const bool force = args.get_flag("force");
  check_outputs({}, {{"--output", output}}, force);

  const World world;
  // Each rank makes its slice of the inputs in double: refuse what cannot fit before
  // allocating (the same answer on every rank).
  const double input_bytes =
      double(batch) * std::ceil(double(length) / world.size) * double(inputs) * 8;
  const std::string shortfall = cli::memory_shortfall(input_bytes);
  if (!shortfall.empty())
    throw cli::UsageError("inputs of shape (" + std::to_string(batch) + ", " +
                          std::to_string(length) + ", " + std::to_string(inputs) + ") need " +
                          shortfall);
  remove_partials_on_signals();
  if (world.rank == 0) remove_stale_partials(output);
  PartialOutput target(output, force, world.comm);
  const dist::MpiTimeDecomposition decomp(world.comm, length);
  io::Model model;
  if (cell == "gru")
    model.cell = io::weights_of(make_benchmark_gru<double>(hidden, inputs, std::uint64_t(seed)));
  else if (cell == "lstm")
    model.cell = io::weights_of(make_benchmark_lstm<double>(hidden, inputs, std::uint64_t(seed)));
  else
    model.cell = io::Lorenz96Parameters{hidden, forcing, dt};
  // Same stream as `ungulate demo --seed S`: inputs use seed + 1.
  const auto x = make_benchmark_inputs<double>(batch, int(decomp.local_length()), inputs,
                                               std::uint64_t(seed) + 1, decomp.first_step());
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  if (input_scale != 1)
    for (std::size_t i = 0; i < hx.size(); ++i) hx.data()[i] *= input_scale;
  io::H5File file = io::H5File::create(target.temporary(), world.comm);
  io::write_model(file, model, dtype);
  const std::uint64_t B = std::uint64_t(batch), I = std::uint64_t(inputs);
  file.create_dataset("/inputs", {B, std::uint64_t(length), I}, dtype);
  file.write("/inputs", {0, std::uint64_t(decomp.first_step()), 0},
             {B, std::uint64_t(decomp.local_length()), I}, hx.data());
  file.set_attribute("/inputs", "layout", std::string("(batch, time, input)"));
  file.set_attribute("/", "created_by", std::string("ungulate generate ") + version());
  file.set_attribute("/", "seed", seed);
  file.close();
  target.publish(true);
  if (world.rank == 0)
    std::printf("wrote %s: %s %s %d, input %d; inputs (%d, %lld, %d) %s\n", output.c_str(),
                cell == "gru"    ? "GRU"
                : cell == "lstm" ? "LSTM"
                                 : "Lorenz-96",
                lorenz ? "N" : "hidden", hidden, inputs, batch, length, inputs,
                io::to_string(dtype));
  return 0;
}

}  // namespace ungulate::app
