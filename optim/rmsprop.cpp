#include "optim/rmsprop.h"

#include "optim/state_tensor.h"

#include <torch/optim/rmsprop.h>

namespace trainer::optim {

std::unique_ptr<torch::optim::OptimizerOptions> RmspropAdapter::options(const GroupSettings& s) const {
  return std::make_unique<torch::optim::RMSpropOptions>(torch::optim::RMSpropOptions(s.lr)
                                                            .alpha(s.alpha)
                                                            .eps(s.eps)
                                                            .weight_decay(s.weight_decay)
                                                            .momentum(s.momentum)
                                                            .centered(s.centered));
}

std::unique_ptr<torch::optim::Optimizer> RmspropAdapter::make(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                              const GroupSettings& defaults) const {
  const auto options = this->options(defaults);
  return std::make_unique<torch::optim::RMSprop>(std::move(groups),
                                                 static_cast<const torch::optim::RMSpropOptions&>(*options));
}

Attributes RmspropAdapter::record(const torch::optim::OptimizerOptions& options) const {
  const auto& o = static_cast<const torch::optim::RMSpropOptions&>(options);
  return {{"lr", o.lr()},
          {"alpha", o.alpha()},
          {"eps", o.eps()},
          {"weight_decay", o.weight_decay()},
          {"momentum", o.momentum()},
          {"centered", std::int64_t{o.centered()}}};
}

StateTensors RmspropAdapter::state_tensors(const torch::optim::OptimizerParamState& state) const {
  const auto& s = static_cast<const torch::optim::RMSpropParamState&>(state);
  StateTensors tensors = {{"step", torch::tensor(s.step(), torch::kInt64)}, {"square_avg", s.square_avg()}};
  if (s.momentum_buffer().defined()) tensors.emplace_back("momentum_buffer", s.momentum_buffer());
  if (s.grad_avg().defined()) tensors.emplace_back("grad_avg", s.grad_avg());
  return tensors;
}

std::unique_ptr<torch::optim::OptimizerParamState> RmspropAdapter::make_state(
    const std::map<std::string, torch::Tensor>& tensors, const torch::Tensor& parameter,
    const std::string& where) const {
  auto state = std::make_unique<torch::optim::RMSpropParamState>();
  state->step(step_count(tensors, "step", where));
  state->square_avg(like_parameter(tensors, "square_avg", parameter, where));
  if (tensors.count("momentum_buffer"))
    state->momentum_buffer(like_parameter(tensors, "momentum_buffer", parameter, where));
  if (tensors.count("grad_avg")) state->grad_avg(like_parameter(tensors, "grad_avg", parameter, where));
  return state;
}

PythonOptions RmspropAdapter::python_options(const Attributes& record) const {
  return {{"lr", number(record, "lr", 0)},
          {"momentum", number(record, "momentum", 0)},
          {"alpha", number(record, "alpha", 0.99)},
          {"eps", number(record, "eps", 0)},
          {"centered", number(record, "centered", 0) != 0},
          {"weight_decay", number(record, "weight_decay", 0)},
          {"capturable", false},
          {"foreach", PythonNone{}},
          {"maximize", false},
          {"differentiable", false}};
}

// PyTorch 2.x keeps `step` as a float32 scalar tensor (1.13 an int, and reads either).
torch::Tensor RmspropAdapter::python_state(const std::string& key, const torch::Tensor& tensor) const {
  return key == "step" ? tensor.to(torch::kFloat32) : tensor;
}

}  // namespace trainer::optim
