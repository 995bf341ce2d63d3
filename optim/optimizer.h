#pragma once
// Building a run's optimizer: parameter groups from --lr-group prefixes, frozen parameters left
// out, the adapter of --optimizer (optim/registry.h) for everything optimizer-specific.

#include "optim/adapter.h"
#include "optim/config.h"

#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trainer::optim {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

struct OptimizerSetup {
  const OptimizerAdapter* adapter = nullptr;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> base_lrs;            // per parameter group, before the schedule
  std::vector<std::string> group_names;    // "default" or the --lr-group prefix
  std::vector<std::vector<std::string>> group_members;  // parameter names, in each group's order
};

// One parameter group per --lr-group (first matching prefix wins) and a default group for the
// rest, in that order; parameters that do not require gradients (frozen) are left out. Throws
// ConfigError for a prefix matching nothing, or when every parameter is frozen. The values
// themselves were validated with the command line (trainer/config.h).
// The options every group starts from (--lr, --momentum, ... of `config`).
GroupSettings group_defaults(const OptimizerConfig& config);

OptimizerSetup make_optimizer(const NamedParameters& parameters, const OptimizerConfig& config,
                              const std::vector<LrGroup>& groups = {});

}  // namespace trainer::optim
