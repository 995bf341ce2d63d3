#include "optim/state_map.h"

#include <sstream>

namespace trainer::optim {
namespace {

// What c10::guts::to_string makes of the TensorImpl address, as LibTorch's optimizers do.
std::string state_key(const torch::Tensor& parameter) {
  std::ostringstream key;
  key << parameter.unsafeGetTensorImpl();
  return key.str();
}

}  // namespace

const torch::optim::OptimizerParamState* find_state(const torch::optim::Optimizer& optimizer,
                                                    const torch::Tensor& parameter) {
  const auto it = optimizer.state().find(state_key(parameter));
  return it == optimizer.state().end() ? nullptr : it->second.get();
}

void set_state(torch::optim::Optimizer& optimizer, const torch::Tensor& parameter,
               std::unique_ptr<torch::optim::OptimizerParamState> state) {
  optimizer.state()[state_key(parameter)] = std::move(state);
}

void clear_state(torch::optim::Optimizer& optimizer) { optimizer.state().clear(); }

}  // namespace trainer::optim
