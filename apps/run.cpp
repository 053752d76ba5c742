// `ungulate run`: evaluate a model from HDF5 on inputs from HDF5, write the trajectory and
// the convergence log; parallel HDF5 under mpirun (each rank touches only its time slice).
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
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

enum class InitKind { Zeros, Warm, File };

struct RunConfig {
  std::string model, input, output, init_file, checkpoint, restart;
  SolverOptions opt;
  InitKind init = InitKind::Zeros;
  int checkpoint_every = 10;
  int repeat = 1;  // solves in this process (benchmarking: later ones reuse the workspace)
  bool use_double = false, quiet = false, force = false;
};

struct Problem {
  io::Model model;
  std::uint64_t batch = 0, length = 0, inputs = 0;
  bool has_initial_state = false;
  std::vector<IterationRecord> previous_history;  // from a restart checkpoint
  TrustRegionState trust_region;                  // from a restart checkpoint
};

using Shape = std::vector<std::uint64_t>;

// The largest iteration count ungulate accepts (--max-iter, checkpoints).
constexpr long long kMaxIterations = 1 << 30;

// The convergence log of a checkpoint, validated: it sets the iteration count of the resumed
// run, so a hostile or damaged log must not reach the solver.
std::vector<IterationRecord> read_history(const io::H5File& file) {
  std::vector<IterationRecord> out;
  if (!file.exists("/convergence/iteration")) return out;
  const char* const names[] = {"/convergence/iteration", "/convergence/residual",
                               "/convergence/update_norm", "/convergence/seconds"};
  const io::DatasetInfo log = file.describe(names[0]);
  if (log.shape.size() != 1 || log.shape[0] > kMaxIterations)
    throw io::Error(file.path() + ": dataset '" + names[0] + "' has shape " +
                    io::shape_string(log.shape) +
                    ", expected (n) with n <= " + std::to_string(kMaxIterations));
  const std::uint64_t n = log.shape[0];
  for (const char* name : names)
    if (file.describe(name).shape != log.shape)
      throw io::Error(file.path() + ": dataset '" + name + "' has shape " +
                      io::shape_string(file.describe(name).shape) + ", expected (" +
                      std::to_string(n) + ")");
  if (n == 0) return out;  // a solve that ended without iterating (warm start)
  std::vector<long long> it(n);
  std::vector<double> res(n), upd(n), sec(n);
  file.read(names[0], {0}, {n}, it.data());
  file.read(names[1], {0}, {n}, res.data());
  file.read(names[2], {0}, {n}, upd.data());
  file.read(names[3], {0}, {n}, sec.data());
  for (std::uint64_t i = 0; i < n; ++i) {
    if (it[i] < 1 || it[i] > kMaxIterations || (i > 0 && it[i] <= it[i - 1]))
      throw io::Error(file.path() + ": dataset '" + names[0] + "' holds iteration " +
                      std::to_string(it[i]) + " at index " + std::to_string(i) +
                      " (expected increasing counts in [1, " + std::to_string(kMaxIterations) +
                      "])");
    if (!(sec[i] >= 0) || !std::isfinite(sec[i]))
      throw io::Error(file.path() + ": dataset '" + names[3] + "' holds an invalid time");
    out.push_back({int(it[i]), res[i], upd[i], sec[i]});
  }
  // Trust-region columns (absent in logs of version 0.1).
  if (file.exists("/convergence/lambda")) {
    std::vector<double> lambda(n);
    file.describe_float("/convergence/lambda", {n});
    file.read("/convergence/lambda", {0}, {n}, lambda.data());
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!(lambda[i] >= 0) || !std::isfinite(lambda[i]))
        throw io::Error(file.path() + ": dataset '/convergence/lambda' holds an invalid lambda");
      out[i].lambda = lambda[i];
    }
  }
  return out;
}

