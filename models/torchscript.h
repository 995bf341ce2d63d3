#pragma once
// A network defined in Python and saved as TorchScript (`torch.jit.script(model).save("net.ts")`),
// trained like a built-in one. The scripted module keeps running its own forward; its parameters
// and buffers are also registered, the very same tensors, in a tree of plain nn::Modules that
// mirrors the scripted one, so that everything written for Network (state dicts in PyTorch's
// order, --freeze, the optimizer, the bucketer's hooks, .to(device), broadcasts and restores in
// place) sees the module's own names and acts on the tensors its forward uses.
//
// Another file format (torch.export, ...) is another loader beside this one in make_model.

#include "models/network.h"

#include <torch/script.h>

#include <string>

namespace trainer::models {

class ScriptedNetwork : public Network {
 public:
  // Loads `path`; throws ConfigError for a file that is not a TorchScript archive, whose forward
  // is not Tensor -> Tensor, or that has no trainable parameter.
  ScriptedNetwork(const std::string& path, const ModelOptions& options);

  torch::Tensor forward(torch::Tensor images) override;
  // Runs one batch of two zero images in eval mode without gradients (no buffer changes, no
  // random draws) and checks that logits come out as 2 x num_classes.
  void check_input_shape(std::int64_t channels, std::int64_t height, std::int64_t width) const override;
  // A forward and backward in training mode at the real batch size, on zeros.
  void check_training_step(std::int64_t batch, std::int64_t channels, std::int64_t height, std::int64_t width) override;
  void train(bool on = true) override;
  std::string file_sha256() const override { return sha256_; }

 private:
  std::string path_;
  std::string sha256_;
  std::int64_t num_classes_;
  mutable torch::jit::Module module_;  // a handle; forward is not const in TorchScript's API
};

}  // namespace trainer::models
