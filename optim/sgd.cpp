#include "optim/sgd.h"

#include "optim/state_tensor.h"

#include <torch/optim/sgd.h>

namespace trainer::optim {

std::unique_ptr<torch::optim::OptimizerOptions> SgdAdapter::options(const GroupSettings& s) const {
  return std::make_unique<torch::optim::SGDOptions>(
      torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(s.weight_decay).nesterov(s.nesterov));
}

std::unique_ptr<torch::optim::Optimizer> SgdAdapter::make(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                          const GroupSettings& defaults) const {
  const auto options = this->options(defaults);
  return std::make_unique<torch::optim::SGD>(std::move(groups), static_cast<const torch::optim::SGDOptions&>(*options));
}

Attributes SgdAdapter::record(const torch::optim::OptimizerOptions& options) const {
  const auto& o = static_cast<const torch::optim::SGDOptions&>(options);
  return {{"lr", o.lr()},
          {"momentum", o.momentum()},
          {"dampening", o.dampening()},
          {"weight_decay", o.weight_decay()},
          {"nesterov", std::int64_t{o.nesterov()}}};
}

StateTensors SgdAdapter::state_tensors(const torch::optim::OptimizerParamState& state) const {
  const auto& s = static_cast<const torch::optim::SGDParamState&>(state);
  if (!s.momentum_buffer().defined()) return {};
  return {{"momentum_buffer", s.momentum_buffer()}};
}

std::unique_ptr<torch::optim::OptimizerParamState> SgdAdapter::make_state(
    const std::map<std::string, torch::Tensor>& tensors, const torch::Tensor& parameter, const std::string& where) const {
  auto state = std::make_unique<torch::optim::SGDParamState>();
  state->momentum_buffer(like_parameter(tensors, "momentum_buffer", parameter, where));
  return state;
}

PythonOptions SgdAdapter::python_options(const Attributes& record) const {
  return {{"lr", number(record, "lr", 0)},
          {"momentum", number(record, "momentum", 0)},
          {"dampening", number(record, "dampening", 0)},
          {"weight_decay", number(record, "weight_decay", 0)},
          {"nesterov", number(record, "nesterov", 0) != 0},
          {"maximize", false},
          {"foreach", PythonNone{}},
          {"differentiable", false},
          {"fused", PythonNone{}}};
}

}  // namespace trainer::optim