// The adaptive trust region's state in a checkpoint: (B) datasets /trust_region/lambda and
// /trust_region/growth, or nothing.
void write_trust_region(io::H5File& file, const TrustRegionState& region, bool root) {
  if (region.lambda.empty()) return;
  file.create_group("/trust_region");
  const std::uint64_t B = region.lambda.size();
  for (auto [name, data] : {std::pair{"/trust_region/lambda", &region.lambda},
                            std::pair{"/trust_region/growth", &region.growth}}) {
    file.create_dataset(name, {B}, io::DType::Float64);
    file.write(name, {0}, {root ? B : 0}, data->data());
  }
}

TrustRegionState read_trust_region(const io::H5File& file, std::uint64_t B) {
  TrustRegionState region;
  if (!file.exists("/trust_region/lambda")) return region;
  region.lambda.resize(B);
  region.growth.resize(B);
  for (auto [name, data] : {std::pair{"/trust_region/lambda", &region.lambda},
                            std::pair{"/trust_region/growth", &region.growth}}) {
    file.describe_float(name, {B});
    file.read(name, {0}, {B}, data->data());
    for (double v : *data)
      if (!(v > 0) || !std::isfinite(v))
        throw io::Error(file.path() + ": dataset '" + name + "' holds " + std::to_string(v) +
                        ", expected finite values > 0");
  }
  return region;
}

void write_history(io::H5File& file, const std::vector<IterationRecord>& history, bool root) {
  file.create_group("/convergence");
  const std::uint64_t n = history.size();
  std::vector<long long> it;
  std::vector<double> res, upd, sec, lambda;
  for (const auto& r : history) {
    it.push_back(r.iteration);
    res.push_back(r.residual);
    upd.push_back(r.update_norm);
    sec.push_back(r.seconds);
    lambda.push_back(r.lambda);
  }
  const Shape count = {root ? n : 0};
  // A solve may end without iterating (a warm start already within tolerance, --max-iter 0):
  // the log is then empty, and writing nothing is not an HDF5 write (n is the same on all
  // ranks, so every rank skips the collective call alike).
  file.create_dataset("/convergence/iteration", {n}, io::DType::Int64);
  if (n > 0) file.write("/convergence/iteration", {0}, count, it.data());
  for (auto [name, data] :
       {std::pair{"/convergence/residual", &res}, std::pair{"/convergence/update_norm", &upd},
        std::pair{"/convergence/seconds", &sec}, std::pair{"/convergence/lambda", &lambda}}) {
    file.create_dataset(name, {n}, io::DType::Float64);
    if (n > 0) file.write(name, {0}, count, data->data());
  }
  file.set_attribute("/convergence", "residual",
                     std::string("max_t |s_t - f(s_{t-1})| of the iterate each step started from"));
  file.set_attribute("/convergence", "update_norm", std::string("max_t |s^(i+1)_t - s^(i)_t|"));
  file.set_attribute("/convergence", "lambda",
                     std::string("largest trust-region lambda of the step (0: undamped)"));
}

// Sizes are bounded before anything is allocated or read: time and batch indices are int,
// and a file may declare a (chunked, unallocated) dataset far larger than any memory.
void check_problem_size(const RunConfig& cfg, const Problem& p, const World& world) {
  const std::uint64_t max_index = std::uint64_t(std::numeric_limits<int>::max());
  if (p.length > max_index || p.batch > max_index)
    throw io::Error(cfg.input + ": dataset '/inputs' has shape " +
                    io::shape_string({p.batch, p.length, p.inputs}) +
                    ": batch and time sizes above " + std::to_string(max_index) +
                    " are not supported");
  // Inputs and states of this rank's slice: a lower bound of what the run needs.
  const double scalar_bytes = cfg.use_double ? 8 : 4;
  const double bytes = double(p.batch) * std::ceil(double(p.length) / world.size) *
                       double(p.inputs + std::uint64_t(p.model.state_size())) * scalar_bytes;
  const std::string shortfall = cli::memory_shortfall(bytes, " for inputs and states");
  if (!shortfall.empty())
    throw io::Error(cfg.input + ": dataset '/inputs' of shape " +
                    io::shape_string({p.batch, p.length, p.inputs}) + " needs at least " +
                    shortfall);
}

