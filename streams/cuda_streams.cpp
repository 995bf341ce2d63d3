#include "streams/cuda_streams.h"

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>

namespace trainer::streams {
namespace {

class CudaEvent : public StreamEvent {
 public:
  mutable at::cuda::CUDAEvent event;  // timing off: the cheapest kind, as c10d's; block() is not const
  bool completed() const override { return event.query(); }
  void synchronize() const override { event.synchronize(); }
};

}  // namespace

CudaStreams::CudaStreams(int device)
    : device_(device),
      side_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, static_cast<c10::DeviceIndex>(device))) {}

c10::cuda::CUDAStream CudaStreams::stream(Stream which) const {
  return which == Stream::kSide ? side_ : c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_));
}

std::shared_ptr<StreamEvent> CudaStreams::record(Stream which) {
  auto event = std::make_shared<CudaEvent>();
  event->event.record(stream(which));
  return event;
}

void CudaStreams::wait(Stream waiter, const StreamEvent& event) {
  static_cast<const CudaEvent&>(event).event.block(stream(waiter));
}

void CudaStreams::used_on_side(const torch::Tensor& tensor) {
  c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), side_);
}

void CudaStreams::on_side(const std::function<void()>& enqueue) {
  const c10::cuda::CUDAStreamGuard guard(side_);
  enqueue();
}

}  // namespace trainer::streams
