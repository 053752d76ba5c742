#pragma once
// A small command-line parser for the ungulate program: --name value / --name=value / flags,
// with generated --help text and one-line errors (exit code 2).
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ungulate::cli {

/// Thrown for bad command-line input; main() prints it and exits with code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  /// Declares --name taking a value (shown as `metavar` in the help).
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              const std::string& default_value = "");
  /// Declares a boolean --name.
  void flag(const std::string& name, const std::string& help);

  /// Parses argv[first..]; returns false if --help was given (help already printed).
  bool parse(int argc, char** argv, int first);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;
  long long get_int(const std::string& name, long long min, long long max) const;
  double get_double(const std::string& name) const;
  bool get_flag(const std::string& name) const;
  std::string help() const;

 private:
  struct Spec {
    std::string metavar, help, default_value;
    bool is_flag;
  };
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
};

/// The check every command makes of declared sizes before it allocates: empty when `bytes`
/// (per rank) fit in this machine's physical memory, or when that is unknown; else
/// "<bytes> GiB per rank<purpose>, more than this machine's <memory> GiB", the tail of the
/// command's error message.
std::string memory_shortfall(double bytes, const std::string& purpose = "");

}  // namespace ungulate::cli
