#include "models/registry.h"

#include "common/error.h"
#include "models/lenet.h"
#include "models/resnet.h"
#include "models/torchscript.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace trainer::models {
namespace {

using Factory = std::function<std::shared_ptr<Network>(const ModelOptions&)>;

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> entries = {
      {"lenet", [](const ModelOptions& o) { return std::make_shared<LeNet>(o); }},
      {"resnet18", [](const ModelOptions& o) { return std::make_shared<ResNet>(resnet18_layers(), o); }},
  };
  return entries;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::string model_list() {
  std::string list;
  for (const auto& name : model_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

bool is_model_file(const std::string& name) {
  const auto names = model_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return false;
  return name.find('/') != std::string::npos || name.find('.') != std::string::npos;
}

std::shared_ptr<Network> make_model(const std::string& name, const ModelOptions& options) {
  if (options.in_channels < 1)
    throw ConfigError("model '" + name + "': in_channels must be at least 1, got " +
                      std::to_string(options.in_channels));
  if (options.num_classes < 2)
    throw ConfigError("model '" + name + "': num_classes must be at least 2, got " +
                      std::to_string(options.num_classes));
  for (const auto& entry : registry())
    if (entry.first == name) return entry.second(options);
  if (is_model_file(name)) return std::make_shared<ScriptedNetwork>(name, options);
  throw ConfigError("unknown model '" + name + "' (built-in: " + model_list() + "; or a TorchScript file: ./" + name + ")");
}

}  // namespace trainer::models
