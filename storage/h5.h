#pragma once
// A thin RAII layer over the HDF5 C API. Every handle closes itself; every call's status is checked
// in one place (check()), and failures throw StorageError with the file and object name and the
// HDF5 error stack folded into one line. No torch here: callers get plain vectors.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::storage {

// Owns one hid_t and the function that closes it.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();

  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Throws StorageError("<what>: <HDF5 error stack>") when status is negative.
hid_t check(hid_t status, const std::string& what);

enum class ElementKind { kInteger, kFloat, kOther };

struct DatasetInfo {
  std::vector<std::int64_t> shape;  // empty for a scalar dataset
  ElementKind kind = ElementKind::kOther;
  std::size_t element_size = 0;  // bytes
  bool is_signed = false;

  std::int64_t element_count() const;
};

class File {
 public:
  static File open_read(const std::string& path);
  static File create(const std::string& path);  // truncates an existing file

  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.id(); }

  bool has(const std::string& name) const;
  DatasetInfo describe(const std::string& dataset) const;

  // Reads a whole dataset converted to T (uint8_t, int64_t, float or double); HDF5 converts from
  // the stored type. Throws StorageError when the dataset is missing or the conversion impossible.
  template <typename T>
  std::vector<T> read(const std::string& dataset) const;

  // Writes a contiguous dataset of the given shape (empty shape: a scalar), creating parent groups.
  template <typename T>
  void write(const std::string& dataset, const std::vector<std::int64_t>& shape,
             const std::vector<T>& values);

  // Writes `data` (elements of HDF5 native type `type`, shape multiplied together of them).
  void write_raw(const std::string& dataset, const std::vector<std::int64_t>& shape, hid_t type,
                 const void* data);

 private:
  File(Handle handle, std::string path) : handle_(std::move(handle)), path_(std::move(path)) {}
  std::string where(const std::string& object) const;

  Handle handle_;
  std::string path_;
};

}  // namespace trainer::storage
