#pragma once
// The network that saved weights belong to, rebuilt for eval, export and
// inspect: the model the checkpoint records, or the one --model names. A
// TorchScript file is known by its contents: it may have moved (--model says
// where it is now), but it must be the very file the weights were trained with.
// A built-in name must be the recorded one.

#include "models/network.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace trainer {

// What a weights file says about its model; a Python torch.save file says
// nothing.
struct SavedModel {
  std::optional<std::string> name;  // built-in name, or the TorchScript file's path when it was saved
  std::string sha256;               // the TorchScript file's SHA-256; empty for built-in models
};

// "model file net.ts (sha256 0123456789abcdef...)" for a file, the plain name
// for a built-in model.
std::string describe_model(const std::string& model, const std::string& sha256);

// `command` ("eval", "export", ...) and `weights` (the checkpoint's path) name
// the context in messages; `explicit_model` is --model when the user gave it,
// `fallback` the model when neither the file nor the user names one. Throws
// CheckpointError when --model contradicts the record, or when the recorded
// file is gone or no longer has the recorded contents.
std::shared_ptr<models::Network> rebuild_model(const std::string& command, const std::string& weights,
                                               const SavedModel& saved,
                                               const std::optional<std::string>& explicit_model,
                                               const std::string& fallback, const models::ModelOptions& options);

// inspect --model: whether the weights at `path` (a checkpoint or a torch.save
// file) are the state dict of `model`, every tensor by name and shape and read
// through its checksum. Prints one line; throws CheckpointError naming what
// does not fit.
void check_weights_fit(const std::string& path, const std::string& model, std::ostream& out);

}  // namespace trainer
