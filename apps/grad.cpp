// `ungulate grad`: gradients of a loss through a model's recurrence, given the cotangent
// dL/ds_t of every step (solvers/gradient.hpp); parallel HDF5 under mpirun (each rank reads
// and writes only its time slice).
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "mpi_context.hpp"
#include "output_file.hpp"
#include "solver_cli.hpp"
#include "ungulate/dist/mpi_decomposition.hpp"
#include "ungulate/io/model.hpp"
#include "ungulate/ungulate.hpp"

namespace ungulate::app {
namespace {

struct GradConfig {
  std::string model, input, cotangent, states, output;
  SolverOptions opt;  // how the trajectory is computed when --states is absent
  bool use_double = false, quiet = false, force = false;
};

struct GradProblem {
  io::Model model;
  std::uint64_t batch = 0, length = 0, inputs = 0, state = 0;
  bool has_initial_state = false;
};

using Shape = std::vector<std::uint64_t>;

GradProblem inspect_grad_problem(const GradConfig& cfg, const World& world) {
  GradProblem p;
  p.model = io::read_model(io::H5File::open(cfg.model, world.comm));
  const io::H5File in = io::H5File::open(cfg.input, world.comm);
  const io::DatasetInfo x = in.describe_float("/inputs");
  if (x.shape.size() != 3)
    throw io::Error(cfg.input + ": dataset '/inputs' has shape " + io::shape_string(x.shape) +
                    ", expected (batch, time, input_size)");
  p.batch = x.shape[0];
  p.length = x.shape[1];
  p.inputs = x.shape[2];
  p.state = std::uint64_t(p.model.state_size());
  if (p.batch == 0 || p.length == 0)
    throw io::Error(cfg.input + ": dataset '/inputs' has shape " + io::shape_string(x.shape) +
                    ": nothing to differentiate");
  if (p.inputs != std::uint64_t(p.model.input_size()))
    throw io::Error(cfg.input + ": dataset '/inputs' has input size " + std::to_string(p.inputs) +
                    ", but the " + p.model.cell_name() + " model in " + cfg.model + " expects " +
                    std::to_string(p.model.input_size()));
  const std::uint64_t max_index = std::uint64_t(std::numeric_limits<int>::max());
  if (p.length > max_index || p.batch > max_index)
    throw io::Error(cfg.input + ": dataset '/inputs' has shape " + io::shape_string(x.shape) +
                    ": batch and time sizes above " + std::to_string(max_index) +
                    " are not supported");
  // Inputs, states, cotangents, adjoints and input gradients of this rank's slice.
  const double bytes = double(p.batch) * std::ceil(double(p.length) / world.size) *
                       double(2 * p.inputs + 3 * p.state) * (cfg.use_double ? 8 : 4);
  const std::string shortfall = cli::memory_shortfall(bytes, " for a gradient");
  if (!shortfall.empty())
    throw io::Error(cfg.input + ": dataset '/inputs' of shape " + io::shape_string(x.shape) +
                    " needs at least " + shortfall);
  p.has_initial_state = in.exists("/initial_state");
  if (p.has_initial_state) in.describe_float("/initial_state", {p.batch, p.state});
  const Shape states = {p.batch, p.length, p.state};
  io::H5File::open(cfg.cotangent, world.comm).describe_float("/cotangent", states);
  if (!cfg.states.empty())
    io::H5File::open(cfg.states, world.comm).describe_float("/states", states);
  return p;
}

// This rank's time slice of a (B, T, D) dataset; NaN or Inf is an input error.
template <class Scalar, class Decomp>
Kokkos::View<Scalar***, Kokkos::LayoutRight> read_finite_slice(
    const std::string& path, const std::string& name, std::uint64_t B, std::uint64_t D,
    const Decomp& decomp, long long local, const World& world) {
  Kokkos::View<Scalar***, Kokkos::LayoutRight> out(
      Kokkos::view_alloc(name, Kokkos::WithoutInitializing), B, std::size_t(local), D);
  auto host = Kokkos::create_mirror_view(out);
  io::H5File::open(path, world.comm)
      .read(name, {0, std::uint64_t(decomp.first_step()), 0}, {B, std::uint64_t(local), D},
            host.data());
  for (std::size_t i = 0; i < host.size(); ++i)
    if (!std::isfinite(host.data()[i])) {
      const std::size_t per_b = std::size_t(local) * D;
      throw io::Error(path + ": dataset '" + name + "' contains NaN or Inf (first at batch " +
                      std::to_string(i / per_b) + ", time " +
                      std::to_string(decomp.first_step() + (i % per_b) / D) + ")");
    }
  Kokkos::deep_copy(out, host);
  return out;
}

template <class Scalar, class Decomp>
int grad_typed(const GradConfig& cfg, const GradProblem& p, const World& world,
               const Decomp& decomp, long long local) {
  using View3 = Kokkos::View<Scalar***, Kokkos::LayoutRight>;
  using View2 = Kokkos::View<Scalar**, Kokkos::LayoutRight>;
  const std::uint64_t B = p.batch, H = p.state, I = p.inputs;
  View3 inputs, cotangent, states;
  View2 s0("ungulate::grad::s0", B, H);
  all_or_none(world, [&] {
    inputs = read_finite_slice<Scalar>(cfg.input, "/inputs", B, I, decomp, local, world);
    cotangent = read_finite_slice<Scalar>(cfg.cotangent, "/cotangent", B, H, decomp, local, world);
    if (!cfg.states.empty())
      states = read_finite_slice<Scalar>(cfg.states, "/states", B, H, decomp, local, world);
    if (p.has_initial_state) {
      auto h = Kokkos::create_mirror_view(s0);
      io::H5File::open(cfg.input, world.comm).read("/initial_state", {0, 0}, {B, H}, h.data());
      for (std::size_t i = 0; i < h.size(); ++i)
        if (!std::isfinite(h.data()[i]))
          throw io::Error(cfg.input + ": dataset '/initial_state' contains NaN or Inf");
      Kokkos::deep_copy(s0, h);
    }
  });
  // Created now, so that an unwritable directory is reported before the work.
  PartialOutput output_file(cfg.output, cfg.force, world.comm);

  return std::visit(
      [&](const auto& weights) -> int {
        using W = std::decay_t<decltype(weights)>;
        const auto cell = [&] {
          if constexpr (std::is_same_v<W, io::GruWeights>)
            return io::make_gru<Scalar>(weights);
          else if constexpr (std::is_same_v<W, io::LstmWeights>)
            return io::make_lstm<Scalar>(weights);
          else
            return io::make_lorenz96<Scalar>(weights);
        }();
        // The trajectory: given, or computed here (sequential evaluation by default).
        double trajectory_seconds = 0;
        if (cfg.states.empty()) {
          states = View3("ungulate::grad::states", B, std::size_t(local), H);
          const SolveResult r = solve(cell, inputs, s0, states, cfg.opt, decomp);
          trajectory_seconds = decomp.max_all(r.seconds);
          if (r.status != Status::Converged) {
            if (world.rank == 0)
              std::fprintf(stderr,
                           "ungulate grad: the trajectory (%s) did not converge: %s after %d "
                           "iterations, residual %.3g; no gradient written\n",
                           to_string(r.method), to_string(r.status), r.iterations,
                           r.final_residual);
            return r.status == Status::Diverged ? 4 : 3;
          }
        }
        GradientOptions gopt;
        gopt.num_chunks = cfg.opt.num_chunks;
        const auto g = gradient(cell, inputs, s0, states, cotangent, gopt, decomp);
        const double seconds = decomp.max_all(g.seconds);

        const bool root = world.rank == 0;
        const io::DType dtype = sizeof(Scalar) == 4 ? io::DType::Float32 : io::DType::Float64;
        io::H5File out = io::H5File::create(output_file.temporary(), world.comm);
        out.create_group("/grad");
        out.create_group("/grad/model");
        {
          auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.inputs);
          out.create_dataset("/grad/inputs", {B, p.length, I}, dtype);
          out.write("/grad/inputs", {0, std::uint64_t(decomp.first_step()), 0},
                    {B, std::uint64_t(local), I}, h.data());
        }
        {
          auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.initial_state);
          out.create_dataset("/grad/initial_state", {B, H}, dtype);
          out.write("/grad/initial_state", {0, 0}, {root ? B : 0, H}, h.data());
        }
        std::size_t offset = 0;
        for (const auto& block : g.blocks) {
          const std::string name = "/grad/model/" + block.name;
          Shape shape(block.shape.begin(), block.shape.end()), count = shape;
          if (!root) count[0] = 0;
          out.create_dataset(name, shape, io::DType::Float64);
          out.write(name, Shape(shape.size(), 0), count, g.weights.data() + offset);
          offset += block.size();
        }
        out.set_attribute("/grad/model", "cell", p.model.cell_name());
        out.set_attribute("/grad/model", "note",
                          std::string("dL/d(weight), summed over the batch and all steps, "
                                      "accumulated in float64"));
        out.set_attribute("/", "kind", std::string("gradient"));
        out.set_attribute("/", "precision",
                          std::string(sizeof(Scalar) == 4 ? "float32" : "float64"));
        out.set_attribute("/", "ranks", static_cast<long long>(world.size));
        out.set_attribute("/", "model_file", cfg.model);
        out.set_attribute("/", "input_file", cfg.input);
        out.set_attribute("/", "cotangent_file", cfg.cotangent);
        out.set_attribute("/", "trajectory",
                          cfg.states.empty() ? std::string("computed: ") + to_string(cfg.opt.method)
                                             : "from " + cfg.states);
        out.set_attribute("/", "trajectory_seconds", trajectory_seconds);
        out.set_attribute("/", "seconds", seconds);
        out.set_attribute("/", "max_abs_adjoint", g.max_abs_adjoint);
        out.set_attribute("/", "ungulate_version", std::string(version()));
        out.close();
        output_file.publish(true);
        if (root && !cfg.quiet)
          std::printf("gradient: %.3f s (trajectory %.3f s), max |dL/ds_t| %.3g -> %s\n", seconds,
                      trajectory_seconds, g.max_abs_adjoint, cfg.output.c_str());
        if (!std::isfinite(g.max_abs_adjoint)) {
          if (root)
            std::fprintf(stderr,
                         "ungulate grad: the adjoint overflowed (max |dL/ds_t| = %g): the "
                         "gradients in %s are not finite (written for inspection)\n",
                         g.max_abs_adjoint, cfg.output.c_str());
          return 4;
        }
        return 0;
      },
      p.model.cell);
}

