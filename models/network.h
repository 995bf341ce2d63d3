#pragma once
// The interface every network of the registry implements.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace trainer::models {

struct ModelOptions {
  std::int64_t in_channels = 1;
  std::int64_t num_classes = 10;
};

// A classifier: images N x C x H x W in, logits N x num_classes out. Parameter and buffer names
// follow the PyTorch reference implementation of the same network, so that state dicts are
// interchangeable with Python.
class Network : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor images) = 0;

  // Throws ConfigError naming the shape when images of C x H x W cannot go through the network, so
  // that a wrong data set fails before training rather than deep inside a matrix multiply.
  virtual void check_input_shape(std::int64_t channels, std::int64_t height,
                                 std::int64_t width) const = 0;

  // Throws ConfigError when one training step at `batch` images of C x H x W would fail or give
  // what training cannot use (a model file's training-mode forward, its gradients' layout). Leaves
  // no trace: buffers, gradients and the random generator are as they were. Built-in networks
  // are known to pass.
  virtual void check_training_step(std::int64_t /*batch*/, std::int64_t /*channels*/, std::int64_t /*height*/,
                                   std::int64_t /*width*/) {}

  // The SHA-256 of the file the network was loaded from (hex); empty for built-in networks.
  virtual std::string file_sha256() const { return {}; }
};

}  // namespace trainer::models
