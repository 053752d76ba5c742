// `ungulate demo`: the benchmark workload on built-in defaults, every method against
// sequential evaluation.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "solver_cli.hpp"
#include "ungulate/ungulate.hpp"
#ifdef UNGULATE_HAVE_MPI
#include "ungulate/dist/mpi_decomposition.hpp"
#endif

namespace ungulate::app {
namespace {

struct DemoConfig {
  std::vector<Method> methods;
  int hidden = 16, input_size = 16, length = 2000, batch = 16;
  long long seed = 0;
  SolverOptions opt;  // tolerance, cap, lambda, ELK estimate, init, chunks
  bool use_double = false, json = false, quiet = false, reference = true;
};

struct MethodRow {
  Method method;
  SolveResult result;
  double error;
};

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

template <class Scalar>
double max_abs_difference(const Kokkos::View<Scalar***, Kokkos::LayoutRight>& a,
                          const Kokkos::View<Scalar***, Kokkos::LayoutRight>& b) {
  const Scalar* pa = a.data();
  const Scalar* pb = b.data();
  double result = 0;
  Kokkos::parallel_reduce(
      "ungulate::demo::max_abs_difference", a.size(),
      KOKKOS_LAMBDA(const std::size_t i, double& m) {
        const double d = math::abs_or_inf(double(pa[i]) - double(pb[i]));
        if (d > m) m = d;
      },
      Kokkos::Max<double>(result));
  return result < 0 ? 0 : result;
}

// Runs the configured methods on this process's time slice [first_step, first_step + T).
template <class Scalar, class Decomposition>
std::vector<MethodRow> run_methods(const DemoConfig& cfg, const Decomposition& decomp,
                                   int local_length, int& chunks_used, bool report) {
  const auto gru = make_benchmark_gru<Scalar>(cfg.hidden, cfg.input_size, cfg.seed);
  const auto inputs = make_benchmark_inputs<Scalar>(cfg.batch, local_length, cfg.input_size,
                                                    cfg.seed + 1, decomp.first_step());
  const Kokkos::View<Scalar**, Kokkos::LayoutRight> s0("ungulate::demo::s0", cfg.batch, cfg.hidden);
  using States = Kokkos::View<Scalar***, Kokkos::LayoutRight>;
  const States reference("ungulate::demo::sequential", cfg.batch, cfg.reference ? local_length : 0,
                         cfg.hidden);
  SolverOptions opt;
  opt.method = Method::Sequential;
  std::vector<MethodRow> rows;
  const double no_error = std::nan("");
  const auto global = [&](SolveResult r) {
    r.seconds = decomp.max_all(r.seconds);  // the slowest rank's time
    return r;
  };
  if (cfg.reference)
    rows.push_back(
        {Method::Sequential, global(solve(gru, inputs, s0, reference, opt, decomp)), 0.0});

  opt = cfg.opt;
  chunks_used = cfg.opt.num_chunks > 0
                    ? cfg.opt.num_chunks
                    : scan::default_chunks<DefaultExecutionSpace>(cfg.batch, local_length);
  const States states("ungulate::demo::states", cfg.batch, local_length, cfg.hidden);
  for (Method m : cfg.methods) {
    if (m == Method::Sequential) continue;
    opt.method = m;
    double last_print = 0;
    opt.on_iteration = [&](const IterationRecord& r) {
      if (!report || cfg.quiet || r.seconds - last_print < 1.0) return;
      last_print = r.seconds;
      std::fprintf(stderr, "  [%s] iteration %d: update %.3g, residual %.3g, %.1f s\n",
                   to_string(m), r.iteration, r.update_norm, r.residual, r.seconds);
    };
    const SolveResult r = global(solve(gru, inputs, s0, states, opt, decomp));
    rows.push_back(
        {m, r, cfg.reference ? decomp.max_all(max_abs_difference(states, reference)) : no_error});
  }
  bool want_seq = false;
  for (Method m : cfg.methods) want_seq |= m == Method::Sequential;
  if (cfg.reference && !want_seq) rows.erase(rows.begin());
  return rows;
}

void print_table(const DemoConfig& cfg, const std::vector<MethodRow>& rows, int chunks, int ranks) {
  std::printf(
      "ungulate %s demo: GRU hidden %d, input %d, T = %d, batch %d, %s, %d rank%s x %d "
      "chunks, backend %s (%d thread%s)\n\n",
      version(), cfg.hidden, cfg.input_size, cfg.length, cfg.batch,
      cfg.use_double ? "float64" : "float32", ranks, ranks == 1 ? "" : "s", chunks,
      DefaultExecutionSpace::name(), DefaultExecutionSpace().concurrency(),
      DefaultExecutionSpace().concurrency() == 1 ? "" : "s");
  std::printf("%-11s %-15s %6s %10s %12s %14s %12s  %s\n", "method", "status", "iters", "seconds",
              "s/iter", "max|err| vs seq", "residual", "fallback");
  for (const auto& row : rows) {
    const auto& r = row.result;
    const double per = r.iterations > 0 ? r.seconds / r.iterations : 0.0;
    char error[32] = "-";
    if (std::isfinite(row.error)) std::snprintf(error, sizeof error, "%.3e", row.error);
    char fallback[48] = "-";
    if (r.fallback != Fallback::None)
      std::snprintf(fallback, sizeof fallback, "%s@%d", to_string(r.fallback),
                    r.fallback_iteration);
    std::printf("%-11s %-15s %6d %10.4f %12.5f %14s %12.3e  %s\n", to_string(row.method),
                to_string(r.status), r.iterations, r.seconds, per, error, r.final_residual,
                fallback);
  }
}

// The largest trust-region lambda a solve used (0: undamped steps only).
double max_lambda(const SolveResult& r) {
  double m = 0;
  for (const auto& h : r.history) m = std::max(m, h.lambda);
  return m;
}

void print_json(const DemoConfig& cfg, const std::vector<MethodRow>& rows, int chunks, int ranks) {
  std::printf(
      "{\"config\": {\"hidden\": %d, \"input_size\": %d, \"length\": %d, \"batch\": %d, "
      "\"seed\": %lld, \"precision\": \"%s\", \"tolerance\": %s, \"max_iterations\": %d, "
      "\"lambda\": %s, \"trust_region\": \"%s\", \"elk_estimate\": \"%s\", \"init\": \"%s\", "
      "\"chunks\": %d, "
      "\"backend\": \"%s\", \"threads\": %d, \"version\": \"%s\"}, \"ranks\": %d, "
      "\"results\": [",
      cfg.hidden, cfg.input_size, cfg.length, cfg.batch, cfg.seed,
      cfg.use_double ? "float64" : "float32",
      json_number(cfg.opt.tolerance > 0 ? cfg.opt.tolerance
                  : cfg.use_double      ? default_tolerance<double>()
                                        : default_tolerance<float>())
          .c_str(),
      cfg.opt.max_iterations, json_number(cfg.opt.lambda).c_str(), to_string(cfg.opt.trust_region),
      cfg.opt.elk_estimate == KalmanEstimate::Smoother ? "smoother" : "filter",
      to_string(cfg.opt.init), chunks, DefaultExecutionSpace::name(),
      DefaultExecutionSpace().concurrency(), version(), ranks);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i].result;
    const double per = r.iterations > 0 ? r.seconds / r.iterations : 0.0;
    std::printf(
        "%s{\"method\": \"%s\", \"status\": \"%s\", \"iterations\": %d, \"seconds\": %s, "
        "\"seconds_per_iteration\": %s, \"max_abs_error_vs_sequential\": %s, "
        "\"final_residual\": %s, \"warm_window\": %d, \"fallback\": \"%s\", "
        "\"fallback_iteration\": %d, \"lle\": %s, \"method_run\": \"%s\", "
        "\"max_lambda\": %s}",
        i ? ", " : "", to_string(rows[i].method), to_string(r.status), r.iterations,
        json_number(r.seconds).c_str(), json_number(per).c_str(),
        json_number(rows[i].error).c_str(), json_number(r.final_residual).c_str(), r.warm_window,
        to_string(r.fallback), r.fallback_iteration, json_number(r.lle).c_str(),
        to_string(r.method), json_number(max_lambda(r)).c_str());
  }
  std::printf("]}\n");
}

