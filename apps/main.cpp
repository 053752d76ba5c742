// The ungulate program: `ungulate <command> [options]`.
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "cli.hpp"
#include "commands.hpp"
#include "ungulate/core/version.hpp"
#ifdef UNGULATE_HAVE_MPI
#include <mpi.h>
#endif

namespace {

// MPI (when built with it) around Kokkos, for the lifetime of the program.
struct MpiSession {
  int rank = 0, size = 1;
  MpiSession(int& argc, char**& argv) {
#ifdef UNGULATE_HAVE_MPI
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
#else
    (void)argc;
    (void)argv;
#endif
  }
  ~MpiSession() {
#ifdef UNGULATE_HAVE_MPI
    MPI_Finalize();
#endif
  }
  // A failure seen by one rank only: stop the others instead of leaving them in a collective.
  [[noreturn]] void abort(int code) const {
#ifdef UNGULATE_HAVE_MPI
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    std::exit(code);
  }
};

const char* const kUsage =
    "usage: ungulate <command> [options]\n"
    "\n"
    "Parallel-in-time evaluation of nonlinear recurrences (DEER, quasi-DEER, ELK, quasi-ELK).\n"
    "\n"
    "commands:\n"
    "  demo      random GRU workload, every method against sequential evaluation\n"
    "\n"
    "'ungulate <command> --help' describes a command's options; --version prints the version.\n"
    "Kokkos options (--kokkos-...) are passed to Kokkos.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("ungulate %s\n", ungulate::version());
    return 0;
  }
  const std::string command = argv[1];
  if (command != "demo") {
    std::fprintf(stderr, "ungulate: unknown command '%s' (see 'ungulate --help')\n",
                 command.c_str());
    return 2;
  }
  MpiSession mpi(argc, argv);
  int code = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    try {
      code = ungulate::app::demo_command(argc, argv, 2);
    } catch (const ungulate::cli::UsageError& e) {
      // Every rank parsed the same arguments and failed alike: rank 0 reports.
      if (mpi.rank == 0) std::fprintf(stderr, "ungulate %s: %s\n", command.c_str(), e.what());
      code = 2;
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "ungulate %s: %s\n", command.c_str(), e.what());
      code = 2;
      if (mpi.size > 1) mpi.abort(code);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ungulate %s: error: %s\n", command.c_str(), e.what());
      code = 1;
      if (mpi.size > 1) mpi.abort(code);
    }
  }
  return code;
}