// Validation common to all ranks: model, inputs, optional initial state, init/restart files.
Problem inspect_problem(const RunConfig& cfg, const World& world) {
  Problem p;
  const io::H5File model = io::H5File::open(cfg.model, world.comm);
  p.model = io::read_model(model);
  const io::H5File in = io::H5File::open(cfg.input, world.comm);
  const io::DatasetInfo x = in.describe_float("/inputs");
  if (x.shape.size() != 3)
    throw io::Error(cfg.input + ": dataset '/inputs' has shape " + io::shape_string(x.shape) +
                    ", expected (batch, time, input_size)");
  p.batch = x.shape[0];
  p.length = x.shape[1];
  p.inputs = x.shape[2];
  if (p.batch == 0)
    throw io::Error(cfg.input + ": dataset '/inputs' has batch size 0: nothing to evaluate");
  if (p.length == 0)
    throw io::Error(cfg.input + ": dataset '/inputs' has T = 0 time steps: nothing to evaluate");
  if (p.inputs != std::uint64_t(p.model.input_size()))
    throw io::Error(cfg.input + ": dataset '/inputs' has input size " + std::to_string(p.inputs) +
                    ", but the " + p.model.cell_name() + " model in " + cfg.model + " expects " +
                    std::to_string(p.model.input_size()));
  check_problem_size(cfg, p, world);
  const Shape states = {p.batch, p.length, std::uint64_t(p.model.state_size())};
  p.has_initial_state = in.exists("/initial_state");
  if (p.has_initial_state)
    in.describe_float("/initial_state", {p.batch, std::uint64_t(p.model.state_size())});
  if (cfg.init == InitKind::File)
    io::H5File::open(cfg.init_file, world.comm).describe_float("/states", states);
  if (!cfg.restart.empty()) {
    const io::H5File ck = io::H5File::open(cfg.restart, world.comm);
    if (!ck.exists("/states"))
      throw io::Error(cfg.restart + ": not an ungulate checkpoint (no dataset '/states')");
    ck.describe_float("/states", states);
    if (!ck.has_attribute("/", "method") || !ck.has_attribute("/", "iterations"))
      throw io::Error(cfg.restart +
                      ": not an ungulate checkpoint (attributes 'method' and "
                      "'iterations' missing)");
    const std::string method = ck.get_string_attribute("/", "method");
    if (method != to_string(cfg.opt.method))
      throw io::Error(cfg.restart + ": checkpoint of method '" + method + "', but --method is '" +
                      to_string(cfg.opt.method) + "'");
    const long long iterations = ck.get_int_attribute("/", "iterations");
    if (iterations < 0 || iterations > kMaxIterations)
      throw io::Error(cfg.restart + ": attribute 'iterations' on '/' is " +
                      std::to_string(iterations) + ", expected a count in [0, " +
                      std::to_string(kMaxIterations) + "]");
    p.previous_history = read_history(ck);
    p.trust_region = read_trust_region(ck, p.batch);
    if (!p.previous_history.empty() && p.previous_history.back().iteration != iterations)
      throw io::Error(cfg.restart + ": attribute 'iterations' on '/' (" +
                      std::to_string(iterations) + ") disagrees with '/convergence/iteration' (" +
                      std::to_string(p.previous_history.back().iteration) + ")");
  }
  return p;
}

template <class Scalar>
using Host3 = Kokkos::View<Scalar***, Kokkos::LayoutRight, Kokkos::HostSpace>;

