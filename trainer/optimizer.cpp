#include "trainer/optimizer.h"

#include "common/error.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cmath>

namespace trainer {

namespace {

std::unique_ptr<torch::optim::OptimizerOptions> options_for(const OptimizerConfig& config, double lr,
                                                            double momentum, double weight_decay) {
  if (config.name == "sgd")
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(weight_decay));
  return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(lr).weight_decay(weight_decay));
}

}  // namespace

OptimizerSetup make_optimizer(const NamedParameters& parameters, const OptimizerConfig& config,
                              const std::vector<LrGroup>& groups) {
  if (!(config.lr > 0)) throw ConfigError("--lr must be positive");
  if (config.weight_decay < 0) throw ConfigError("--weight-decay must not be negative");
  if (config.name != "sgd" && config.name != "adam")
    throw ConfigError("unknown optimizer '" + config.name + "' (known: sgd, adam)");
  if (config.name == "sgd" && (config.momentum < 0 || config.momentum >= 1))
    throw ConfigError("--momentum must be in [0, 1)");

  std::vector<std::vector<torch::Tensor>> members(groups.size() + 1);
  std::vector<std::size_t> matched(groups.size(), 0);
  for (const auto& [name, tensor] : parameters) {
    std::size_t g = 0;
    while (g < groups.size() && name.rfind(groups[g].prefix, 0) != 0) ++g;
    if (g < groups.size()) ++matched[g];  // counted even when frozen: the prefix is not a typo
    if (tensor.requires_grad()) members[g].push_back(tensor);
  }
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (matched[g] == 0)
      throw ConfigError("--lr-group " + groups[g].prefix + "=...: no parameter name starts with '" +
                        groups[g].prefix + "'");

  OptimizerSetup setup;
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (std::size_t g = 0; g <= groups.size(); ++g) {
    if (members[g].empty()) continue;
    const bool is_default = g == groups.size();
    const double lr = is_default ? config.lr : groups[g].lr;
    const double momentum = is_default ? config.momentum : groups[g].momentum.value_or(config.momentum);
    const double decay = is_default ? config.weight_decay : groups[g].weight_decay.value_or(config.weight_decay);
    param_groups.emplace_back(members[g], options_for(config, lr, momentum, decay));
    setup.base_lrs.push_back(lr);
    setup.group_names.push_back(is_default ? "default" : groups[g].prefix);
  }
  if (param_groups.empty()) throw ConfigError("every parameter is frozen: nothing to train");
  auto defaults = options_for(config, config.lr, config.momentum, config.weight_decay);
  if (config.name == "sgd")
    setup.optimizer = std::make_unique<torch::optim::SGD>(
        param_groups, static_cast<torch::optim::SGDOptions&>(*defaults));
  else
    setup.optimizer = std::make_unique<torch::optim::Adam>(
        param_groups, static_cast<torch::optim::AdamOptions&>(*defaults));
  return setup;
}

double scheduled_lr(const OptimizerConfig& config, std::int64_t epoch) {
  if (config.lr_step <= 0) return config.lr;
  return config.lr * std::pow(config.lr_gamma, static_cast<double>(epoch / config.lr_step));
}

void apply_schedule(const OptimizerSetup& setup, const OptimizerConfig& config, std::int64_t epoch) {
  const double factor = scheduled_lr(config, epoch) / config.lr;
  auto& groups = setup.optimizer->param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(setup.base_lrs[g] * factor);
}

}  // namespace trainer
