#include "optim/registry.h"

#include "common/error.h"
#include "optim/adam.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"

#include <memory>

namespace trainer::optim {
namespace {

const std::vector<std::unique_ptr<OptimizerAdapter>>& registry() {
  static const std::vector<std::unique_ptr<OptimizerAdapter>> adapters = [] {
    std::vector<std::unique_ptr<OptimizerAdapter>> list;
    list.push_back(std::make_unique<SgdAdapter>());
    list.push_back(make_adam_adapter());
    list.push_back(make_adamw_adapter());
    list.push_back(std::make_unique<RmspropAdapter>());
    return list;
  }();
  return adapters;
}

}  // namespace

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const auto& adapter : registry()) names.push_back(adapter->name());
  return names;
}

const OptimizerAdapter& optimizer_adapter(const std::string& name) {
  for (const auto& adapter : registry())
    if (adapter->name() == name) return *adapter;
  std::string known;
  for (const auto& n : optimizer_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("unknown optimizer '" + name + "' (known: " + known + ")");
}

}  // namespace trainer::optim
