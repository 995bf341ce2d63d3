#pragma once
// make_model(name, options): the one place that maps a model name to a network.

#include "models/network.h"

#include <memory>
#include <string>
#include <vector>

namespace trainer::models {

// Throws ConfigError for an unknown name or invalid options.
std::shared_ptr<Network> make_model(const std::string& name, const ModelOptions& options);

// The names make_model accepts, in a stable order (for --help and error messages).
std::vector<std::string> model_names();

}  // namespace trainer::models
