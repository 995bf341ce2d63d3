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
  features_ = register_module(
      "features",
      nn::Sequential(nn::Conv2d(nn::Conv2dOptions(options.in_channels, 6, /*kernel_size=*/5)),
                     nn::ReLU(),
                     nn::MaxPool2d(nn::MaxPool2dOptions(/*kernel_size=*/2).stride(2)),
                     nn::Conv2d(nn::Conv2dOptions(6, 16, /*kernel_size=*/5)),
                     nn::ReLU(),
                     nn::MaxPool2d(nn::MaxPool2dOptions(/*kernel_size=*/2).stride(2))));
  classifier_ = register_module(
      "classifier",
      nn::Sequential(nn::Linear(16 * 5 * 5, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(),
                     nn::Linear(84, options.num_classes)));
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
