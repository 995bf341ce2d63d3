#include "storage/h5.h"

#include "common/error.h"

#include <sys/stat.h>

#include <type_traits>
#include <utility>

namespace trainer::storage {
namespace {

// HDF5 prints its error stack to stderr by default; we fold it into exceptions instead.
void silence_automatic_error_printing() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

herr_t append_error(unsigned depth, const H5E_error2_t* error, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (depth < 3 && error->desc != nullptr && error->desc[0] != '\0') {
    if (!text->empty()) *text += "; ";
    *text += error->desc;
  }
  return 0;
}

std::string error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, append_error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "unknown HDF5 error" : text;
}

template <typename T>
hid_t memory_type() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else static_assert(sizeof(T) == 0, "unsupported element type");
}

Handle make_space(const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return Handle(check(H5Screate(H5S_SCALAR), "creating a scalar dataspace"), H5Sclose);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "creating a dataspace"),
                H5Sclose);
}

}  // namespace

Handle::Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), closer_(other.closer_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (valid() && closer_ != nullptr) closer_(id_);
    id_ = std::exchange(other.id_, -1);
    closer_ = other.closer_;
  }
  return *this;
}

Handle::~Handle() {
  if (valid() && closer_ != nullptr) closer_(id_);
}

hid_t check(hid_t status, const std::string& what) {
  if (status < 0) throw StorageError(what + ": " + error_stack());
  return status;
}

std::int64_t DatasetInfo::element_count() const {
  std::int64_t count = 1;
  for (std::int64_t d : shape) count *= d;
  return count;
}

File File::open_read(const std::string& path) {
  silence_automatic_error_printing();
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw StorageError(path + ": no such file");
  if (S_ISDIR(info.st_mode)) throw StorageError(path + ": is a directory, not an HDF5 file");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw StorageError(path + ": not an HDF5 file");
  }
  hid_t id = check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path + ": cannot open");
  return File(Handle(id, H5Fclose), path);
}

File File::create(const std::string& path) {
  silence_automatic_error_printing();
  hid_t id = check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                   path + ": cannot create");
  return File(Handle(id, H5Fclose), path);
}

std::string File::where(const std::string& object) const { return path_ + ":" + object; }

bool File::has(const std::string& name) const {
  // H5Lexists fails on a missing intermediate group, so walk the path one link at a time.
  std::string prefix;
  std::size_t start = name.front() == '/' ? 1 : 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    prefix += "/" + name.substr(start, end - start);
    htri_t exists = H5Lexists(handle_.id(), prefix.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    start = end + 1;
  }
  return true;
}

DatasetInfo File::describe(const std::string& dataset) const {
  if (!has(dataset)) throw StorageError(where(dataset) + ": no such dataset");
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  Handle type(check(H5Dget_type(set.id()), where(dataset) + ": cannot read its type"), H5Tclose);
  Handle space(check(H5Dget_space(set.id()), where(dataset) + ": cannot read its shape"), H5Sclose);

  DatasetInfo info;
  int rank = static_cast<int>(check(H5Sget_simple_extent_ndims(space.id()), where(dataset) + ": cannot read its rank"));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  info.shape.assign(dims.begin(), dims.end());
  info.element_size = H5Tget_size(type.id());
  switch (H5Tget_class(type.id())) {
    case H5T_INTEGER:
      info.kind = ElementKind::kInteger;
      info.is_signed = H5Tget_sign(type.id()) == H5T_SGN_2;
      break;
    case H5T_FLOAT:
      info.kind = ElementKind::kFloat;
      info.is_signed = true;
      break;
    default:
      info.kind = ElementKind::kOther;
  }
  return info;
}

template <typename T>
std::vector<T> File::read(const std::string& dataset) const {
  DatasetInfo info = describe(dataset);
  if (info.kind == ElementKind::kOther)
    throw StorageError(where(dataset) + ": holds neither integers nor floating-point numbers");
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  std::vector<T> values(static_cast<std::size_t>(info.element_count()));
  check(H5Dread(set.id(), memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
        where(dataset) + ": cannot read");
  return values;
}

template <typename T>
void File::write(const std::string& dataset, const std::vector<std::int64_t>& shape,
                 const std::vector<T>& values) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) count *= d;
  if (count != static_cast<std::int64_t>(values.size()))
    throw Error(where(dataset) + ": " + std::to_string(values.size()) +
                " values do not fill the shape given");
  write_raw(dataset, shape, memory_type<T>(), values.data());
}

void File::write_raw(const std::string& dataset, const std::vector<std::int64_t>& shape, hid_t type,
                     const void* data) {
  Handle links(check(H5Pcreate(H5P_LINK_CREATE), "creating link properties"), H5Pclose);
  check(H5Pset_create_intermediate_group(links.id(), 1), "setting link properties");
  Handle space = make_space(shape);
  Handle set(check(H5Dcreate2(handle_.id(), dataset.c_str(), type, space.id(), links.id(),
                              H5P_DEFAULT, H5P_DEFAULT),
                   where(dataset) + ": cannot create dataset"),
             H5Dclose);
  check(H5Dwrite(set.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), where(dataset) + ": cannot write");
}

template std::vector<std::uint8_t> File::read(const std::string&) const;
template std::vector<std::int64_t> File::read(const std::string&) const;
template std::vector<float> File::read(const std::string&) const;
template std::vector<double> File::read(const std::string&) const;
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<std::uint8_t>&);
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<std::int64_t>&);
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<float>&);
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<double>&);

}  // namespace trainer::storage
