#include "ungulate/io/h5file.hpp"

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>

namespace ungulate::io {
namespace {

// HDF5 prints its own error stacks by default; ungulate reports one line per failure.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// Closes an HDF5 handle of any kind when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle& operator=(Handle&&) = delete;
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  operator hid_t() const { return id_; }  // NOLINT: used where the API wants hid_t
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*closer_)(hid_t);
};

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw Error(file + ": " + what);
}

template <class T>
hid_t native_type();
template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t native_type<int>() {
  return H5T_NATIVE_INT;
}
template <>
hid_t native_type<long long>() {
  return H5T_NATIVE_LLONG;
}

hid_t file_type(DType t) {
  switch (t) {
    case DType::Float32:
      return H5T_IEEE_F32LE;
    case DType::Float64:
      return H5T_IEEE_F64LE;
    case DType::Int32:
      return H5T_STD_I32LE;
    case DType::Int64:
      return H5T_STD_I64LE;
    case DType::Other:
      break;
  }
  throw Error("unsupported dataset type");
}

void classify(hid_t type, DType& dtype, std::string& name) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  dtype = DType::Other;
  if (cls == H5T_FLOAT) {
    name = "float" + std::to_string(8 * size);
    if (size == 4) dtype = DType::Float32;
    if (size == 8) dtype = DType::Float64;
  } else if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    name = std::string(is_signed ? "int" : "uint") + std::to_string(8 * size);
    if (is_signed && size == 4) dtype = DType::Int32;
    if (is_signed && size == 8) dtype = DType::Int64;
  } else if (cls == H5T_STRING) {
    name = "string";
  } else if (cls == H5T_COMPOUND) {
    name = "compound";
  } else {
    name = "other";
  }
}

Handle open_object(hid_t file, const std::string& path, const std::string& object) {
  Handle obj(H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.valid()) fail(path, "missing object '" + object + "'");
  return obj;
}

// Transfer property list for collective MPI-IO.
Handle collective_transfer() {
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  return dxpl;
}

Handle mpio_access(MPI_Comm comm) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  return fapl;
}

}  // namespace

const char* to_string(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Other:
      return "other";
  }
  return "?";
}

