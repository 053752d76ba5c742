// The ungulate program: `ungulate <command> [options]`.
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "ungulate/core/version.hpp"
#ifdef UNGULATE_HAVE_HDF5
#include "ungulate/io/h5file.hpp"
#endif
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
#ifdef UNGULATE_HAVE_HDF5
    "  generate  write a random GRU, LSTM or Lorenz-96 model and inputs to an HDF5 file\n"
    "  run       evaluate a model from HDF5 on HDF5 inputs, write the trajectory\n"
    "  grad      gradients of a loss through the recurrence (reverse adjoint scan)\n"
    "  inspect   summarise an HDF5 model / input / output file\n"
    "  compare   max abs difference of a dataset in two HDF5 files\n"
#endif
    "\n"
    "'ungulate <command> --help' describes a command's options; --version prints the version.\n"
    "Kokkos options (--kokkos-...) are passed to Kokkos; --kokkos-help lists them.\n";

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
  using Command = int (*)(int, char**, int);
  Command run = nullptr;
  if (command == "demo") run = ungulate::app::demo_command;
#ifdef UNGULATE_HAVE_HDF5
  if (command == "generate") run = ungulate::app::generate_command;
  if (command == "run") run = ungulate::app::run_command;
  if (command == "grad") run = ungulate::app::grad_command;
  if (command == "inspect") run = ungulate::app::inspect_command;
  if (command == "compare") run = ungulate::app::compare_command;
#endif
  if (!run) {
    std::fprintf(stderr, "ungulate: unknown command '%s' (see 'ungulate --help')\n",
                 command.c_str());
    return 2;
  }
  MpiSession mpi(argc, argv);
  // Kokkos answers --help with ~40 lines of its own options: it sees only --kokkos-help, and
  // the command's --help is put back after Kokkos has taken its options out of argv.
  std::vector<char*> args;
  bool command_help = false, kokkos_help = false;
  for (int i = 0; i < argc; ++i) {
    const bool help = i >= 2 && (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h"));
    command_help |= help;
    kokkos_help |= i >= 2 && !std::strcmp(argv[i], "--kokkos-help");
    if (!help) args.push_back(argv[i]);
  }
  int args_count = int(args.size());
  args.push_back(nullptr);
  char help_flag[] = "--help";
  int code = 0;
  {
    std::optional<Kokkos::ScopeGuard> kokkos;
    try {
      try {
        kokkos.emplace(args_count, args.data());
        if (kokkos_help) return 0;  // Kokkos printed its options
        args.resize(std::size_t(args_count));
        if (command_help) args.push_back(help_flag);
        args_count = int(args.size());
        args.push_back(nullptr);
      } catch (const std::exception& e) {  // e.g. --kokkos-threads=abc (std::stoi)
        std::string options;
        for (int i = 1; i < argc; ++i)
          if (!std::strncmp(argv[i], "--kokkos-", 9)) options += std::string(" ") + argv[i];
        throw ungulate::cli::UsageError("invalid Kokkos option:" + options + " (" + e.what() + ")");
      }
      code = run(args_count, args.data(), 2);
    } catch (const ungulate::cli::UsageError& e) {
      // Every rank parsed the same arguments and failed alike: rank 0 reports.
      if (mpi.rank == 0) std::fprintf(stderr, "ungulate %s: %s\n", command.c_str(), e.what());
      code = 2;
    }
#ifdef UNGULATE_HAVE_HDF5
    catch (const ungulate::io::Error& e) {
      // File problems are detected collectively (all_or_none): every rank has the message.
      if (mpi.rank == 0) std::fprintf(stderr, "ungulate %s: %s\n", command.c_str(), e.what());
      code = 2;
    }
#endif
    catch (const std::bad_alloc&) {
      // Sizes are checked against memory before the large allocations: this is what is left.
      std::fprintf(stderr, "ungulate %s: out of memory%s\n", command.c_str(),
                   mpi.size > 1 ? (" on rank " + std::to_string(mpi.rank)).c_str() : "");
      code = 2;
      if (mpi.size > 1) mpi.abort(code);
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