DemoConfig parse_demo(cli::ArgParser& args) {
  DemoConfig cfg;
  const std::string method = args.get("method");
  if (method == "all") {
    cfg.methods = {Method::Sequential, Method::QuasiDeer, Method::Deer, Method::QuasiElk,
                   Method::Elk};
  } else {
    Method m;
    if (!parse_method(method, m))
      throw cli::UsageError("--method must be seq, deer, quasi-deer, elk, quasi-elk or all, got '" +
                            method + "'");
    cfg.methods = {m};
  }
  cfg.hidden = int(args.get_int("hidden", 1, 4096));
  cfg.input_size = args.has("input-size") ? int(args.get_int("input-size", 1, 65536)) : cfg.hidden;
  cfg.length = int(args.get_int("length", 1, 2000000000));
  cfg.batch = int(args.get_int("batch", 1, 1 << 20));
  cfg.seed = args.get_int("seed", 0, (1LL << 62));
  read_solver_options(args, cfg.opt);
  const std::string init = args.get("init");
  if (init == "zeros")
    cfg.opt.init = Initialization::Zeros;
  else if (init == "warm")
    cfg.opt.init = Initialization::Warm;
  else
    throw cli::UsageError("--init must be zeros or warm, got '" + init + "'");
  cfg.use_double = args.get_flag("double");
  cfg.json = args.get_flag("json");
  cfg.quiet = args.get_flag("quiet") || cfg.json;
  cfg.reference = !args.get_flag("skip-reference");
  if (!cfg.reference)
    for (Method m : cfg.methods)
      if (m == Method::Sequential)
        throw cli::UsageError("--skip-reference cannot be combined with --method seq or all");
  const double bytes = double(cfg.batch) * cfg.length * (3.0 * cfg.hidden + cfg.input_size) *
                       (cfg.use_double ? 8 : 4);
  if (bytes > 64e9)
    throw cli::UsageError("--batch x --length x sizes needs about " +
                          std::to_string(int(bytes / 1e9)) + " GB of state memory; too large");
  return cfg;
}

}  // namespace

