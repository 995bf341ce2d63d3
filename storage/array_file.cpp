#include "storage/array_file.h"

#include "common/error.h"
#include "storage/h5.h"
#include "storage/tensor_types.h"

namespace trainer::storage {

struct ArrayFile::Impl {
  File file;
};

ArrayFile::ArrayFile(const std::string& path) : impl_(std::make_unique<Impl>(Impl{File::open_read(path)})) {}
ArrayFile::~ArrayFile() = default;
ArrayFile::ArrayFile(ArrayFile&&) noexcept = default;
ArrayFile& ArrayFile::operator=(ArrayFile&&) noexcept = default;

const std::string& ArrayFile::path() const { return impl_->file.path(); }

bool ArrayFile::has(const std::string& name) const { return impl_->file.has(name); }

ArrayInfo ArrayFile::info(const std::string& name) const {
  const DatasetInfo d = impl_->file.describe(name);
  ArrayInfo info;
  info.shape = d.shape;
  info.kind = d.kind == ElementKind::kInteger ? ArrayInfo::Kind::kInteger
              : d.kind == ElementKind::kFloat ? ArrayInfo::Kind::kFloat
                                              : ArrayInfo::Kind::kOther;
  info.element_size = d.element_size;
  info.is_signed = d.is_signed;
  return info;
}

torch::Tensor ArrayFile::read(const std::string& name, torch::ScalarType dtype) const {
  const DatasetInfo d = impl_->file.describe(name);
  if (d.kind == ElementKind::kOther)
    throw StorageError(path() + ":" + name + ": holds neither integers nor floating-point numbers");
  if (static_cast<std::uint64_t>(d.element_count()) * c10::elementSize(dtype) > (std::uint64_t{1} << 36))
    throw StorageError(path() + ":" + name + ": too large to read into memory at once (" +
                       std::to_string(d.element_count()) + " elements)");
  check_stored_size(name);
  torch::Tensor values = torch::empty(d.shape, dtype);
  impl_->file.read_raw(name, hdf5_type_of(dtype, name), values.data_ptr());
  return values;
}

void ArrayFile::check_stored_size(const std::string& name) const {
  const DatasetInfo d = impl_->file.describe(name);
  const std::uint64_t bytes = static_cast<std::uint64_t>(d.element_count()) * d.element_size;
  // What the file announces must be backed by bytes in it: no compression filter gets more than
  // about 1000:1 out of real data, so a tiny file announcing gigabytes is refused before any is
  // allocated.
  const std::uint64_t stored = impl_->file.storage_size(name);
  if (bytes > (std::uint64_t{1} << 20) && bytes / 1100 > stored)
    throw StorageError(path() + ":" + name + ": announces " + std::to_string(bytes) + " bytes but stores " +
                       std::to_string(stored) + " (a damaged or hostile file?)");
}

torch::Tensor ArrayFile::read_rows(const std::string& name, const std::vector<std::int64_t>& rows,
                                   torch::ScalarType dtype) const {
  DatasetInfo d = impl_->file.describe(name);
  if (d.kind == ElementKind::kOther)
    throw StorageError(path() + ":" + name + ": holds neither integers nor floating-point numbers");
  d.shape[0] = static_cast<std::int64_t>(rows.size());
  torch::Tensor values = torch::empty(d.shape, dtype);
  impl_->file.read_rows(name, hdf5_type_of(dtype, name), rows, values.data_ptr());
  return values;
}

}  // namespace trainer::storage
