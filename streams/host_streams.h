#pragma once
// Streams of a device whose work LibTorch runs on the host in program order (the CPU): every event
// has completed when it is recorded, and waiting is nothing.

#include "streams/device_streams.h"

namespace trainer::streams {

class HostStreams : public DeviceStreams {
 public:
  std::shared_ptr<StreamEvent> record(Stream stream) override;
  void wait(Stream, const StreamEvent&) override {}
  void used_on_side(const torch::Tensor&) override {}
  void on_side(const std::function<void()>& enqueue) override { enqueue(); }
};

}  // namespace trainer::streams
