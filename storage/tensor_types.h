#pragma once
// The mapping between LibTorch dtypes and native HDF5 types, shared by every tensor file we write.

#include "storage/h5.h"

#include <torch/types.h>

#include <string>

namespace trainer::storage {

// Throws Error naming the tensor for a dtype without a mapping (half precision, complex, ...).
hid_t hdf5_type_of(torch::ScalarType type, const std::string& tensor_name);

// Throws StorageError naming the dataset for an HDF5 type trainer does not read.
torch::ScalarType torch_type_of(const DatasetInfo& info, const std::string& dataset_name);

}  // namespace trainer::storage
