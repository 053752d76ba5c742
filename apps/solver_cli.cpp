#include "solver_cli.hpp"

#include <string>

namespace ungulate::app {

void declare_solver_options(cli::ArgParser& args) {
  args.option("tol", "X", "tolerance on max|update| (default 1e-4 float, 1e-7 double)");
  args.option("max-iter", "N", "iteration cap (default: min(T+1, 1000) DEER, 1000 ELK)");
  args.option("lambda", "L",
              "ELK trust-region strength (0 = DEER); alone it fixes lambda (--trust-region fixed), "
              "with --trust-region adaptive it is the first step's",
              "0.01");
  args.option("trust-region", "R",
              "adaptive (Levenberg-Marquardt: keep a step only if it lowers the sum of squared "
              "residuals; lambda per sequence) | fixed (--lambda throughout, every step kept) "
              "(default: adaptive; fixed when --lambda is given)");
  args.option("elk-estimate", "E",
              "filter (causal: keeps the exact prefix; fewer iterations measured) | smoother "
              "(the exact trust-region step)",
              "filter");
  args.option("chunks", "N", "chunks per sequence and rank (default: from the backend)");
  args.option("warm-window", "W",
              "--init warm: steps each chunk runs before its start, or auto (from the "
              "observed contraction)",
              "auto");
  args.flag("no-fallback",
            "raw methods: no damped steps after NaN/Inf or a growing residual, no sequential "
            "finish when the parallel iteration cannot pay");
  args.option("linearisation-cache", "C",
              "auto (host backends, diagonal Jacobians) | always | never: store each step's "
              "linearisation instead of re-evaluating the cell",
              "auto");
}

void read_solver_options(const cli::ArgParser& args, SolverOptions& opt) {
  if (args.has("tol")) {
    opt.tolerance = args.get_double("tol");
    if (!(opt.tolerance > 0)) throw cli::UsageError("--tol must be > 0");
  }
  if (args.has("max-iter")) opt.max_iterations = int(args.get_int("max-iter", 1, 1 << 30));
  opt.lambda = args.get_double("lambda");
  if (!(opt.lambda >= 0)) throw cli::UsageError("--lambda must be >= 0");
  const std::string region = args.has("trust-region") ? args.get("trust-region")
                             : args.has("lambda")     ? "fixed"
                                                      : "adaptive";
  if (region == "adaptive")
    opt.trust_region = TrustRegion::Adaptive;
  else if (region == "fixed")
    opt.trust_region = TrustRegion::Fixed;
  else
    throw cli::UsageError("--trust-region must be adaptive or fixed, got '" + region + "'");
  const std::string est = args.get("elk-estimate");
  if (est == "smoother")
    opt.elk_estimate = KalmanEstimate::Smoother;
  else if (est == "filter")
    opt.elk_estimate = KalmanEstimate::Filter;
  else
    throw cli::UsageError("--elk-estimate must be smoother or filter, got '" + est + "'");
  opt.fallback = !args.get_flag("no-fallback");
  if (args.has("chunks")) opt.num_chunks = int(args.get_int("chunks", 1, 1 << 30));
  if (args.get("warm-window") != "auto")
    opt.warm_window = int(args.get_int("warm-window", 0, 1 << 30));
  const std::string cache = args.get("linearisation-cache");
  if (cache == "auto")
    opt.linearisation_cache = LinearisationCache::Auto;
  else if (cache == "always")
    opt.linearisation_cache = LinearisationCache::Always;
  else if (cache == "never")
    opt.linearisation_cache = LinearisationCache::Never;
  else
    throw cli::UsageError("--linearisation-cache must be auto, always or never, got '" + cache +
                          "'");
}

}  // namespace ungulate::app
