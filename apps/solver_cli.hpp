#pragma once
// Command-line options shared by the commands that solve (demo, run).
#include "cli.hpp"
#include "ungulate/solvers/options.hpp"

namespace ungulate::app {

/// Declares --tol, --max-iter, --lambda, --elk-estimate and --chunks.
void declare_solver_options(cli::ArgParser& args);
/// Reads them into `opt` (method and initialisation are each command's own).
void read_solver_options(const cli::ArgParser& args, SolverOptions& opt);

}  // namespace ungulate::app
