#pragma once
// LeNet as in the PyTorch tutorials, written as two nn.Sequential blocks so that the state-dict
// names are exactly Python's: features.{0,3}.{weight,bias}, classifier.{0,2,4}.{weight,bias}.

#include "models/network.h"

#include <torch/nn/modules/container/sequential.h>

namespace trainer::models {

class LeNet : public Network {
 public:
  static constexpr std::int64_t kInputSize = 32;  // Fashion-MNIST's 28x28 is zero-padded by 2.

  explicit LeNet(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor images) override;
  void check_input_shape(std::int64_t channels, std::int64_t height,
                         std::int64_t width) const override;

 private:
  std::int64_t in_channels_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

}  // namespace trainer::models