GradConfig parse_grad(cli::ArgParser& args) {
  GradConfig cfg;
  for (const char* required : {"model", "input", "cotangent", "output"})
    if (!args.has(required))
      throw cli::UsageError(std::string("missing --") + required +
                            (std::string(required) == "output" ? " (or -o)" : ""));
  cfg.model = args.get("model");
  cfg.input = args.get("input");
  cfg.cotangent = args.get("cotangent");
  cfg.output = args.get("output");
  if (args.has("states")) cfg.states = args.get("states");
  if (!parse_method(args.get("method"), cfg.opt.method))
    throw cli::UsageError("--method must be seq, deer, quasi-deer, elk, quasi-elk or auto, got '" +
                          args.get("method") + "'");
  read_solver_options(args, cfg.opt);
  if (!cfg.states.empty() && args.has("method"))
    throw cli::UsageError("--method computes the trajectory: it excludes --states");
  cfg.use_double = args.get_flag("double");
  cfg.quiet = args.get_flag("quiet");
  cfg.force = args.get_flag("force");
  std::vector<NamedPath> inputs = {
      {"--model", cfg.model}, {"--input", cfg.input}, {"--cotangent", cfg.cotangent}};
  if (!cfg.states.empty()) inputs.push_back({"--states", cfg.states});
  check_outputs(inputs, {{"--output", cfg.output}}, cfg.force);
  return cfg;
}

}  // namespace

