#pragma once
// Named tensors in an HDF5 file, one dataset per name under a group, with their native HDF5 type
// and shape (scalars as scalar datasets): what `--save-weights` and `eval --predictions-out` write
// and h5py reads as arrays.

#include "common/attributes.h"

#include <torch/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace trainer::storage {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// A tensor read only when asked for: its name and shape are known first, so that what does not fit
// a model is refused before anything is allocated.
struct StoredTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::function<torch::Tensor()> read;
};
using StoredTensors = std::vector<StoredTensor>;

// Writes `tensors` under `group` ("" for the root) and `attributes` on the root, atomically
// (fs::write_atomically): a crash never leaves half a file under `path`. Tensors may live on any
// device; they are copied to the CPU.
void write_tensors(const std::string& path, const std::string& group, const NamedTensors& tensors,
                   const Attributes& attributes = {});

// Whether `path` is an HDF5 file (by its signature).
bool is_hdf5_file(const std::string& path);

// The datasets directly under `group` of an HDF5 file, each read on demand (the --save-weights
// file's /model), and the attributes on the file's root.
StoredTensors stored_tensors(const std::string& path, const std::string& group);
Attributes root_attributes(const std::string& path);

// The root attributes of a --save-weights file (the run record, `completed_epochs`). Throws
// CheckpointError naming the file when it is another HDF5 file: one without the trainer's record,
// or a checkpoint's index.h5 (whose directory is the thing to name).
Attributes weights_file_attributes(const std::string& path);

// Whether the file has this dataset.
bool has_tensor(const std::string& path, const std::string& dataset);

// Reads one dataset as a CPU tensor of its stored dtype (float32, float64, int64, int32, uint8).
torch::Tensor read_tensor(const std::string& path, const std::string& dataset);

// The HDF5 library's version ("1.10.8"), for --version.
std::string hdf5_version();

}  // namespace trainer::storage
