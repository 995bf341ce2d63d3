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

  // The SHA-256 of the file the network was loaded from (hex); empty for built-in networks.
  virtual std::string file_sha256() const { return {}; }
};

}  // namespace trainer::models
