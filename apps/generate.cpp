// `ungulate generate`: a benchmark GRU and inputs in one HDF5 file.
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "mpi_context.hpp"
#include "output_file.hpp"
#include "ungulate/dist/mpi_decomposition.hpp"
#include "ungulate/io/gru_model.hpp"
#include "ungulate/ungulate.hpp"

namespace ungulate::app {

int generate_command(int argc, char** argv, int first) {
  cli::ArgParser args("ungulate generate",
                      "Writes a random GRU and random inputs of shape (batch, length, input_size)\n"
                      "to one HDF5 file: input kernels N(0, 1/input_size), orthogonal recurrent\n"
                      "kernels, zero biases, inputs N(0, 1); runs start from a zero state.\n"
                      "Under mpirun each rank generates and writes only its own time slice;\n"
                      "the values do not depend on the number of ranks.");
  args.option("hidden", "N", "hidden (state) size", "16");
  args.option("input-size", "N", "input size (default: the hidden size)");
  args.option("length", "T", "sequence length", "10000");
  args.option("batch", "B", "independent sequences", "16");
  args.option("seed", "S", "random seed", "0");
  args.option("output", "FILE", "output file (also -o)");
  args.flag("double", "store float64 instead of float32");
  args.flag("force", "replace an existing output file");
  for (int i = first; i < argc; ++i)
    if (std::string(argv[i]) == "-o") argv[i] = const_cast<char*>("--output");
  if (!args.parse(argc, argv, first)) return 0;
  const int hidden = int(args.get_int("hidden", 1, 4096));
  const int inputs = args.has("input-size") ? int(args.get_int("input-size", 1, 65536)) : hidden;
  const long long length = args.get_int("length", 1, std::numeric_limits<int>::max());
  const int batch = int(args.get_int("batch", 1, 1 << 20));
  const long long seed = args.get_int("seed", 0, 1LL << 62);
  if (!args.has("output")) throw cli::UsageError("missing -o/--output FILE");
  const std::string output = args.get("output");
  const io::DType dtype = args.get_flag("double") ? io::DType::Float64 : io::DType::Float32;
  const bool force = args.get_flag("force");
  check_outputs({}, {{"--output", output}}, force);

  const World world;
  remove_partials_on_signals();
  if (world.rank == 0) remove_stale_partials(output);
  PartialOutput target(output, force, world.comm);
  const dist::MpiTimeDecomposition decomp(world.comm, length);
  const auto gru = make_benchmark_gru<double>(hidden, inputs, std::uint64_t(seed));
  // Same stream as `ungulate demo --seed S`: inputs use seed + 1.
  const auto x = make_benchmark_inputs<double>(batch, int(decomp.local_length()), inputs,
                                               std::uint64_t(seed) + 1, decomp.first_step());
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  io::H5File file = io::H5File::create(target.temporary(), world.comm);
  io::write_gru_model(file, io::weights_of(gru), dtype);
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
    std::printf("wrote %s: GRU hidden %d, input %d; inputs (%d, %lld, %d) %s\n", output.c_str(),
                hidden, inputs, batch, length, inputs, io::to_string(dtype));
  return 0;
}

}  // namespace ungulate::app