// Reads this rank's time slice of a (B, T, D) dataset.
template <class Scalar, class Decomp>
Kokkos::View<Scalar***, Kokkos::LayoutRight> read_slice(const std::string& path,
                                                        const std::string& name, std::uint64_t B,
                                                        std::uint64_t D, const Decomp& decomp,
                                                        long long local, const World& world) {
  Kokkos::View<Scalar***, Kokkos::LayoutRight> out(
      Kokkos::view_alloc(name, Kokkos::WithoutInitializing), B, std::size_t(local), D);
  auto host = Kokkos::create_mirror_view(out);
  const io::H5File file = io::H5File::open(path, world.comm);
  file.read(name, {0, std::uint64_t(decomp.first_step()), 0}, {B, std::uint64_t(local), D},
            host.data());
  Kokkos::deep_copy(out, host);
  return out;
}

std::string describe_status(const SolveResult& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s after %d iterations, residual %.3g", to_string(r.status),
                r.iterations, r.final_residual);
  std::string text = buf;
  if (r.fallback != Fallback::None) {
    std::snprintf(buf, sizeof buf, ", fallback %s after iteration %d", to_string(r.fallback),
                  r.fallback_iteration);
    text += buf;
  }
  if (std::isfinite(r.lle)) {
    std::snprintf(buf, sizeof buf, ", LLE %.3g (%s)", r.lle,
                  solvers::is_predictable(r.lle) ? "predictable" : "chaotic");
    text += buf;
  }
  return text;
}

template <class Scalar, class Decomp>
void write_states_file(PartialOutput& target, bool last, const World& world, const Decomp& decomp,
                       long long local, const Problem& p,
                       const Kokkos::View<Scalar***, Kokkos::LayoutRight>& states,
                       const std::vector<IterationRecord>& history,
                       const std::function<void(io::H5File&)>& attributes) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), states);
  io::H5File out = io::H5File::create(target.temporary(), world.comm);
  const std::uint64_t H = std::uint64_t(p.model.state_size());
  out.create_dataset("/states", {p.batch, p.length, H},
                     sizeof(Scalar) == 4 ? io::DType::Float32 : io::DType::Float64);
  out.write("/states", {0, std::uint64_t(decomp.first_step()), 0},
            {p.batch, std::uint64_t(local), H}, host.data());
  const std::string cell = p.model.cell_name();
  out.set_attribute("/states", "layout",
                    std::string(cell == "lstm" ? "(batch, time, 2 hidden): state (h, c), h first"
                                : cell == "lorenz96" ? "(batch, time, N)"
                                                     : "(batch, time, hidden)"));
  write_history(out, history, world.rank == 0);
  attributes(out);
  out.close();
  target.publish(last);
}

// ", ~N more iterations (S s)" from the update norms so far, or "" while there is no
// estimate.  The rate is the geometric mean of the last two ratios: a single ratio misleads
// early on (the benchmark GRU's first two updates, 1.20 and 1.07, projected 78 iterations
// where 10 followed).  cap_left < 0: no iteration cap.
std::string remaining_estimate(const std::vector<double>& updates, double tol,
                               double seconds_per_iteration, int cap_left) {
  const std::size_t n = updates.size();
  if (n < 3 || cap_left == 0) return "";
  const double now = updates[n - 1], before = updates[n - 3];
  if (!(now > tol) || !(now < before) || !(now > 0)) return "";
  const double rate = std::sqrt(now / before);
  const double more = std::ceil(std::log(tol / now) / std::log(rate));
  char buf[128];
  if (cap_left >= 0 && more > cap_left)
    std::snprintf(buf, sizeof buf, ", ~%.0f more iterations: beyond the cap (%d more)", more,
                  cap_left);
  else
    std::snprintf(buf, sizeof buf, ", ~%.0f more iteration%s (%.1f s)", more, more == 1 ? "" : "s",
                  more * seconds_per_iteration);
  return buf;
}

