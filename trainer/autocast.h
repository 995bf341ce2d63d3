#pragma once
// --precision bf16|fp16: the training forward in an autocast region, as torch.autocast(device,
// dtype=...) around the model in Python (operations on autocast's lists run in bf16,
// the weights stay fp32). LibTorch's autocast API changed between 1.x and 2.x; autocast.cpp is the
// one place that knows both.

#include <torch/types.h>

namespace trainer {

class AutocastRegion {
 public:
  // Nothing happens unless `enabled`. `dtype`: kBFloat16 or kHalf.
  AutocastRegion(const torch::Device& device, bool enabled, at::ScalarType dtype = at::kBFloat16);
  ~AutocastRegion();  // restores what was set before; leaving the outermost region clears the cast cache
  AutocastRegion(const AutocastRegion&) = delete;
  AutocastRegion& operator=(const AutocastRegion&) = delete;

 private:
  bool enabled_;
  at::DeviceType device_type_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace trainer
