// `ungulate inspect` (summary of any HDF5 file) and `ungulate compare` (max abs difference of
// two datasets).  Both read on rank 0 only.

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "mpi_context.hpp"

namespace ungulate::app {
namespace {

void print_attributes(const io::H5File& f, const std::string& object, int indent) {
  for (const auto& [name, value] : f.attributes(object))
    std::printf("%*s@%s = %s\n", indent, "", name.c_str(), value.c_str());
}

// Depth beyond which a file is taken to be corrupt rather than deeply organised.
constexpr int kMaxGroupDepth = 64;

// Hard links may form cycles (a group linked into itself): each group is listed once.
void print_tree(const io::H5File& f, const std::string& group, int depth,
                std::set<std::string>& listed_groups) {
  const int indent = 2 * depth + 2;
  if (depth >= kMaxGroupDepth)
    throw io::Error(f.path() + ": groups nested deeper than " + std::to_string(kMaxGroupDepth) +
                    " levels at '" + group + "' (corrupt file?)");
  for (const io::Link& link : f.links(group)) {
    const std::string path = (group == "/" ? "" : group) + "/" + link.name;
    if (link.kind == io::Link::Kind::Soft) {
      std::printf("%*s%s -> %s  (soft link%s)\n", indent, "", link.name.c_str(),
                  link.target.c_str(), f.exists(path) ? "" : ", dangling");
    } else if (link.kind == io::Link::Kind::External) {
      std::printf("%*s%s -> %s  (external link, not followed)\n", indent, "", link.name.c_str(),
                  link.target.c_str());
    } else if (link.kind == io::Link::Kind::Other) {
      std::printf("%*s%s  (user-defined link, not followed)\n", indent, "", link.name.c_str());
    } else if (f.is_group(path)) {
      if (!listed_groups.insert(f.object_identity(path)).second) {
        std::printf("%*s%s/  (group, listed above: another hard link to it)\n", indent, "",
                    link.name.c_str());
        continue;
      }
      std::printf("%*s%s/  (group)\n", indent, "", link.name.c_str());
      print_attributes(f, path, indent + 4);
      print_tree(f, path, depth + 1, listed_groups);
    } else {
      const io::DatasetInfo info = f.describe(path);
      std::printf("%*s%s  %s %s\n", indent, "", link.name.c_str(), info.dtype_name.c_str(),
                  io::shape_string(info.shape).c_str());
      print_attributes(f, path, indent + 4);
    }
  }
}

std::string kind_of(const io::H5File& f) {
  std::vector<std::string> parts;
  if (f.is_group("/model")) {
    std::string cell = f.has_attribute("/model", "cell") ? f.get_string_attribute("/model", "cell")
                                                         : "unknown cell";
    // The sizes as the writer recorded them (informational; `run` checks the datasets).
    for (const char* size : {"hidden_size", "N", "state_size"}) {
      if (!f.has_attribute("/model", size)) continue;
      try {
        const long long v = f.get_int_attribute("/model", size);
        cell += std::string(", ") + (std::string(size) == "state_size" ? "state size" : size) +
                " " + std::to_string(v);
      } catch (const io::Error&) {
        // Not an integer: the attribute listing below shows it as it is.
      }
    }
    parts.push_back("model (" + cell + ")");
  }
  if (f.exists("/inputs"))
    parts.push_back("inputs " + io::shape_string(f.describe("/inputs").shape));
  if (f.exists("/states")) {
    std::string what =
        f.has_attribute("/", "kind") ? f.get_string_attribute("/", "kind") : "states";
    if (f.has_attribute("/", "status")) what += ", " + f.get_string_attribute("/", "status");
    if (f.has_attribute("/", "method")) what += ", method " + f.get_string_attribute("/", "method");
    if (f.has_attribute("/", "iterations"))
      what += ", " + std::to_string(f.get_int_attribute("/", "iterations")) + " iterations";
    parts.push_back(what + " " + io::shape_string(f.describe("/states").shape));
  }
  if (f.exists("/cotangent"))
    parts.push_back("cotangent " + io::shape_string(f.describe("/cotangent").shape));
  if (f.exists("/grad/inputs")) {
    std::string what = "gradient";
    if (f.is_group("/grad/model") && f.has_attribute("/grad/model", "cell"))
      what += " (" + f.get_string_attribute("/grad/model", "cell") + ")";
    parts.push_back(what + ", inputs " + io::shape_string(f.describe("/grad/inputs").shape));
  }
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out.empty() ? "no ungulate objects" : out;
}

}  // namespace

int inspect_command(int argc, char** argv, int first) {
  cli::ArgParser args("ungulate inspect FILE",
                      "Summarises an HDF5 file: what ungulate finds in it (model: its cell,\n"
                      "gru, lstm or lorenz96, and sizes; inputs; trajectory and its status),\n"
                      "then every group, dataset (dtype, shape) and attribute.");
  std::vector<std::string> files;
  std::vector<char*> rest = {argv[0]};
  for (int i = first; i < argc; ++i) {
    if (argv[i][0] == '-' && argv[i][1] == '-')
      rest.push_back(argv[i]);
    else
      files.emplace_back(argv[i]);
  }
  if (!args.parse(int(rest.size()), rest.data(), 1)) return 0;
  if (files.size() != 1) throw cli::UsageError("expected exactly one FILE");
  const World world;
  if (world.rank != 0) return 0;
  const io::H5File f = io::H5File::open(files[0], MPI_COMM_SELF);
  std::printf("%s: %s\n", files[0].c_str(), kind_of(f).c_str());
  print_attributes(f, "/", 2);
  std::set<std::string> listed_groups = {f.object_identity("/")};
  print_tree(f, "/", 0, listed_groups);
  return 0;
}

int compare_command(int argc, char** argv, int first) {
  cli::ArgParser args("ungulate compare A.h5 B.h5",
                      "Prints the max abs difference of a dataset in two files (default\n"
                      "/states). With --tol, exits 1 when the difference exceeds it.");
  args.option("dataset", "NAME", "dataset to compare", "/states");
  args.option("tol", "X", "exit code 1 if the max abs difference exceeds X");
  std::vector<std::string> files;
  std::vector<char*> rest = {argv[0]};
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      rest.push_back(argv[i]);
      if (a.find('=') == std::string::npos && (a == "--dataset" || a == "--tol") && i + 1 < argc)
        rest.push_back(argv[++i]);
    } else {
      files.push_back(a);
    }
  }
  if (!args.parse(int(rest.size()), rest.data(), 1)) return 0;
  if (files.size() != 2) throw cli::UsageError("expected two files");
  const std::string name = args.get("dataset");
  const double tol = args.has("tol") ? args.get_double("tol") : -1;
  if (args.has("tol") && !(tol >= 0)) throw cli::UsageError("--tol must be >= 0");
  const World world;
  if (world.rank != 0) return 0;
  const io::H5File a = io::H5File::open(files[0], MPI_COMM_SELF);
  const io::H5File b = io::H5File::open(files[1], MPI_COMM_SELF);
  const io::DatasetInfo ia = a.describe(name), ib = b.describe(name);
  if (ia.shape != ib.shape)
    throw io::Error("'" + name + "' has shape " + io::shape_string(ia.shape) + " in " + files[0] +
                    " but " + io::shape_string(ib.shape) + " in " + files[1]);
  // Both datasets are read whole: bound them before allocating.
  double values = 1;
  for (auto d : ia.shape) values *= double(d);
  if (!cli::memory_shortfall(2 * 8 * values).empty())
    throw io::Error("'" + name + "' of shape " + io::shape_string(ia.shape) +
                    " is too large to compare in this machine's memory");
  std::size_t n = 1;
  for (auto d : ia.shape) n *= d;
  std::vector<double> va(n), vb(n);
  const std::vector<std::uint64_t> zero(ia.shape.size(), 0);
  a.read(name, zero, ia.shape, va.data());
  b.read(name, zero, ib.shape, vb.data());
  double diff = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::fabs(va[i] - vb[i]);
    diff = std::isfinite(d) ? std::fmax(diff, d) : INFINITY;
  }
  std::printf("max abs difference of %s: %.6e over %zu values\n", name.c_str(), diff, n);
  return tol >= 0 && !(diff <= tol) ? 1 : 0;
}

}  // namespace ungulate::app
