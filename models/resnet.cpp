#include "models/resnet.h"

#include "common/error.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

#include <string>

namespace trainer::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

nn::Conv2d conv1x1(std::int64_t in, std::int64_t out, std::int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride) {
  conv1_ = register_module("conv1", conv3x3(in_planes, planes, stride));
  bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
  conv2_ = register_module("conv2", conv3x3(planes, planes, 1));
  bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
  if (stride != 1 || in_planes != planes) {
    nn::Conv2d projection = conv1x1(in_planes, planes, stride);  // draws its weights: before the norm
    downsample_ = register_module("downsample", nn::Sequential(projection, nn::BatchNorm2d(planes)));
  }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  torch::Tensor identity = downsample_ ? downsample_->forward(x) : x;
  torch::Tensor out = torch::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  return torch::relu(out + identity);
}

ResNet::ResNet(const StageDepths& depths, const ModelOptions& options)
    : in_channels_(options.in_channels) {
  std::int64_t in_planes = 64;
  conv1_ = register_module(
      "conv1",
      nn::Conv2d(nn::Conv2dOptions(options.in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", nn::BatchNorm2d(64));
  layer1_ = register_module("layer1", make_stage(in_planes, 64, depths[0], 1));
  layer2_ = register_module("layer2", make_stage(in_planes, 128, depths[1], 2));
  layer3_ = register_module("layer3", make_stage(in_planes, 256, depths[2], 2));
  layer4_ = register_module("layer4", make_stage(in_planes, 512, depths[3], 2));
  fc_ = register_module("fc", nn::Linear(512, options.num_classes));

  // torchvision's initialization; Linear keeps PyTorch's default.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

nn::Sequential ResNet::make_stage(std::int64_t& in_planes, std::int64_t planes,
                                  std::int64_t blocks, std::int64_t stride) {
  nn::Sequential stage;
  for (std::int64_t i = 0; i < blocks; ++i) {
    stage->push_back(BasicBlock(in_planes, planes, i == 0 ? stride : 1));
    in_planes = planes;
  }
  return stage;
}

torch::Tensor ResNet::forward(torch::Tensor images) {
  torch::Tensor x = torch::relu(bn1_->forward(conv1_->forward(images)));
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  x = layer4_->forward(layer3_->forward(layer2_->forward(layer1_->forward(x))));
  x = torch::flatten(F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)), 1);
  return fc_->forward(x);
}

void ResNet::check_input_shape(std::int64_t channels, std::int64_t height,
                               std::int64_t width) const {
  if (channels != in_channels_ || height < 1 || width < 1)
    throw ConfigError("resnet18 expects images with " + std::to_string(in_channels_) +
                      " channel(s), got " + std::to_string(channels) + "x" +
                      std::to_string(height) + "x" + std::to_string(width));
}

}  // namespace trainer::models
