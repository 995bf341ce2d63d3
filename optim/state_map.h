#pragma once
// LibTorch's optimizer state is a map keyed by the parameter's TensorImpl (its address as text in
// LibTorch 1.x, the address in 2.x); the trainer keys it by parameter instead. The only code that
// knows the key's form.

#include <torch/optim/optimizer.h>

#include <memory>

namespace trainer::optim {

// The state of `parameter`, or null when the optimizer has none for it yet.
const torch::optim::OptimizerParamState* find_state(const torch::optim::Optimizer& optimizer,
                                                    const torch::Tensor& parameter);
void set_state(torch::optim::Optimizer& optimizer, const torch::Tensor& parameter,
               std::unique_ptr<torch::optim::OptimizerParamState> state);
void clear_state(torch::optim::Optimizer& optimizer);

}  // namespace trainer::optim
