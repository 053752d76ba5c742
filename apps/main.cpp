// The ungulate program: `ungulate <command> [options]`.
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "cli.hpp"
#include "commands.hpp"
#include "ungulate/core/version.hpp"

namespace {

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
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    return ungulate::app::demo_command(argc, argv, 2);
  } catch (const ungulate::cli::UsageError& e) {
    std::fprintf(stderr, "ungulate %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "ungulate %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ungulate %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
