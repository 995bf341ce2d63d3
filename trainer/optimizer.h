#pragma once
// Optimizer construction and the step learning-rate schedule.

#include "trainer/config.h"

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

namespace trainer {

// Throws ConfigError for an unknown optimizer or invalid hyper-parameters.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const OptimizerConfig& config);

// PyTorch's StepLR: lr * gamma^floor(epoch / step), epoch 0-based.
double scheduled_lr(const OptimizerConfig& config, std::int64_t epoch);

void set_lr(torch::optim::Optimizer& optimizer, double lr);

}  // namespace trainer
