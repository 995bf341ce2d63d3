#include "optim/adam.h"

#include "optim/state_tensor.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

namespace trainer::optim {
namespace {

template <class Optimizer, class Options, class State>
class AdamFamilyAdapter : public OptimizerAdapter {
 public:
  explicit AdamFamilyAdapter(bool decoupled) : decoupled_(decoupled) {}
  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }
  std::unique_ptr<torch::optim::OptimizerOptions> options(const GroupSettings& settings) const override;
  std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                const GroupSettings& defaults) const override;
  Attributes record(const torch::optim::OptimizerOptions& options) const override;
  StateTensors state_tensors(const torch::optim::OptimizerParamState& state) const override;
  std::unique_ptr<torch::optim::OptimizerParamState> make_state(const std::map<std::string, torch::Tensor>& tensors,
                                                                const torch::Tensor& parameter,
                                                                const std::string& where) const override;
  PythonOptions python_options(const Attributes& record) const override;
  torch::Tensor python_state(const std::string& key, const torch::Tensor& tensor) const override;

 private:
  bool decoupled_;
};

template <class Optimizer, class Options, class State>
std::unique_ptr<torch::optim::OptimizerOptions> AdamFamilyAdapter<Optimizer, Options, State>::options(
    const GroupSettings& s) const {
  return std::make_unique<Options>(Options(s.lr).betas({s.beta1, s.beta2}).eps(s.eps).weight_decay(s.weight_decay));
}

template <class Optimizer, class Options, class State>
std::unique_ptr<torch::optim::Optimizer> AdamFamilyAdapter<Optimizer, Options, State>::make(
    std::vector<torch::optim::OptimizerParamGroup> groups, const GroupSettings& defaults) const {
  const auto options = this->options(defaults);
  return std::make_unique<Optimizer>(std::move(groups), static_cast<const Options&>(*options));
}

template <class Optimizer, class Options, class State>
Attributes AdamFamilyAdapter<Optimizer, Options, State>::record(const torch::optim::OptimizerOptions& options) const {
  const auto& o = static_cast<const Options&>(options);
  return {{"lr", o.lr()},   {"beta1", std::get<0>(o.betas())},  {"beta2", std::get<1>(o.betas())},
          {"eps", o.eps()}, {"weight_decay", o.weight_decay()}, {"amsgrad", std::int64_t{o.amsgrad()}}};
}

template <class Optimizer, class Options, class State>
StateTensors AdamFamilyAdapter<Optimizer, Options, State>::state_tensors(
    const torch::optim::OptimizerParamState& state) const {
  const auto& s = static_cast<const State&>(state);
  StateTensors tensors = {
      {"step", torch::tensor(s.step(), torch::kInt64)}, {"exp_avg", s.exp_avg()}, {"exp_avg_sq", s.exp_avg_sq()}};
  if (s.max_exp_avg_sq().defined()) tensors.emplace_back("max_exp_avg_sq", s.max_exp_avg_sq());
  return tensors;
}

template <class Optimizer, class Options, class State>
std::unique_ptr<torch::optim::OptimizerParamState> AdamFamilyAdapter<Optimizer, Options, State>::make_state(
    const std::map<std::string, torch::Tensor>& tensors, const torch::Tensor& parameter,
    const std::string& where) const {
  auto state = std::make_unique<State>();
  state->step(step_count(tensors, "step", where));
  state->exp_avg(like_parameter(tensors, "exp_avg", parameter, where));
  state->exp_avg_sq(like_parameter(tensors, "exp_avg_sq", parameter, where));
  if (tensors.count("max_exp_avg_sq")) state->max_exp_avg_sq(like_parameter(tensors, "max_exp_avg_sq", parameter, where));
  return state;
}

// PyTorch 2.x's AdamW is Adam with decoupled_weight_decay=True and says so in its groups; PyTorch
// versions without the key keep it unread.
template <class Optimizer, class Options, class State>
PythonOptions AdamFamilyAdapter<Optimizer, Options, State>::python_options(const Attributes& record) const {
  PythonOptions options = {{"lr", number(record, "lr", 0)},
                           {"betas", std::vector<double>{number(record, "beta1", 0.9), number(record, "beta2", 0.999)}},
                           {"eps", number(record, "eps", 0)},
                           {"weight_decay", number(record, "weight_decay", 0)},
                           {"amsgrad", number(record, "amsgrad", 0) != 0},
                           {"maximize", false},
                           {"foreach", PythonNone{}},
                           {"capturable", false},
                           {"differentiable", false},
                           {"fused", PythonNone{}}};
  if (decoupled_) options.emplace_back("decoupled_weight_decay", true);
  return options;
}

// PyTorch's Adam keeps `step` as a float32 scalar tensor (since 1.12).
template <class Optimizer, class Options, class State>
torch::Tensor AdamFamilyAdapter<Optimizer, Options, State>::python_state(const std::string& key,
                                                                         const torch::Tensor& tensor) const {
  return key == "step" ? tensor.to(torch::kFloat32) : tensor;
}

using AdamAdapter = AdamFamilyAdapter<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState>;
using AdamWAdapter = AdamFamilyAdapter<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState>;

}  // namespace

std::unique_ptr<OptimizerAdapter> make_adam_adapter() { return std::make_unique<AdamAdapter>(false); }
std::unique_ptr<OptimizerAdapter> make_adamw_adapter() { return std::make_unique<AdamWAdapter>(true); }

}  // namespace trainer::optim
