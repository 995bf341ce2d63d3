#pragma once
// SGD with momentum (optionally Nesterov's) and weight decay (LibTorch's torch::optim::SGD, PyTorch's torch.optim.SGD).

#include "optim/adapter.h"

namespace trainer::optim {

class SgdAdapter : public OptimizerAdapter {
 public:
  std::string name() const override { return "sgd"; }
  std::unique_ptr<torch::optim::OptimizerOptions> options(const GroupSettings& settings) const override;
  std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                const GroupSettings& defaults) const override;
  Attributes record(const torch::optim::OptimizerOptions& options) const override;
  StateTensors state_tensors(const torch::optim::OptimizerParamState& state) const override;
  std::unique_ptr<torch::optim::OptimizerParamState> make_state(const std::map<std::string, torch::Tensor>& tensors,
                                                                const torch::Tensor& parameter,
                                                                const std::string& where) const override;
  PythonOptions python_options(const Attributes& record) const override;
};

}  // namespace trainer::optim
