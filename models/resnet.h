#pragma once
// ResNet with BasicBlocks, a faithful port of torchvision.models.resnet: same module names
// (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc, ...), same shapes, same buffers
// (running_mean, running_var, num_batches_tracked), same forward and initialization, so that a
// torchvision state dict loads into it and gives the same logits.

#include "models/network.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <array>

namespace trainer::models {

class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};  // null when the shortcut is the identity
};
TORCH_MODULE(BasicBlock);

// Blocks per stage: ResNet-18 is {2, 2, 2, 2}.
using StageDepths = std::array<std::int64_t, 4>;
inline StageDepths resnet18_layers() { return {2, 2, 2, 2}; }

class ResNet : public Network {
 public:
  ResNet(const StageDepths& depths, const ModelOptions& options);
  torch::Tensor forward(torch::Tensor images) override;
  void check_input_shape(std::int64_t channels, std::int64_t height,
                         std::int64_t width) const override;

 private:
  torch::nn::Sequential make_stage(std::int64_t& in_planes, std::int64_t planes,
                                   std::int64_t blocks, std::int64_t stride);

  std::int64_t in_channels_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace trainer::models
