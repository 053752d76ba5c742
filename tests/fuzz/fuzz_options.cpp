// libFuzzer harness for the command-line parsing of the ungulate program: the input is split
// at NUL bytes into argv, parsed with the options of `ungulate run`, `demo` and `generate`,
// and every value is read back the way the commands read it.  cli::UsageError is the
// expected answer to bad input; any other exception, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli.hpp"
#include "solver_cli.hpp"

namespace {

// Enough for every option of a command twice over; more only slows the fuzzer down.
constexpr std::size_t kMaxArgs = 64;

std::vector<std::string> split_arguments(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args = {"ungulate", "run"};
  std::string current;
  for (std::size_t i = 0; i < size && args.size() < kMaxArgs; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(char(data[i]));
    }
  }
  if (!current.empty() && args.size() < kMaxArgs) args.push_back(current);
  return args;
}

void declare(ungulate::cli::ArgParser& args) {
  // `ungulate run`
  args.option("model", "FILE", "model");
  args.option("input", "FILE", "inputs");
  args.option("output", "FILE", "output");
  args.option("method", "NAME", "method", "quasi-deer");
  ungulate::app::declare_solver_options(args);
  args.option("init", "I", "init", "zeros");
  args.option("init-file", "FILE", "initial iterate");
  args.option("checkpoint", "FILE", "checkpoint");
  args.option("checkpoint-every", "N", "checkpoint interval", "10");
  args.option("restart", "FILE", "restart");
  args.flag("double", "float64");
  args.flag("quiet", "quiet");
  args.flag("force", "force");
  // `ungulate demo` and `generate`
  args.option("hidden", "N", "hidden size", "16");
  args.option("input-size", "N", "input size");
  args.option("length", "T", "length", "2000");
  args.option("batch", "B", "batch", "16");
  args.option("seed", "S", "seed", "0");
  args.flag("json", "json");
}

// Reads every option as the commands do; each read may throw UsageError.
void read_all(const ungulate::cli::ArgParser& args) {
  using ungulate::cli::UsageError;
  const auto attempt = [](auto&& read) {
    try {
      read();
    } catch (const UsageError&) {
    }
  };
  attempt([&] {
    ungulate::SolverOptions opt;
    ungulate::app::read_solver_options(args, opt);
  });
  attempt([&] { args.get_int("checkpoint-every", 1, 1 << 30); });
  attempt([&] { args.get_int("hidden", 1, 4096); });
  attempt([&] { args.get_int("input-size", 1, 65536); });
  attempt([&] { args.get_int("length", 1, 2000000000); });
  attempt([&] { args.get_int("batch", 1, 1 << 20); });
  attempt([&] { args.get_int("seed", 0, 1LL << 62); });
  attempt([&] { args.get_double("tol"); });
  for (const char* name : {"model", "input", "output", "method", "init", "init-file", "restart"})
    (void)args.get(name);
  for (const char* name : {"double", "quiet", "force", "json"}) (void)args.get_flag(name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> strings = split_arguments(data, size);
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  ungulate::cli::ArgParser args("ungulate run", "fuzzed");
  declare(args);
  try {
    if (!args.parse(int(strings.size()), argv.data(), 2)) return 0;  // --help
  } catch (const ungulate::cli::UsageError&) {
    return 0;
  }
  read_all(args);
  return 0;
}
