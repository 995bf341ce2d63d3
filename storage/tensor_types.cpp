#include "storage/tensor_types.h"

#include "common/error.h"

namespace trainer::storage {
namespace {

struct ElementType {
  torch::ScalarType dtype;
  ElementKind kind;
  std::size_t size;
  bool is_signed;
  const char* name;
  hid_t (*native)();  // HDF5's native types are run-time values, not constants
};

// Booleans are written as uint8 and read back as uint8; every other row round-trips.
const std::vector<ElementType>& element_types() {
  static const std::vector<ElementType> types = {
      {torch::kFloat32, ElementKind::kFloat, 4, true, "float32", [] { return H5T_NATIVE_FLOAT; }},
      {torch::kFloat64, ElementKind::kFloat, 8, true, "float64", [] { return H5T_NATIVE_DOUBLE; }},
      {torch::kInt64, ElementKind::kInteger, 8, true, "int64", [] { return H5T_NATIVE_INT64; }},
      {torch::kInt32, ElementKind::kInteger, 4, true, "int32", [] { return H5T_NATIVE_INT32; }},
      {torch::kUInt8, ElementKind::kInteger, 1, false, "uint8", [] { return H5T_NATIVE_UINT8; }},
      {torch::kBool, ElementKind::kInteger, 1, false, "uint8", [] { return H5T_NATIVE_UINT8; }},
  };
  return types;
}

const ElementType* find(const DatasetInfo& info) {
  for (const auto& type : element_types())
    if (type.kind == info.kind && type.size == info.element_size && type.is_signed == info.is_signed) return &type;
  return nullptr;
}

}  // namespace

hid_t hdf5_type_of(torch::ScalarType dtype, const std::string& tensor_name) {
  for (const auto& type : element_types())
    if (type.dtype == dtype) return type.native();
  throw Error("tensor " + tensor_name + ": dtype " + std::string(c10::toString(dtype)) + " has no HDF5 mapping yet");
}

torch::ScalarType torch_type_of(const DatasetInfo& info, const std::string& dataset_name) {
  if (const ElementType* type = find(info)) return type->dtype;
  throw StorageError(dataset_name + ": element type (" + std::to_string(info.element_size) + "-byte " +
                     (info.kind == ElementKind::kFloat ? "float" : "integer") + ") is not one trainer reads");
}

std::string element_type_name(const DatasetInfo& info) {
  const ElementType* type = find(info);
  return type ? type->name : "other";
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace trainer::storage