template <class Scalar, class Decomp>
int run_typed(const RunConfig& cfg, const Problem& p, const World& world, const Decomp& decomp,
              long long local) {
  const std::uint64_t B = p.batch, H = std::uint64_t(p.model.state_size());
  Kokkos::View<Scalar***, Kokkos::LayoutRight> inputs;
  all_or_none(world, [&] {
    inputs = read_slice<Scalar>(cfg.input, "/inputs", B, p.inputs, decomp, local, world);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), inputs);
    for (std::size_t i = 0; i < h.size(); ++i)
      if (!std::isfinite(h.data()[i])) {
        const std::size_t per_b = std::size_t(local) * p.inputs;
        throw io::Error(cfg.input + ": dataset '/inputs' contains NaN or Inf (first at batch " +
                        std::to_string(i / per_b) + ", time " +
                        std::to_string(decomp.first_step() + (i % per_b) / p.inputs) + ")");
      }
  });
  Kokkos::View<Scalar**, Kokkos::LayoutRight> s0("ungulate::run::s0", B, H);
  if (p.has_initial_state) {
    all_or_none(world, [&] {
      auto h = Kokkos::create_mirror_view(s0);
      io::H5File::open(cfg.input, world.comm).read("/initial_state", {0, 0}, {B, H}, h.data());
      for (std::size_t i = 0; i < h.size(); ++i)
        if (!std::isfinite(h.data()[i]))
          throw io::Error(cfg.input + ": dataset '/initial_state' contains NaN or Inf");
      Kokkos::deep_copy(s0, h);
    });
  }
  Kokkos::View<Scalar***, Kokkos::LayoutRight> states("ungulate::run::states", B,
                                                      std::size_t(local), H);
  SolverOptions opt = cfg.opt;
  int offset = 0;
  double seconds_offset = 0;
  if (!cfg.restart.empty() || cfg.init == InitKind::File) {
    const std::string from = cfg.restart.empty() ? cfg.init_file : cfg.restart;
    all_or_none(world, [&] {
      states = read_slice<Scalar>(from, "/states", B, H, decomp, local, world);
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), states);
      for (std::size_t i = 0; i < h.size(); ++i)
        if (!std::isfinite(h.data()[i]))
          throw io::Error(from + ": dataset '/states' contains NaN or Inf (an initial iterate " +
                          "must be finite)");
    });
    opt.init = Initialization::Given;
    opt.resume_trust_region = p.trust_region;
    if (!p.previous_history.empty()) {
      offset = p.previous_history.back().iteration;
      seconds_offset = p.previous_history.back().seconds;
    }
    if (opt.max_iterations >= 0) opt.max_iterations = std::max(0, opt.max_iterations - offset);
  }
  const double tol = opt.tolerance > 0 ? opt.tolerance : default_tolerance<Scalar>();
  std::vector<IterationRecord> history = p.previous_history;
  std::vector<double> updates;  // of this solve, for the progress line's estimate
  opt.on_iteration = [&](const IterationRecord& r) {
    IterationRecord shifted = r;
    shifted.iteration += offset;
    shifted.seconds += seconds_offset;
    history.push_back(shifted);
    updates.push_back(r.update_norm);
    if (world.rank != 0 || cfg.quiet) return;
    const int cap_left = opt.max_iterations >= 0 ? opt.max_iterations - r.iteration : -1;
    const std::string eta =
        remaining_estimate(updates, tol, r.seconds / std::max(r.iteration, 1), cap_left);
    std::fprintf(stderr, "[%s] iteration %d: residual %.3e, update %.3e, elapsed %.1f s%s\n",
                 to_string(opt.method), shifted.iteration, r.residual, r.update_norm,
                 shifted.seconds, eta.c_str());
  };
  const auto common_attributes = [&](io::H5File& f, int iterations) {
    f.set_attribute("/", "method", std::string(to_string(opt.method)));
    f.set_attribute("/", "iterations", static_cast<long long>(iterations));
    f.set_attribute("/", "tolerance", tol);
    f.set_attribute("/", "max_iterations", static_cast<long long>(cfg.opt.max_iterations));
    f.set_attribute("/", "lambda", opt.lambda);
    f.set_attribute("/", "trust_region", std::string(to_string(opt.trust_region)));
    f.set_attribute(
        "/", "elk_estimate",
        std::string(opt.elk_estimate == KalmanEstimate::Smoother ? "smoother" : "filter"));
    f.set_attribute("/", "init",
                    std::string(cfg.init == InitKind::Zeros  ? "zeros"
                                : cfg.init == InitKind::Warm ? "warm"
                                                             : "file"));
    f.set_attribute("/", "precision", std::string(sizeof(Scalar) == 4 ? "float32" : "float64"));
    f.set_attribute("/", "ranks", static_cast<long long>(world.size));
    f.set_attribute("/", "model_file", cfg.model);
    f.set_attribute("/", "input_file", cfg.input);
    f.set_attribute("/", "ungulate_version", std::string(version()));
  };
  // Created now, so that an unwritable directory is reported before the solve.
  PartialOutput output_file(cfg.output, cfg.force, world.comm);
  std::optional<PartialOutput> checkpoint_file;
  if (!cfg.checkpoint.empty()) {
    checkpoint_file.emplace(cfg.checkpoint, cfg.force, world.comm);
    opt.checkpoint_every = cfg.checkpoint_every;
    opt.on_checkpoint = [&](const Checkpoint& c) {
      const int iteration = c.iteration;
      write_states_file<Scalar>(*checkpoint_file, false, world, decomp, local, p, states, history,
                                [&](io::H5File& f) {
                                  common_attributes(f, iteration + offset);
                                  write_trust_region(f, c.trust_region, world.rank == 0);
                                  f.set_attribute("/", "kind", std::string("checkpoint"));
                                });
      if (world.rank == 0 && !cfg.quiet)
        std::fprintf(stderr, "[%s] checkpoint at iteration %d -> %s\n", to_string(opt.method),
                     iteration + offset, cfg.checkpoint.c_str());
    };
  }

  // One workspace for every --repeat solve: the first allocates and first-touches it.
  Workspace<Scalar> workspace;
  std::vector<double> solve_seconds;
  SolveResult r;
  for (int k = 0; k < cfg.repeat; ++k) {
    history = p.previous_history;
    updates.clear();
    r = std::visit(
        [&](const auto& weights) {
          using W = std::decay_t<decltype(weights)>;
          if constexpr (std::is_same_v<W, io::GruWeights>)
            return solve(io::make_gru<Scalar>(weights), inputs, s0, states, opt, decomp, workspace);
          else if constexpr (std::is_same_v<W, io::LstmWeights>)
            return solve(io::make_lstm<Scalar>(weights), inputs, s0, states, opt, decomp,
                         workspace);
          else
            return solve(io::make_lorenz96<Scalar>(weights), inputs, s0, states, opt, decomp,
                         workspace);
        },
        p.model.cell);
    solve_seconds.push_back(decomp.max_all(r.seconds));
    if (cfg.repeat > 1 && world.rank == 0 && !cfg.quiet)
      std::fprintf(stderr, "[%s] solve %d of %d: %.3f s\n", to_string(opt.method), k + 1,
                   cfg.repeat, solve_seconds.back());
  }
  const int iterations = r.iterations + (r.method == Method::Sequential ? 0 : offset);
  const double seconds = solve_seconds.back() + seconds_offset;
  if (r.method == Method::Sequential) history = {{1, r.final_residual, 0.0, seconds}};
  write_states_file<Scalar>(
      output_file, true, world, decomp, local, p, states, history, [&](io::H5File& f) {
        common_attributes(f, iterations);
        f.set_attribute("/", "kind", std::string("trajectory"));
        f.set_attribute("/", "status", std::string(to_string(r.status)));
        f.set_attribute("/", "final_residual", r.final_residual);
        f.set_attribute("/", "final_update", r.final_update);
        f.set_attribute("/", "fallback", std::string(to_string(r.fallback)));
        f.set_attribute("/", "fallback_iteration", static_cast<long long>(r.fallback_iteration));
        f.set_attribute("/", "warm_window", static_cast<long long>(r.warm_window));
        f.set_attribute("/", "lle", r.lle);
        // --method auto: the method it chose.
        f.set_attribute("/", "method_run", std::string(to_string(r.method)));
        f.set_attribute("/", "seconds", seconds);
        // Every solve's time (--repeat): the first allocates and first-touches the workspace.
        f.set_attribute("/", "repeats", static_cast<long long>(cfg.repeat));
        const std::uint64_t n = solve_seconds.size();
        f.create_dataset("/solve_seconds", {n}, io::DType::Float64);
        f.write("/solve_seconds", {0}, {world.rank == 0 ? n : 0}, solve_seconds.data());
        if (!cfg.restart.empty()) f.set_attribute("/", "restarted_from", cfg.restart);
      });
  if (world.rank == 0) {
    SolveResult shown = r;
    shown.iterations = iterations;
    const std::string name = opt.method == Method::Auto
                                 ? std::string("auto (") + to_string(r.method) + ")"
                                 : std::string(to_string(opt.method));
    std::printf("%s: %s, %.3f s -> %s\n", name.c_str(), describe_status(shown).c_str(), seconds,
                cfg.output.c_str());
    if (cfg.repeat > 1) {
      std::vector<double> later(solve_seconds.begin() + 1, solve_seconds.end());
      std::sort(later.begin(), later.end());
      std::printf("%d solves: first %.3f s, later ones median %.3f s (min %.3f, max %.3f)\n",
                  cfg.repeat, solve_seconds.front(),
                  (later[(later.size() - 1) / 2] + later[later.size() / 2]) / 2, later.front(),
                  later.back());
    }
  }
  return r.status == Status::Converged ? 0 : r.status == Status::Diverged ? 4 : 3;
}

