#include "streams/device_streams.h"

namespace trainer::streams {

SideStreamJob::SideStreamJob(DeviceStreams& streams, const std::vector<torch::Tensor>& inputs,
                             const std::function<void()>& enqueue)
    : streams_(streams) {
  const std::shared_ptr<StreamEvent> produced = streams_.record(Stream::kCompute);
  streams_.wait(Stream::kSide, *produced);
  for (const auto& tensor : inputs) streams_.used_on_side(tensor);
  streams_.on_side(enqueue);
  done_ = streams_.record(Stream::kSide);
}

void SideStreamJob::make_compute_wait() {
  if (compute_waits_) return;
  streams_.wait(Stream::kCompute, *done_);
  compute_waits_ = true;
}

}  // namespace trainer::streams
