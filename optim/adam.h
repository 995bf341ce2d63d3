#pragma once
// Adam and AdamW (LibTorch's torch::optim::Adam and AdamW, PyTorch's torch.optim.Adam and AdamW):
// one adapter for both, since AdamW is Adam with the weight decay decoupled from the gradient, and
// its options and state are Adam's.

#include "optim/adapter.h"

namespace trainer::optim {

std::unique_ptr<OptimizerAdapter> make_adam_adapter();
std::unique_ptr<OptimizerAdapter> make_adamw_adapter();

}  // namespace trainer::optim
