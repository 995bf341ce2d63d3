#pragma once
// DeviceStreams on one CUDA device: the compute stream is the calling thread's current CUDA stream
// (LibTorch's; autograd's device threads set it during backward), the side stream one of LibTorch's
// pool, so that the caching allocator can track tensors used on it. Built only with CUDA.

#include "streams/device_streams.h"

#include <c10/cuda/CUDAStream.h>

namespace trainer::streams {

class CudaStreams : public DeviceStreams {
 public:
  explicit CudaStreams(int device);
  std::shared_ptr<StreamEvent> record(Stream stream) override;
  void wait(Stream waiter, const StreamEvent& event) override;
  void used_on_side(const torch::Tensor& tensor) override;
  void on_side(const std::function<void()>& enqueue) override;

  cudaStream_t side_handle() const { return side_.stream(); }  // for NCCL's calls

 private:
  c10::cuda::CUDAStream stream(Stream which) const;
  int device_;
  c10::cuda::CUDAStream side_;
};

}  // namespace trainer::streams