H5File H5File::open(const std::string& path, MPI_Comm comm, bool writable) {
  silence_hdf5();
  // stat, not open: opening a FIFO would block until a writer appears.
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    fail(path, std::string("cannot open file: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  if (access(path.c_str(), R_OK) != 0)
    fail(path, std::string("cannot open file: ") + std::strerror(errno));
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) fail(path, "not an HDF5 file");
  Handle fapl = mpio_access(comm);
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  if (id < 0) fail(path, "cannot open as HDF5 (truncated or corrupt file?)");
  return H5File(id, path);
}

H5File H5File::create(const std::string& path, MPI_Comm comm) {
  silence_hdf5();
  Handle fapl = mpio_access(comm);
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (id < 0) fail(path, "cannot create file (directory missing or not writable?)");
  return H5File(id, path);
}

H5File::H5File(H5File&& other) noexcept : id_(other.id_), path_(std::move(other.path_)) {
  other.id_ = -1;
}
H5File& H5File::operator=(H5File&& other) noexcept {
  if (this != &other) {
    close();
    id_ = other.id_;
    path_ = std::move(other.path_);
    other.id_ = -1;
  }
  return *this;
}
H5File::~H5File() {
  close();
}

void H5File::close() {
  if (id_ >= 0) H5Fclose(hid_t(id_));
  id_ = -1;
}

bool H5File::exists(const std::string& object) const {
  if (object == "/") return true;
  // H5Lexists needs every intermediate link to exist: walk the path.
  std::string prefix;
  std::stringstream parts(object);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    if (H5Lexists(hid_t(id_), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return H5Oexists_by_name(hid_t(id_), object.c_str(), H5P_DEFAULT) > 0;
}

bool H5File::is_group(const std::string& object) const {
  if (!exists(object)) return false;
  Handle obj(H5Oopen(hid_t(id_), object.c_str(), H5P_DEFAULT), H5Oclose);
  return obj.valid() && H5Iget_type(obj) == H5I_GROUP;
}

void H5File::create_group(const std::string& group) {
  Handle g(H5Gcreate2(hid_t(id_), group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail(path_, "cannot create group '" + group + "'");
}

std::vector<std::string> H5File::list(const std::string& group) const {
  std::vector<std::string> names;
  Handle g(H5Gopen2(hid_t(id_), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail(path_, "missing group '" + group + "'");
  // A corrupt link table fails part-way: an error, not a silently shortened list.
  if (H5Literate(
          g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
          [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->push_back(name);
            return 0;
          },
          &names) < 0)
    fail(path_, "cannot list group '" + group + "' (corrupt file?)");
  return names;
}

std::vector<Link> H5File::links(const std::string& group) const {
  Handle g(H5Gopen2(hid_t(id_), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail(path_, "missing group '" + group + "'");
  struct Visit {
    std::vector<Link> links;
  } visit;
  const herr_t status = H5Literate(
      g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t parent, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        Link link{name, Link::Kind::Hard, ""};
        if (info->type == H5L_TYPE_SOFT || info->type == H5L_TYPE_EXTERNAL) {
          std::string value(info->u.val_size + 1, '\0');
          if (H5Lget_val(parent, name, value.data(), value.size(), H5P_DEFAULT) >= 0) {
            if (info->type == H5L_TYPE_SOFT) {
              link.kind = Link::Kind::Soft;
              link.target = value.c_str();
            } else {
              link.kind = Link::Kind::External;
              const char *file = nullptr, *object = nullptr;
              unsigned flags = 0;
              if (H5Lunpack_elink_val(value.data(), value.size(), &flags, &file, &object) >= 0)
                link.target = std::string(file ? file : "?") + ":" + (object ? object : "?");
            }
          }
        } else if (info->type != H5L_TYPE_HARD) {
          link.kind = Link::Kind::Other;
        }
        static_cast<Visit*>(data)->links.push_back(link);
        return 0;
      },
      &visit);
  if (status < 0) fail(path_, "cannot list group '" + group + "' (corrupt file?)");
  return visit.links;
}

std::string H5File::object_identity(const std::string& object) const {
  H5O_info_t info;
  if (H5Oget_info_by_name2(hid_t(id_), object.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    fail(path_, "cannot open object '" + object + "'");
  return std::to_string(info.fileno) + ":" + std::to_string(info.addr);
}

DatasetInfo H5File::describe(const std::string& dataset) const {
  if (!exists(dataset)) fail(path_, "missing dataset '" + dataset + "'");
  Handle d(H5Dopen2(hid_t(id_), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail(path_, "'" + dataset + "' is not a dataset");
  Handle space(H5Dget_space(d), H5Sclose);
  Handle type(H5Dget_type(d), H5Tclose);
  DatasetInfo info;
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(path_, "cannot read the shape of '" + dataset + "'");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  info.shape.assign(dims.begin(), dims.end());
  classify(type, info.dtype, info.dtype_name);
  return info;
}

DatasetInfo H5File::describe_float(const std::string& dataset,
                                   const std::vector<std::uint64_t>& expected_shape) const {
  const DatasetInfo info = describe(dataset);
  if (!expected_shape.empty() && info.shape != expected_shape)
    fail(path_, "dataset '" + dataset + "' has shape " + shape_string(info.shape) + ", expected " +
                    shape_string(expected_shape));
  if (info.dtype != DType::Float32 && info.dtype != DType::Float64)
    fail(path_, "dataset '" + dataset + "' has unsupported dtype " + info.dtype_name +
                    " (expected float32 or float64)");
  return info;
}

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

void H5File::create_dataset(const std::string& name, const std::vector<std::uint64_t>& shape,
                            DType dtype) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle d(H5Dcreate2(hid_t(id_), name.c_str(), file_type(dtype), space, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT),
           H5Dclose);
  if (!d.valid()) fail(path_, "cannot create dataset '" + name + "'");
}

namespace {
// File and memory dataspaces for a hyperslab; an empty count selects nothing.
std::pair<hid_t, hid_t> select(hid_t dataset, const std::vector<std::uint64_t>& start,
                               const std::vector<std::uint64_t>& count) {
  const hid_t file_space = H5Dget_space(dataset);
  std::size_t total = 1;
  for (auto c : count) total *= c;
  if (total == 0) {
    H5Sselect_none(file_space);
    const hsize_t one = 1;
    const hid_t mem = H5Screate_simple(1, &one, nullptr);
    H5Sselect_none(mem);
    return {file_space, mem};
  }
  std::vector<hsize_t> s(start.begin(), start.end()), c(count.begin(), count.end());
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, s.data(), nullptr, c.data(), nullptr);
  const hid_t mem = H5Screate_simple(int(c.size()), c.data(), nullptr);
  return {file_space, mem};
}
}  // namespace

template <class T>
void H5File::read(const std::string& name, const std::vector<std::uint64_t>& start,
                  const std::vector<std::uint64_t>& count, T* buffer) const {
  Handle d(H5Dopen2(hid_t(id_), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail(path_, "missing dataset '" + name + "'");
  const auto spaces = select(d, start, count);
  Handle file_space(spaces.first, H5Sclose), mem_space(spaces.second, H5Sclose);
  Handle dxpl = collective_transfer();
  T dummy{};
  if (H5Dread(d, native_type<T>(), mem_space, file_space, dxpl, buffer ? buffer : &dummy) < 0)
    fail(path_, "cannot read dataset '" + name + "' (truncated or corrupt file?)");
}

template <class T>
void H5File::write(const std::string& name, const std::vector<std::uint64_t>& start,
                   const std::vector<std::uint64_t>& count, const T* buffer) {
  Handle d(H5Dopen2(hid_t(id_), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail(path_, "missing dataset '" + name + "'");
  const auto spaces = select(d, start, count);
  Handle file_space(spaces.first, H5Sclose), mem_space(spaces.second, H5Sclose);
  Handle dxpl = collective_transfer();
  const T dummy{};
  if (H5Dwrite(d, native_type<T>(), mem_space, file_space, dxpl, buffer ? buffer : &dummy) < 0)
    fail(path_, "cannot write dataset '" + name + "'");
}

template void H5File::read<float>(const std::string&, const std::vector<std::uint64_t>&,
                                  const std::vector<std::uint64_t>&, float*) const;
template void H5File::read<double>(const std::string&, const std::vector<std::uint64_t>&,
                                   const std::vector<std::uint64_t>&, double*) const;
template void H5File::read<int>(const std::string&, const std::vector<std::uint64_t>&,
                                const std::vector<std::uint64_t>&, int*) const;
template void H5File::read<long long>(const std::string&, const std::vector<std::uint64_t>&,
                                      const std::vector<std::uint64_t>&, long long*) const;
template void H5File::write<float>(const std::string&, const std::vector<std::uint64_t>&,
                                   const std::vector<std::uint64_t>&, const float*);
template void H5File::write<double>(const std::string&, const std::vector<std::uint64_t>&,
                                    const std::vector<std::uint64_t>&, const double*);
template void H5File::write<int>(const std::string&, const std::vector<std::uint64_t>&,
                                 const std::vector<std::uint64_t>&, const int*);
template void H5File::write<long long>(const std::string&, const std::vector<std::uint64_t>&,
                                       const std::vector<std::uint64_t>&, const long long*);

namespace {
void write_attribute(hid_t file, const std::string& path, const std::string& object,
                     const std::string& name, hid_t type, const void* value) {
  Handle obj = open_object(file, path, object);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid() || H5Awrite(attr, type, value) < 0)
    fail(path, "cannot write attribute '" + name + "' on '" + object + "'");
}
}  // namespace

void H5File::set_attribute(const std::string& object, const std::string& name,
                           const std::string& v) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, v.size() + 1);
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  write_attribute(hid_t(id_), path_, object, name, type, v.c_str());
}
void H5File::set_attribute(const std::string& object, const std::string& name, double v) {
  write_attribute(hid_t(id_), path_, object, name, H5T_NATIVE_DOUBLE, &v);
}
void H5File::set_attribute(const std::string& object, const std::string& name, long long v) {
  write_attribute(hid_t(id_), path_, object, name, H5T_NATIVE_LLONG, &v);
}

bool H5File::has_attribute(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  return H5Aexists_by_name(hid_t(id_), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

namespace {
// Readers of one value: an attribute holding an array (or nothing) is bad input, not a
// buffer overrun.
Handle open_attribute(hid_t file, const std::string& path, const std::string& object,
                      const std::string& name) {
  Handle attr(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr.valid()) fail(path, "missing attribute '" + name + "' on '" + object + "'");
  Handle space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n != 1)
    fail(path, "attribute '" + name + "' on '" + object + "' holds " + std::to_string(n) +
                   " values, expected one");
  return attr;
}

// Every string flavour h5py, netCDF and the C API write: fixed or variable length, ASCII or
// UTF-8, null-terminated, null-padded or space-padded.  Reading with a copy of the stored
// type transfers the bytes unconverted (a conversion between character sets fails, and one
// between paddings drops a character of a full-width null-padded string).
std::string read_string(hid_t attr, const std::string& path, const std::string& what) {
  Handle type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING) fail(path, what + " is not a string");
  Handle mem(H5Tcopy(type), H5Tclose);
  if (H5Tis_variable_str(type) > 0) {
    char* value = nullptr;
    if (H5Aread(attr, mem, &value) < 0) fail(path, "cannot read " + what);
    std::string out = value ? value : "";
    H5free_memory(value);
    return out;
  }
  const std::size_t size = H5Tget_size(type);
  if (size == 0 || size > (1u << 20))
    fail(path, what + " is a string of " + std::to_string(size) + " bytes");
  std::string buf(size, '\0');
  if (H5Aread(attr, mem, buf.data()) < 0) fail(path, "cannot read " + what);
  buf.resize(std::strlen(buf.c_str()));  // null-terminated or null-padded
  if (H5Tget_strpad(type) == H5T_STR_SPACEPAD) buf.erase(buf.find_last_not_of(' ') + 1);
  return buf;
}
}  // namespace

std::string H5File::get_string_attribute(const std::string& object, const std::string& name) const {
  Handle attr = open_attribute(hid_t(id_), path_, object, name);
  return read_string(attr, path_, "attribute '" + name + "' on '" + object + "'");
}

double H5File::get_double_attribute(const std::string& object, const std::string& name) const {
  Handle attr = open_attribute(hid_t(id_), path_, object, name);
  Handle type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(type) != H5T_INTEGER && H5Tget_class(type) != H5T_FLOAT)
    fail(path_, "attribute '" + name + "' on '" + object + "' is not a number");
  double v = 0;
  if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) < 0)
    fail(path_, "attribute '" + name + "' on '" + object + "' is not a number");
  return v;
}

long long H5File::get_int_attribute(const std::string& object, const std::string& name) const {
  Handle attr = open_attribute(hid_t(id_), path_, object, name);
  Handle type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(type) != H5T_INTEGER)
    fail(path_, "attribute '" + name + "' on '" + object + "' is not an integer");
  long long v = 0;
  if (H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0)
    fail(path_, "cannot read attribute '" + name + "' on '" + object + "'");
  return v;
}

std::vector<std::pair<std::string, std::string>> H5File::attributes(
    const std::string& object) const {
  Handle obj = open_object(hid_t(id_), path_, object);
  std::vector<std::string> names;
  // A corrupt attribute table fails part-way: an error, not a silently shortened list.
  if (H5Aiterate2(
          obj, H5_INDEX_NAME, H5_ITER_INC, nullptr,
          [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->push_back(name);
            return 0;
          },
          &names) < 0)
    fail(path_, "cannot list the attributes of '" + object + "' (corrupt file?)");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& name : names) {
    Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) {
      out.emplace_back(name, "<unreadable attribute>");
      continue;
    }
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    const H5T_class_t cls = H5Tget_class(type);
    std::string value = "<" + std::to_string(H5Sget_simple_extent_npoints(space)) + " values>";
    if (H5Sget_simple_extent_npoints(space) == 1) {
      if (cls == H5T_STRING) {
        try {
          value = "\"" + read_string(attr, path_, name) + "\"";
        } catch (const Error&) {
          value = "<unreadable string>";
        }
      } else if (cls == H5T_INTEGER) {
        long long v = 0;
        value = H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0 ? "<unreadable>" : std::to_string(v);
      } else if (cls == H5T_FLOAT) {
        double v = 0;
        const bool ok = H5Aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.6g", v);
        value = ok ? buf : "<unreadable>";
      }
    }
    out.emplace_back(name, value);
  }
  return out;
}

}  // namespace ungulate::io
