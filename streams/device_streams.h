#pragma once
// The order of work on one device, for the work that runs beside training: NCCL collectives
// overlapped with backward, and the device-to-host copies of background checkpoints. After c10d's
// WorkNCCL: work on a side stream starts after an event recorded on the stream that produced its
// inputs; the training (compute) stream waits for the side stream's event before it touches the
// results; the host waits only where it reads them itself. The caching allocator is told that the
// inputs are in use on the side stream, so that their memory is not handed out again too early.
//
// make_device_streams() gives CUDA streams for a CUDA device (cuda_streams.cpp, in builds with
// CUDA), and for any other device streams where everything has already happened in order on the
// host (host_streams.cpp). Unit tests drive SideStreamJob through a recording fake.

#include <torch/types.h>

#include <functional>
#include <memory>
#include <vector>

namespace trainer::streams {

class StreamEvent {
 public:
  virtual ~StreamEvent() = default;
  virtual bool completed() const = 0;    // a host query; never waits
  virtual void synchronize() const = 0;  // the host waits for the event
};

enum class Stream { kCompute, kSide };

class DeviceStreams {
 public:
  virtual ~DeviceStreams() = default;
  // An event after the work enqueued so far on `stream` (kCompute: the calling thread's current
  // stream, as LibTorch sets it).
  virtual std::shared_ptr<StreamEvent> record(Stream stream) = 0;
  // Work enqueued on `waiter` from now on starts after `event`; the host does not wait.
  virtual void wait(Stream waiter, const StreamEvent& event) = 0;
  // The allocator's recordStream: `tensor`'s memory is in use on the side stream until the work
  // enqueued there so far has completed.
  virtual void used_on_side(const torch::Tensor& tensor) = 0;
  // Runs `enqueue` with the side stream as the calling thread's current stream, so that LibTorch's
  // copies and kernels issued inside go there.
  virtual void on_side(const std::function<void()>& enqueue) = 0;
};

// CUDA streams for a CUDA device (a side stream from LibTorch's pool), host order otherwise.
std::unique_ptr<DeviceStreams> make_device_streams(const torch::Device& device);

// Work on the side stream in c10d's order: an event on the compute stream, the side stream waits
// for it, the inputs are marked as used there, `enqueue` runs with the side stream current, and an
// event marks its end. Nothing here makes the host wait but synchronize().
class SideStreamJob {
 public:
  SideStreamJob(DeviceStreams& streams, const std::vector<torch::Tensor>& inputs, const std::function<void()>& enqueue);
  bool completed() const { return done_->completed(); }
  // The compute stream waits for the job (before it reads or overwrites what the job used);
  // idempotent.
  void make_compute_wait();
  void synchronize() const { done_->synchronize(); }  // the host waits

 private:
  DeviceStreams& streams_;
  std::shared_ptr<StreamEvent> done_;
  bool compute_waits_ = false;
};

}  // namespace trainer::streams
