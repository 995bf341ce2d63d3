#pragma once
// A module's state dict in PyTorch's order and naming: for each module, its own parameters, then
// its own buffers, then its children, names joined by '.'. LibTorch's named_parameters() lists all
// parameters before any buffer, which is not the order Python users see.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace trainer::models {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

StateDict state_dict(const torch::nn::Module& module);

}  // namespace trainer::models
