#pragma once
// The one table between LibTorch dtypes, native HDF5 types and the names inspect prints.
// Private to storage/ (it speaks HDF5).

#include "storage/h5.h"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::storage {

// Throws Error naming the tensor for a dtype without a mapping (half precision, complex, ...).
hid_t hdf5_type_of(torch::ScalarType type, const std::string& tensor_name);

// Throws StorageError naming the dataset for an HDF5 type trainer does not read.
torch::ScalarType torch_type_of(const DatasetInfo& info, const std::string& dataset_name);

// "float32", "int64", ...; "other" for a type trainer does not read.
std::string element_type_name(const DatasetInfo& info);

// "[120,400]": a shape as inspect prints it.
std::string shape_text(const std::vector<std::int64_t>& shape);

}  // namespace trainer::storage
