#include "optim/adam.h"

#include "optim/state_tensor.h"

#include <torch/optim/adam.h>

namespace trainer::optim {

std::unique_ptr<torch::optim::OptimizerOptions> AdamAdapter::options(const GroupSettings& s) const {
  return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(s.lr).weight_decay(s.weight_decay));
}

std::unique_ptr<torch::optim::Optimizer> AdamAdapter::make(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                           const GroupSettings& defaults) const {
  const auto options = this->options(defaults);
  return std::make_unique<torch::optim::Adam>(std::move(groups), static_cast<const torch::optim::AdamOptions&>(*options));
}

Attributes AdamAdapter::record(const torch::optim::OptimizerOptions& options) const {
  const auto& o = static_cast<const torch::optim::AdamOptions&>(options);
  return {{"lr", o.lr()},
          {"beta1", std::get<0>(o.betas())},
          {"beta2", std::get<1>(o.betas())},
          {"eps", o.eps()},
          {"weight_decay", o.weight_decay()},
          {"amsgrad", std::int64_t{o.amsgrad()}}};
}

StateTensors AdamAdapter::state_tensors(const torch::optim::OptimizerParamState& state) const {
  const auto& s = static_cast<const torch::optim::AdamParamState&>(state);
  StateTensors tensors = {{"step", torch::tensor(s.step(), torch::kInt64)},
                          {"exp_avg", s.exp_avg()},
                          {"exp_avg_sq", s.exp_avg_sq()}};
  if (s.max_exp_avg_sq().defined()) tensors.emplace_back("max_exp_avg_sq", s.max_exp_avg_sq());
  return tensors;
}

std::unique_ptr<torch::optim::OptimizerParamState> AdamAdapter::make_state(
    const std::map<std::string, torch::Tensor>& tensors, const torch::Tensor& parameter, const std::string& where) const {
  auto state = std::make_unique<torch::optim::AdamParamState>();
  state->step(step_count(tensors, "step", where));
  state->exp_avg(like_parameter(tensors, "exp_avg", parameter, where));
  state->exp_avg_sq(like_parameter(tensors, "exp_avg_sq", parameter, where));
  if (tensors.count("max_exp_avg_sq")) state->max_exp_avg_sq(like_parameter(tensors, "max_exp_avg_sq", parameter, where));
  return state;
}

PythonOptions AdamAdapter::python_options(const Attributes& record) const {
  return {{"lr", number(record, "lr", 0)},
          {"betas", std::vector<double>{number(record, "beta1", 0.9), number(record, "beta2", 0.999)}},
          {"eps", number(record, "eps", 0)},
          {"weight_decay", number(record, "weight_decay", 0)},
          {"amsgrad", number(record, "amsgrad", 0) != 0},
          {"maximize", false},
          {"foreach", PythonNone{}},
          {"capturable", false},
          {"differentiable", false},
          {"fused", PythonNone{}}};
}

// PyTorch's Adam keeps `step` as a float32 scalar tensor (since 1.12).
torch::Tensor AdamAdapter::python_state(const std::string& key, const torch::Tensor& tensor) const {
  return key == "step" ? tensor.to(torch::kFloat32) : tensor;
}

}  // namespace trainer::optim
