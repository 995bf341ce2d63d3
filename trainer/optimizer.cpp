#include "trainer/optimizer.h"

#include "common/error.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cmath>

namespace trainer {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const OptimizerConfig& config) {
  if (!(config.lr > 0)) throw ConfigError("--lr must be positive");
  if (config.weight_decay < 0) throw ConfigError("--weight-decay must not be negative");
  if (config.name == "sgd") {
    if (config.momentum < 0 || config.momentum >= 1) throw ConfigError("--momentum must be in [0, 1)");
    return std::make_unique<torch::optim::SGD>(
        std::move(parameters), torch::optim::SGDOptions(config.lr)
                                   .momentum(config.momentum)
                                   .weight_decay(config.weight_decay));
  }
  if (config.name == "adam")
    return std::make_unique<torch::optim::Adam>(
        std::move(parameters),
        torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  throw ConfigError("unknown optimizer '" + config.name + "' (known: sgd, adam)");
}

double scheduled_lr(const OptimizerConfig& config, std::int64_t epoch) {
  if (config.lr_step <= 0) return config.lr;
  return config.lr * std::pow(config.lr_gamma, static_cast<double>(epoch / config.lr_step));
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace trainer
