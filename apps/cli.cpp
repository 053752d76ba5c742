#include "cli.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace ungulate::cli {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       const std::string& default_value) {
  order_.push_back(name);
  specs_[name] = {metavar, help, default_value, false};
}

void ArgParser::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {"", help, "", true};
}

bool ArgParser::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (arg.rfind("--", 0) != 0)
      throw UsageError("unexpected argument '" + arg + "' (see '" + command_ + " --help')");
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const auto spec = specs_.find(name);
    if (spec == specs_.end())
      throw UsageError("unknown option '--" + name + "' (see '" + command_ + " --help')");
    if (spec->second.is_flag) {
      if (inline_value) throw UsageError("option '--" + name + "' takes no value");
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) throw UsageError("option '--" + name + "' needs a value");
      value = argv[++i];
    }
    values_[name] = value;
  }
  return true;
}

bool ArgParser::has(const std::string& name) const {
  return values_.count(name) > 0;
}

std::string ArgParser::get(const std::string& name) const {
  const auto v = values_.find(name);
  return v != values_.end() ? v->second : specs_.at(name).default_value;
}

long long ArgParser::get_int(const std::string& name, long long min, long long max) const {
  const std::string text = get(name);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("--" + name + " expects an integer, got '" + text + "'");
  if (v < min || v > max)
    throw UsageError("--" + name + " must be in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "], got " + text);
  return v;
}

double ArgParser::get_double(const std::string& name) const {
  const std::string text = get(name);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || (errno != ERANGE && !std::isfinite(v)))
    throw UsageError("--" + name + " expects a finite number, got '" + text + "'");
  // strtod reports ERANGE for results beyond the double range and for subnormal results
  // (glibc); ungulate accepts neither.
  if (errno == ERANGE && std::fabs(v) > 1)
    throw UsageError("--" + name + " is out of range, got '" + text +
                     "' (magnitude must be below 1.8e308)");
  if (errno == ERANGE)
    throw UsageError("--" + name + " must be 0 or a normal number (magnitude at least " +
                     "2.2250738585072014e-308), got '" + text + "'");
  return v;
}

bool ArgParser::get_flag(const std::string& name) const {
  return has(name);
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "usage: " << command_ << " [options]\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " " + s.metavar);
    if (left.size() < 26)
      left.resize(26, ' ');
    else
      left += "\n" + std::string(26, ' ');
    out << left << s.help;
    if (!s.default_value.empty()) out << " (default: " << s.default_value << ")";
    out << "\n";
  }
  out << "  --help                  show this help\n";
  return out.str();
}

std::string memory_shortfall(double bytes, const std::string& purpose) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return "";
  const double memory = double(pages) * double(page);
  if (!(bytes > memory)) return "";
  const auto gib = [](double b) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", b / double(1 << 30));
    return std::string(text);
  };
  return gib(bytes) + " GiB per rank" + purpose + ", more than this machine's " + gib(memory) +
         " GiB";
}

}  // namespace ungulate::cli