int demo_command(int argc, char** argv, int first) {
  cli::ArgParser args(
      "ungulate demo",
      "Builds a random GRU (input kernels N(0, 1/input_size), orthogonal recurrent\n"
      "kernels, zero biases) and random inputs N(0, 1) from a zero initial state,\n"
      "evaluates them with the chosen methods and compares every result with\n"
      "sequential evaluation.");
  args.option("method", "NAME", "seq | deer | quasi-deer | elk | quasi-elk | all", "all");
  args.option("hidden", "N", "hidden (state) size", "16");
  args.option("input-size", "N", "input size (default: the hidden size)");
  args.option("length", "T", "sequence length", "2000");
  args.option("batch", "B", "independent sequences", "16");
  args.option("seed", "S", "random seed", "0");
  declare_solver_options(args);
  args.option("init", "I", "zeros | warm (chunk-parallel sequential warm start)", "zeros");
  args.flag("double", "use float64 instead of float32");
  args.flag("json", "print one JSON object instead of a table");
  args.flag("skip-reference",
            "do not evaluate sequentially for the error column (timing runs at scale)");
  args.flag("quiet", "no progress on stderr");
  if (!args.parse(argc, argv, first)) return 0;
  const DemoConfig cfg = parse_demo(args);
  int chunks = 0, ranks = 1, rank = 0;
  std::vector<MethodRow> rows;
#ifdef UNGULATE_HAVE_MPI
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (ranks > 1) {
    const dist::MpiTimeDecomposition decomp(MPI_COMM_WORLD, cfg.length);
    const int local = int(decomp.local_length());
    rows = cfg.use_double ? run_methods<double>(cfg, decomp, local, chunks, rank == 0)
                          : run_methods<float>(cfg, decomp, local, chunks, rank == 0);
  }
#endif
  if (ranks == 1) {
    const dist::SingleRank decomp;
    rows = cfg.use_double ? run_methods<double>(cfg, decomp, cfg.length, chunks, true)
                          : run_methods<float>(cfg, decomp, cfg.length, chunks, true);
  }
  if (rank != 0) return 0;
  if (cfg.json)
    print_json(cfg, rows, chunks, ranks);
  else
    print_table(cfg, rows, chunks, ranks);
  return 0;
}

}  // namespace ungulate::app
