// The one place that knows whether this build has CUDA streams.
#include "streams/device_streams.h"
#include "streams/host_streams.h"
#ifdef TRAINER_HAVE_CUDA
#include "streams/cuda_streams.h"
#endif

namespace trainer::streams {

std::unique_ptr<DeviceStreams> make_device_streams(const torch::Device& device) {
#ifdef TRAINER_HAVE_CUDA
  if (device.is_cuda()) return std::make_unique<CudaStreams>(device.index() < 0 ? 0 : device.index());
#endif
  (void)device;
  return std::make_unique<HostStreams>();
}

}  // namespace trainer::streams
