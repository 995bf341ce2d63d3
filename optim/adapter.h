#pragma once
// One adapter per optimizer: how LibTorch's optimizer is built, and how its options and per-
// parameter state turn into checkpoint records and tensors, back into LibTorch state, and into the
// spelling of Python's optimizer.state_dict() for .pt export. Checkpoints and export use only
// this interface, so that adding an optimizer is one file pair and one line in registry.cpp.

#include "common/attributes.h"

#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace trainer::optim {

// The options a group may set (--lr-group) and those shared by all groups.
struct GroupSettings {
  double lr = 0;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double alpha = 0.99;
  bool centered = false;
};

using StateTensors = std::vector<std::pair<std::string, torch::Tensor>>;  // key -> tensor

// A value of a Python param_groups entry: a number, a flag, None, or a tuple of numbers (Adam's betas).
struct PythonNone {};
using PythonOption = std::variant<double, bool, PythonNone, std::vector<double>>;
using PythonOptions = std::vector<std::pair<std::string, PythonOption>>;

class OptimizerAdapter {
 public:
  virtual ~OptimizerAdapter() = default;
  virtual std::string name() const = 0;

  virtual std::unique_ptr<torch::optim::OptimizerOptions> options(const GroupSettings& settings) const = 0;
  virtual std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                        const GroupSettings& defaults) const = 0;

  // A group's options as checkpoint attributes ("lr", "momentum", ...; numbers only).
  virtual Attributes record(const torch::optim::OptimizerOptions& options) const = 0;
  // A parameter's state as named tensors, and back (throws CheckpointError naming `where` and the
  // key when one is missing or mis-shaped for `parameter`).
  virtual StateTensors state_tensors(const torch::optim::OptimizerParamState& state) const = 0;
  virtual std::unique_ptr<torch::optim::OptimizerParamState> make_state(const std::map<std::string, torch::Tensor>& tensors,
                                                                        const torch::Tensor& parameter,
                                                                        const std::string& where) const = 0;

  // Python's param_groups entry (without "params") for a recorded group, in the order Python's
  // optimizer writes it, and a state tensor as Python's optimizer keeps it.
  virtual PythonOptions python_options(const Attributes& record) const = 0;
  virtual torch::Tensor python_state(const std::string& /*key*/, const torch::Tensor& tensor) const { return tensor; }
};

}  // namespace trainer::optim
