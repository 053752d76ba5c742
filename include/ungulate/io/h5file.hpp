#pragma once
// A thin RAII layer over parallel HDF5 (MPI-IO driver, collective transfers) for ungulate's
// files.  Every failure becomes an io::Error whose message names the file, the object and
// what was expected, so the program can print one line and exit with code 2.
#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ungulate::io {

/// Bad or unreadable input (or an output that cannot be written).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Element types ungulate reads and writes.
enum class DType { Float32, Float64, Int32, Int64, Other };
const char* to_string(DType t);

struct DatasetInfo {
  std::vector<std::uint64_t> shape;
  DType dtype = DType::Other;
  std::string dtype_name;  ///< e.g. "float32", "int16", "string"
};

/// A link in a group: hard links lead to objects; soft and external links are only named.
struct Link {
  enum class Kind { Hard, Soft, External, Other };
  std::string name;
  Kind kind = Kind::Hard;
  std::string target;  ///< soft: the path; external: "file:path"
};

class H5File {
 public:
  /// Opens an existing file read-only (collective over comm). Throws io::Error if the file
  /// is missing, unreadable, not a regular file (never blocks on a FIFO) or not HDF5.
  static H5File open(const std::string& path, MPI_Comm comm, bool writable = false);
  /// Creates (truncates) a file (collective over comm).
  static H5File create(const std::string& path, MPI_Comm comm);

  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();
  void close();

  const std::string& path() const { return path_; }

  bool exists(const std::string& object) const;  ///< link exists (e.g. "/model/input_kernel")
  void create_group(const std::string& group);
  DatasetInfo describe(const std::string& dataset) const;
  /// describe() for a dataset that must hold float32 or float64 values and, when
  /// `expected_shape` is not empty, have exactly that shape; throws io::Error otherwise.
  DatasetInfo describe_float(const std::string& dataset,
                             const std::vector<std::uint64_t>& expected_shape = {}) const;
  /// Names of the objects directly below `group`.
  std::vector<std::string> list(const std::string& group) const;
  bool is_group(const std::string& object) const;
  /// The links directly below `group`, with their kinds; does not follow any of them.
  std::vector<Link> links(const std::string& group) const;
  /// Equal for two paths that lead to the same object (hard links, cycles).
  std::string object_identity(const std::string& object) const;

  void create_dataset(const std::string& name, const std::vector<std::uint64_t>& shape,
                      DType dtype);
  /// Collective hyperslab transfer (start/count per dimension, row-major buffer). A rank with
  /// nothing to transfer passes an empty count (all zeros) but must still call.
  template <class T>
  void read(const std::string& name, const std::vector<std::uint64_t>& start,
            const std::vector<std::uint64_t>& count, T* buffer) const;
  template <class T>
  void write(const std::string& name, const std::vector<std::uint64_t>& start,
             const std::vector<std::uint64_t>& count, const T* buffer);

  // Attributes on an object ("/" for the file); collective when writing.  The readers take
  // one value (a scalar or a one-element array) and any string flavour.
  void set_attribute(const std::string& object, const std::string& name, const std::string& v);
  void set_attribute(const std::string& object, const std::string& name, double v);
  void set_attribute(const std::string& object, const std::string& name, long long v);
  bool has_attribute(const std::string& object, const std::string& name) const;
  std::string get_string_attribute(const std::string& object, const std::string& name) const;
  double get_double_attribute(const std::string& object, const std::string& name) const;
  long long get_int_attribute(const std::string& object, const std::string& name) const;
  /// name -> printable value of every attribute of an object.
  std::vector<std::pair<std::string, std::string>> attributes(const std::string& object) const;

 private:
  H5File(std::int64_t id, std::string path) : id_(id), path_(std::move(path)) {}
  std::int64_t id_ = -1;  // hid_t
  std::string path_;
};

/// "(3, 16, 8)"
std::string shape_string(const std::vector<std::uint64_t>& shape);

}  // namespace ungulate::io
