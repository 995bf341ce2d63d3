#pragma once
// The arrays of a user's HDF5 file (a data set's /images and /labels): their shape and element
// type before anything is read, then their values as tensors of the dtype asked for (HDF5
// converts). What data/ sees of HDF5.

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer::storage {

struct ArrayInfo {
  enum class Kind { kInteger, kFloat, kOther };
  std::vector<std::int64_t> shape;  // empty for a scalar
  Kind kind = Kind::kOther;
  std::size_t element_size = 0;     // bytes
  bool is_signed = false;
};

class ArrayFile {
 public:
  explicit ArrayFile(const std::string& path);  // throws StorageError: missing, not HDF5, unreadable
  ~ArrayFile();
  ArrayFile(ArrayFile&&) noexcept;
  ArrayFile& operator=(ArrayFile&&) noexcept;

  const std::string& path() const;
  bool has(const std::string& name) const;
  ArrayInfo info(const std::string& name) const;
  // The whole array converted to `dtype`; throws StorageError when HDF5 cannot convert it.
  torch::Tensor read(const std::string& name, torch::ScalarType dtype) const;
  // Throws StorageError when the array announces far more bytes than the file stores for it (a
  // decompression bomb, a damaged file).
  void check_stored_size(const std::string& name) const;
  // The rows `rows` (first-dimension indices, any order) converted to `dtype`, in that order.
  torch::Tensor read_rows(const std::string& name, const std::vector<std::int64_t>& rows,
                          torch::ScalarType dtype) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainer::storage
