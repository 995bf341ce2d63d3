#include "storage/tensor_types.h"

#include "common/error.h"

namespace trainer::storage {

hid_t hdf5_type_of(torch::ScalarType type, const std::string& tensor_name) {
  switch (type) {
    case torch::kFloat32: return H5T_NATIVE_FLOAT;
    case torch::kFloat64: return H5T_NATIVE_DOUBLE;
    case torch::kInt64: return H5T_NATIVE_INT64;
    case torch::kInt32: return H5T_NATIVE_INT32;
    case torch::kUInt8: return H5T_NATIVE_UINT8;
    case torch::kBool: return H5T_NATIVE_UINT8;
    default:
      throw Error("tensor " + tensor_name + ": dtype " + std::string(c10::toString(type)) +
                  " has no HDF5 mapping yet");
  }
}

torch::ScalarType torch_type_of(const DatasetInfo& info, const std::string& dataset_name) {
  if (info.kind == ElementKind::kFloat && info.element_size == 4) return torch::kFloat32;
  if (info.kind == ElementKind::kFloat && info.element_size == 8) return torch::kFloat64;
  if (info.kind == ElementKind::kInteger && info.is_signed && info.element_size == 8) return torch::kInt64;
  if (info.kind == ElementKind::kInteger && info.is_signed && info.element_size == 4) return torch::kInt32;
  if (info.kind == ElementKind::kInteger && !info.is_signed && info.element_size == 1) return torch::kUInt8;
  throw StorageError(dataset_name + ": element type (" + std::to_string(info.element_size) +
                     "-byte " + (info.kind == ElementKind::kFloat ? "float" : "integer") +
                     ") is not one trainer reads");
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace trainer::storage
