#pragma once
// make_model(name, options): the one place that maps a model name to a network.

#include "models/network.h"

#include <memory>
#include <string>
#include <vector>

namespace trainer::models {

// `name` is a built-in network's name (model_names()) or the path of a TorchScript file
// (is_model_file). Throws ConfigError for an unknown name, a file that is no usable model, or
// invalid options.
std::shared_ptr<Network> make_model(const std::string& name, const ModelOptions& options);

// The names make_model accepts, in a stable order (for --help and error messages).
std::vector<std::string> model_names();

// The built-in names for messages: "lenet, resnet18".
std::string model_list();

// True when `name` is not a built-in name but reads as a path: it has a '/' or a '.'.
bool is_model_file(const std::string& name);

}  // namespace trainer::models
