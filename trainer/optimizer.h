#pragma once
// Optimizer construction and the step learning-rate schedule.

#include "trainer/config.h"

#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trainer {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

struct OptimizerSetup {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> base_lrs;                  // per parameter group, before the schedule
  std::vector<std::string> group_names;          // "default" or the --lr-group prefix
};

// One parameter group per --lr-group (first matching prefix wins) and a default group for the
// rest, in that order; parameters that do not require gradients (frozen) are left out. Throws
// ConfigError for an unknown optimizer, invalid hyper-parameters, or a prefix matching nothing.
OptimizerSetup make_optimizer(const NamedParameters& parameters, const OptimizerConfig& config,
                              const std::vector<LrGroup>& groups = {});

// PyTorch's StepLR: lr * gamma^floor(epoch / step), epoch 0-based.
double scheduled_lr(const OptimizerConfig& config, std::int64_t epoch);

// Sets every group's LR to its base LR times the schedule's factor for `epoch`.
void apply_schedule(const OptimizerSetup& setup, const OptimizerConfig& config, std::int64_t epoch);

}  // namespace trainer