int grad_command(int argc, char** argv, int first) {
  cli::ArgParser args(
      "ungulate grad",
      "Gradients of a loss L through the model's recurrence s_t = f(s_{t-1}, x_t), given\n"
      "dL/ds_t for every step: dataset /cotangent (batch, time, state) in --cotangent. The\n"
      "trajectory is read from --states (dataset /states, e.g. an `ungulate run` output) or,\n"
      "without it, computed first with --method (default seq: sequential evaluation).\n"
      "Writes /grad/inputs (batch, time, input_size), /grad/initial_state (batch, state) and\n"
      "/grad/model/<name> for every weight of the model (same names and shapes; Lorenz-96:\n"
      "F, shape (1)), by the exact adjoint recurrence (a reverse sweep per sequence,\n"
      "pipelined across ranks; a reverse scan with more ranks than sequences). The output\n"
      "appears only when complete. Exit code: 0 done, 2 bad input, 3/4 the trajectory did\n"
      "not converge / diverged (4 also: the gradient overflowed).");
  args.option("model", "FILE", "HDF5 file with the model group /model");
  args.option("input", "FILE", "HDF5 file with /inputs (and optionally /initial_state)");
  args.option("cotangent", "FILE", "HDF5 file with /cotangent (batch, time, state): dL/ds_t");
  args.option("states", "FILE", "the trajectory: dataset /states (batch, time, state)");
  args.option("output", "FILE", "output file (also -o)");
  args.option("method", "NAME",
              "how the trajectory is computed without --states: seq | deer | quasi-deer | elk | "
              "quasi-elk | auto",
              "seq");
  declare_solver_options(args);
  args.flag("double", "compute in float64 (default float32)");
  args.flag("quiet", "no summary on stdout");
  args.flag("force", "replace an existing output file");
  for (int i = first; i < argc; ++i)
    if (std::string(argv[i]) == "-o") argv[i] = const_cast<char*>("--output");
  if (!args.parse(argc, argv, first)) return 0;
  const GradConfig cfg = parse_grad(args);
  const World world;
  remove_partials_on_signals();
  if (world.rank == 0) remove_stale_partials(cfg.output);
  GradProblem problem;
  all_or_none(world, [&] { problem = inspect_grad_problem(cfg, world); });
  const long long T = static_cast<long long>(problem.length);
  return with_precision_and_decomposition(
      world, cfg.use_double, T, [&](auto scalar, const auto& decomp, long long local) {
        return grad_typed<decltype(scalar)>(cfg, problem, world, decomp, local);
      });
}

}  // namespace ungulate::app
