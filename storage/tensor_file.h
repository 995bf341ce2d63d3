#pragma once
// Named tensors in an HDF5 file, one dataset per name under a group, with their native HDF5 type
// and shape (scalars as scalar datasets): what `--save-weights` writes and h5py reads as arrays.

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace trainer::storage {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes to `path` + ".tmp" and renames it over `path` when whole, so a crash never leaves half a
// file under the final name. Tensors may live on any device; they are copied to the CPU.
void write_tensors(const std::string& path, const std::string& group, const NamedTensors& tensors);

// Reads one dataset as a CPU tensor: integers as int64, 8-byte floats as float64, others float32.
torch::Tensor read_tensor(const std::string& path, const std::string& dataset);

}  // namespace trainer::storage
