#include "optim/optimizer.h"

#include "common/error.h"
#include "optim/registry.h"

namespace trainer::optim {

GroupSettings group_defaults(const OptimizerConfig& config) {
  return {config.lr,    config.momentum, config.weight_decay, config.nesterov, config.beta1,
          config.beta2, config.eps,      config.alpha,        config.centered};
}

OptimizerSetup make_optimizer(const NamedParameters& parameters, const OptimizerConfig& config,
                              const std::vector<LrGroup>& groups) {
  OptimizerSetup setup;
  setup.adapter = &optimizer_adapter(config.name);
  std::vector<NamedParameters> members(groups.size() + 1);
  std::vector<std::size_t> matched(groups.size(), 0);
  for (const auto& named : parameters) {
    std::size_t g = 0;
    while (g < groups.size() && named.first.rfind(groups[g].prefix, 0) != 0) ++g;
    if (g < groups.size()) ++matched[g];  // counted even when frozen: the prefix is not a typo
    if (named.second.requires_grad()) members[g].push_back(named);
  }
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (matched[g] == 0)
      throw ConfigError("--lr-group " + groups[g].prefix + "=...: no parameter name starts with '" + groups[g].prefix + "'");

  const GroupSettings defaults = group_defaults(config);
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (std::size_t g = 0; g <= groups.size(); ++g) {
    if (members[g].empty()) continue;
    const bool is_default = g == groups.size();
    GroupSettings settings = defaults;
    if (!is_default) {
      settings.lr = groups[g].lr;
      settings.momentum = groups[g].momentum.value_or(config.momentum);
      settings.weight_decay = groups[g].weight_decay.value_or(config.weight_decay);
    }
    std::vector<torch::Tensor> tensors;
    std::vector<std::string> names;
    for (const auto& [name, tensor] : members[g]) {
      tensors.push_back(tensor);
      names.push_back(name);
    }
    param_groups.emplace_back(tensors, setup.adapter->options(settings));
    setup.base_lrs.push_back(settings.lr);
    setup.group_names.push_back(is_default ? "default" : groups[g].prefix);
    setup.group_members.push_back(std::move(names));
  }
  if (param_groups.empty()) throw ConfigError("every parameter is frozen: nothing to train");
  setup.optimizer = setup.adapter->make(std::move(param_groups), defaults);
  return setup;
}

}  // namespace trainer::optim
