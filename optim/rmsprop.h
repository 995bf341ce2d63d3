#pragma once
// RMSprop, plain or centered, with optional momentum (LibTorch's torch::optim::RMSprop, PyTorch's
// torch.optim.RMSprop).

#include "optim/adapter.h"

namespace trainer::optim {

class RmspropAdapter : public OptimizerAdapter {
 public:
  std::string name() const override { return "rmsprop"; }
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
};

}  // namespace trainer::optim
