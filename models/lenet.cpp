#include "models/lenet.h"

#include "common/error.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <string>

namespace trainer::models {

namespace nn = torch::nn;

LeNet::LeNet(const ModelOptions& options) : in_channels_(options.in_channels) {
  // Each layer draws its initial weights from the generator when it is constructed: one statement
  // each, in PyTorch's order, so that a seed gives Python's weights whatever order a compiler
  // evaluates function arguments in (GCC goes right to left).
  nn::Conv2d conv1(nn::Conv2dOptions(options.in_channels, 6, /*kernel_size=*/5));
  nn::Conv2d conv2(nn::Conv2dOptions(6, 16, /*kernel_size=*/5));
  nn::Linear fc1(16 * 5 * 5, 120);
  nn::Linear fc2(120, 84);
  nn::Linear fc3(84, options.num_classes);
  const auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(/*kernel_size=*/2).stride(2)); };
  features_ = register_module("features", nn::Sequential(conv1, nn::ReLU(), pool(), conv2, nn::ReLU(), pool()));
  classifier_ = register_module("classifier", nn::Sequential(fc1, nn::ReLU(), fc2, nn::ReLU(), fc3));
}

torch::Tensor LeNet::forward(torch::Tensor images) {
  return classifier_->forward(torch::flatten(features_->forward(images), /*start_dim=*/1));
}

void LeNet::check_input_shape(std::int64_t channels, std::int64_t height,
                              std::int64_t width) const {
  if (channels != in_channels_ || height != kInputSize || width != kInputSize)
    throw ConfigError("lenet expects images of " + std::to_string(in_channels_) + "x32x32, got " +
                      std::to_string(channels) + "x" + std::to_string(height) + "x" +
                      std::to_string(width));
}

}  // namespace trainer::models
