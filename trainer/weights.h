#pragma once
// Model weights from anywhere: our checkpoints (a directory, or a --checkpoint-dir's LATEST), our
// --save-weights files, and
// Python's torch.save files, with wrapper prefixes normalized and every missing, unexpected or
// mis-shaped tensor reported by name. Tensors are read only once their name and shape are known to
// fit, so a file's claims cost no memory until they are checked. Used by resume, eval, export and
// --init-from.

#include "models/state_dict.h"
#include "trainer/saved_model.h"
#include "storage/tensor_file.h"

#include <optional>
#include <string>
#include <vector>

namespace trainer {

struct WeightSource {
  std::string path;         // what was read (the resolved checkpoint directory, or the .pt file)
  std::string kind;         // "checkpoint" or "torch.save file"
  storage::StoredTensors tensors;    // canonical names (wrapper prefixes stripped), read on demand
  std::string stripped_prefix;       // "module." etc., or ""
  SavedModel model;                  // what the file says about itself, when it does
  std::optional<std::int64_t> num_classes;
  std::optional<std::int64_t> in_channels;
  std::vector<std::string> class_names;  // when the training data named its classes
  std::optional<std::int64_t> epoch;
  std::string config;  // the training run's options as JSON (checkpoints, weights files), or ""
};

// Throws StorageError (unreadable) or CheckpointError (no weights) naming the file.
WeightSource read_weights(const std::string& path);

// Strips a wrapper prefix ("module.", "_orig_mod.") carried by every name, and notes it.
void normalize_names(WeightSource& source);

struct WeightsReport {
  std::vector<std::string> missing, unexpected, mismatched;
  std::size_t loaded = 0;
};

// Copies every tensor of `source` whose name and shape fit into `state` (converted to the model's
// dtype and device). With `strict`, anything missing, unexpected or mis-shaped throws
// CheckpointError listing all of them, before any tensor is read.
WeightsReport load_weights(const models::StateDict& state, const WeightSource& source, bool strict);

// The number of output classes the weights were trained for: the first dimension of the last
// two-dimensional tensor in the model's own state-dict order (the classifier head).
std::optional<std::int64_t> head_classes(const models::StateDict& reference, const WeightSource& source);

// The image channels the weights expect: the second dimension of the first four-dimensional tensor
// in the model's order (the first convolution), when the weights have it.
std::optional<std::int64_t> input_channels(const models::StateDict& reference, const WeightSource& source);

}  // namespace trainer