RunConfig parse_run(cli::ArgParser& args) {
  RunConfig cfg;
  for (const char* required : {"model", "input", "output"})
    if (!args.has(required))
      throw cli::UsageError(std::string("missing --") + required +
                            (std::string(required) == "output" ? " (or -o)" : ""));
  cfg.model = args.get("model");
  cfg.input = args.get("input");
  cfg.output = args.get("output");
  if (!parse_method(args.get("method"), cfg.opt.method))
    throw cli::UsageError("--method must be seq, deer, quasi-deer, elk, quasi-elk or auto, got '" +
                          args.get("method") + "'");
  read_solver_options(args, cfg.opt);
  const std::string init = args.get("init");
  if (init == "zeros")
    cfg.init = InitKind::Zeros;
  else if (init == "warm")
    cfg.init = InitKind::Warm;
  else if (init == "file")
    cfg.init = InitKind::File;
  else
    throw cli::UsageError("--init must be zeros, warm or file, got '" + init + "'");
  cfg.opt.init = cfg.init == InitKind::Warm ? Initialization::Warm : Initialization::Zeros;
  if (cfg.init == InitKind::File) {
    if (!args.has("init-file")) throw cli::UsageError("--init file needs --init-file FILE");
    cfg.init_file = args.get("init-file");
  } else if (args.has("init-file")) {
    throw cli::UsageError("--init-file needs --init file");
  }
  if (args.has("checkpoint")) cfg.checkpoint = args.get("checkpoint");
  cfg.checkpoint_every = int(args.get_int("checkpoint-every", 1, 1 << 30));
  if (args.has("restart")) {
    cfg.restart = args.get("restart");
    if (args.has("init")) throw cli::UsageError("--restart and --init exclude each other");
    if (cfg.opt.method == Method::Sequential)
      throw cli::UsageError("--restart needs an iterative method");
  }
  cfg.repeat = int(args.get_int("repeat", 1, 1000));
  if (cfg.repeat > 1 &&
      (!cfg.restart.empty() || cfg.init == InitKind::File || args.has("checkpoint")))
    throw cli::UsageError(
        "--repeat needs a solve that starts afresh: not with --restart, "
        "--init file or --checkpoint");
  cfg.use_double = args.get_flag("double");
  cfg.quiet = args.get_flag("quiet");
  cfg.force = args.get_flag("force");
  std::vector<NamedPath> inputs = {{"--model", cfg.model}, {"--input", cfg.input}};
  if (!cfg.init_file.empty()) inputs.push_back({"--init-file", cfg.init_file});
  if (!cfg.restart.empty()) inputs.push_back({"--restart", cfg.restart});
  std::vector<NamedPath> outputs = {{"--output", cfg.output}};
  if (!cfg.checkpoint.empty()) outputs.push_back({"--checkpoint", cfg.checkpoint});
  check_outputs(inputs, outputs, cfg.force);
  return cfg;
}

}  // namespace

