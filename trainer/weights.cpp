#include "trainer/weights.h"

#include "common/error.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "storage/key_names.h"
#include "storage/pt_file.h"

#include <algorithm>
#include <map>

namespace trainer {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < 8; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 8) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

}  // namespace

void normalize_names(WeightSource& source) {
  std::vector<std::string> keys;
  for (const auto& entry : source.tensors) keys.push_back(entry.name);
  const storage::Renaming renaming = storage::normalize_wrapper_prefixes(keys);
  for (std::size_t i = 0; i < keys.size(); ++i) source.tensors[i].name = renaming.names[i];
  source.stripped_prefix = renaming.stripped;
}

namespace {

// A --save-weights file: the tensors under /model, and the run record on its root.
void read_weights_file(const std::string& path, WeightSource& source) {
  source.path = path;
  source.kind = "weights file";
  const Attributes attributes = storage::weights_file_attributes(path);
  source.tensors = storage::stored_tensors(path, "/model");
  const checkpoint::RunRecord run = checkpoint::RunRecord::from_attributes(attributes, path);
  source.model = {run.model, run.model_sha256};
  source.num_classes = run.num_classes;
  if (run.in_channels > 0) source.in_channels = run.in_channels;
  source.class_names = run.class_names;
  source.config = run.config;
  if (const auto it = attributes.find("completed_epochs"); it != attributes.end())
    if (const auto* epochs = std::get_if<std::int64_t>(&it->second)) source.epoch = *epochs;
}

}  // namespace

WeightSource read_weights(const std::string& path) {
  // A run directory without checkpoints (--checkpoint-dir none, or all removed): its final weights.
  const std::string run_weights = storage::fs::join(path, "weights.h5");
  // (weights.h5 first: the probe of a regular file never throws, so an unreadable directory is
  // reported by the checkpoint reader as before.)
  if (storage::is_hdf5_file(run_weights) && !storage::fs::is_directory(storage::fs::join(path, "checkpoints")) &&
      !storage::fs::exists(storage::fs::join(path, "LATEST")))
    return read_weights(run_weights);
  WeightSource source;
  if (storage::fs::exists(path) && !storage::fs::is_directory(path)) storage::fs::require_regular_file(path);
  if (!storage::fs::is_directory(path) && storage::looks_like_pt_file(path)) {
    storage::PtStateDict pt = storage::read_pt_state_dict(path);
    source.path = path;
    source.kind = pt.location.empty() ? "torch.save file" : "torch.save checkpoint dict (" + pt.location + ")";
    source.tensors = std::move(pt.tensors);
    source.epoch = pt.epoch;
  } else if (!storage::fs::is_directory(path) && storage::fs::exists(path) && storage::is_hdf5_file(path)) {
    read_weights_file(path, source);
  } else {
    if (!storage::fs::exists(path)) throw StorageError(path + ": no such file or directory");
    if (!storage::fs::is_directory(path))
      throw StorageError(path + ": neither a checkpoint directory nor a torch.save file (" + storage::describe_file(path) + ")");
    checkpoint::with_checkpoint(path, [&](const checkpoint::CheckpointReader& reader) {
      source.path = reader.directory();
      source.kind = "checkpoint";
      source.tensors = reader.model();
      const checkpoint::RunRecord run = reader.run();
      source.model = {run.model, run.model_sha256};
      source.num_classes = run.num_classes;
      if (run.in_channels > 0) source.in_channels = run.in_channels;
      source.class_names = run.class_names;
      source.config = run.config;
      source.epoch = reader.epoch().progress.completed_epochs;
    });
  }
  if (source.tensors.empty()) throw CheckpointError(source.path + ": holds no model weights");
  normalize_names(source);
  return source;
}

WeightsReport load_weights(const models::StateDict& state, const WeightSource& source, bool strict) {
  WeightsReport report;
  std::map<std::string, const storage::StoredTensor*> available;
  for (const auto& entry : source.tensors) available[entry.name] = &entry;
  std::vector<std::pair<const storage::StoredTensor*, torch::Tensor>> fitting;
  for (const auto& [name, tensor] : state) {
    const auto it = available.find(name);
    if (it == available.end()) {
      report.missing.push_back(name);
      continue;
    }
    if (torch::IntArrayRef(it->second->shape) != tensor.sizes())
      report.mismatched.push_back(name + " (" + c10::str(torch::IntArrayRef(it->second->shape)) + " in the file, " +
                                  c10::str(tensor.sizes()) + " in the model)");
    else
      fitting.emplace_back(it->second, tensor);
    available.erase(it);
  }
  for (const auto& entry : available) report.unexpected.push_back(entry.first);
  if (strict && (!report.missing.empty() || !report.unexpected.empty() || !report.mismatched.empty())) {
    std::string message = source.path + " does not fit the model:";
    if (!report.missing.empty()) message += " missing " + join(report.missing) + ";";
    if (!report.unexpected.empty()) message += " unexpected " + join(report.unexpected) + ";";
    if (!report.mismatched.empty()) message += " shape mismatch " + join(report.mismatched) + ";";
    message.pop_back();
    throw CheckpointError(message);
  }
  torch::NoGradGuard no_grad;
  for (auto& [stored, tensor] : fitting) {
    const torch::Tensor value = stored->read();
    if (value.sizes() != tensor.sizes())
      throw StorageError(source.path + ": tensor " + stored->name + " does not have the shape its file announced");
    // Here, not at the first step, where it would read as a learning rate that diverged.
    if (value.is_floating_point() && !torch::isfinite(value).all().item<bool>())
      throw CheckpointError(source.path + ": tensor " + stored->name + " holds NaN or infinite values");
    tensor.copy_(value);
    ++report.loaded;
  }
  return report;
}

std::optional<std::int64_t> head_classes(const models::StateDict& reference, const WeightSource& source) {
  std::string head;
  for (const auto& [name, tensor] : reference)
    if (tensor.dim() == 2) head = name;
  for (const auto& entry : source.tensors)
    if (entry.name == head && entry.shape.size() == 2) return entry.shape[0];
  return std::nullopt;
}

std::optional<std::int64_t> input_channels(const models::StateDict& reference, const WeightSource& source) {
  const auto first_conv = std::find_if(reference.begin(), reference.end(),
                                       [](const auto& entry) { return entry.second.dim() == 4; });
  if (first_conv == reference.end()) return std::nullopt;
  for (const auto& entry : source.tensors)
    if (entry.name == first_conv->first && entry.shape.size() == 4) return entry.shape[1];
  return std::nullopt;
}

}  // namespace trainer