int run_command(int argc, char** argv, int first) {
  cli::ArgParser args(
      "ungulate run",
      "Evaluates the model in --model (a GRU, LSTM or Lorenz-96 cell: see docs/hdf5.md) on\n"
      "the inputs in --input (dataset /inputs of shape (batch, time, input_size), float32 or\n"
      "float64; optional /initial_state (batch, state)) and writes /states (batch, time,\n"
      "state), the convergence log and run attributes to -o. The state is the hidden state\n"
      "(GRU), (h, c) with h first (LSTM: 2 hidden values) or the N variables (Lorenz-96).\n"
      "The output appears only when complete. Exit code: 0 converged, 2 bad input,\n"
      "3 iteration cap reached, 4 diverged (the last finite iterate is written).");
  args.option("model", "FILE", "HDF5 file with the model group /model");
  args.option("input", "FILE", "HDF5 file with the dataset /inputs");
  args.option("output", "FILE", "output file (also -o)");
  args.option("method", "NAME",
              "seq | deer | quasi-deer | elk | quasi-elk | auto (seq if the LLE estimate says "
              "chaotic, else quasi-deer from --init warm)",
              "quasi-deer");
  declare_solver_options(args);
  args.option("init", "I", "zeros | warm | file (with --init-file)", "zeros");
  args.option("init-file", "FILE", "initial iterate: dataset /states of an ungulate output");
  args.option("checkpoint", "FILE", "save the current iterate every --checkpoint-every iterations");
  args.option("checkpoint-every", "N", "checkpoint interval", "10");
  args.option("restart", "FILE", "resume from a checkpoint written by --checkpoint");
  args.option("repeat", "N",
              "solve N times in one process, the later ones reusing the workspace "
              "(benchmarks); times in /solve_seconds",
              "1");
  args.flag("double", "compute in float64 (default float32)");
  args.flag("quiet", "no progress on stderr");
  args.flag("force", "replace an existing output file");
  for (int i = first; i < argc; ++i)
    if (std::string(argv[i]) == "-o") argv[i] = const_cast<char*>("--output");
  if (!args.parse(argc, argv, first)) return 0;
  const RunConfig cfg = parse_run(args);
  const World world;
  remove_partials_on_signals();
  if (world.rank == 0) {
    remove_stale_partials(cfg.output);
    if (!cfg.checkpoint.empty()) remove_stale_partials(cfg.checkpoint);
  }
  Problem problem;
  all_or_none(world, [&] { problem = inspect_problem(cfg, world); });
  const long long T = static_cast<long long>(problem.length);
  return with_precision_and_decomposition(
      world, cfg.use_double, T, [&](auto scalar, const auto& decomp, long long local) {
        return run_typed<decltype(scalar)>(cfg, problem, world, decomp, local);
      });
}

}  // namespace ungulate::app
