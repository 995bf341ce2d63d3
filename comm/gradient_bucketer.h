#pragma once
// Averages the gradients of a model across ranks with few large allreduces: gradients are copied
// into preallocated flat buckets (plan_buckets, in reverse registration order like DDP's reducer,
// identical on every rank), each bucket is reduced, divided by the world size once the reduction
// has completed, and copied back. Parameters that do not require gradients (frozen) are left out.
//
// With overlap, a hook on every trainable parameter copies its gradient into its bucket as soon as
// backward has computed it, and a bucket's allreduce starts (non-blocking) when its last gradient
// has arrived, while backward goes on with the layers below. Buckets start in index order on every
// rank (collectives must be issued in the same order everywhere), and average_gradients() then
// only completes what is still in flight. On CPUs, hooks run on the thread that called backward()
// (LibTorch runs CPU backward there), which is also the thread that owns MPI. On GPUs they run on
// autograd's device thread, with the stream that produced the gradient current: NCCL's allreduce is
// ordered after it on NCCL's stream, and completing it makes the training stream wait, not the host.

#include "comm/bucket_plan.h"
#include "comm/communicator.h"

#include <torch/types.h>

#include <chrono>
#include <memory>
#include <vector>

namespace trainer::comm {

// What a bucket's exchange leaves: every rank the whole average (DDP), or each rank the average of
// its 1/N chunk of the bucket (--shard-optimizer; the buckets padded to a multiple of N).
enum class Exchange { kAllreduce, kReduceScatter };

class GradientBucketer {
 public:
  // `parameters` in registration order (Module::parameters()). With `overlap`, `comm` is where the
  // hooks' allreduces go (it must outlive the bucketer's use). A world of one exchanges nothing,
  // unless `even_alone` (the GPU tests: NCCL's overlap on one GPU).
  GradientBucketer(const std::vector<torch::Tensor>& parameters, Communicator& comm, bool overlap,
                   const BucketLimits& limits = {}, bool even_alone = false,
                   Exchange exchange = Exchange::kAllreduce);
  ~GradientBucketer();
  GradientBucketer(const GradientBucketer&) = delete;
  GradientBucketer& operator=(const GradientBucketer&) = delete;

  // With overlap: call right before the backward() that completes the step's gradients (the last
  // micro-batch when they are accumulated); `accumulated`: the gradients hold earlier micro-batches'
  // contributions, which are added (otherwise they are zero or undefined, and skipped). Without
  // overlap it does nothing.
  void prepare_backward(bool accumulated);

  // Replaces every trainable parameter's gradient by its average over the ranks. A parameter
  // without a gradient on this rank contributes zeros (and receives the average). With
  // Exchange::kReduceScatter the gradients stay as they are and each bucket's chunk() receives the
  // average of this rank's chunk of the bucket; a world of one exchanges then too (a copy).
  void average_gradients();

  // Exchange::kReduceScatter without an exchange: each bucket's chunk() receives this rank's chunk
  // of the gradients as they are (already averaged elsewhere: --virtual-ranks with
  // --shard-optimizer).
  void chunks_from_gradients();

  // The buckets, for --shard-optimizer: each one's parameters (in bucket order), its flat buffer
  // (the gradients until the exchange has completed, then free; padded with zeros to a multiple of
  // the world size under kReduceScatter) and this rank's averaged chunk.
  const std::vector<torch::Tensor>& bucket_parameters(std::size_t bucket) const;
  torch::Tensor buffer(std::size_t bucket) const;
  torch::Tensor chunk(std::size_t bucket) const;

  // When each bucket's allreduce of the last average_gradients() started and was first seen
  // complete (--timeline), in bucket order; empty unless recording was asked for. Costs two clock
  // reads per bucket and step when on, nothing when off.
  struct BucketTiming {
    std::chrono::system_clock::time_point launched, completed;
  };
  void record_timings(bool on);
  const std::vector<BucketTiming>& timings() const;

  bool overlapping() const;
  std::size_t bucket_count() const;
  std::size_t parameter_count() const;  // trainable parameters covered
  std::size_t bytes() const;            // gradient bytes exchanged per step

 private:
  struct State;  // shared with the autograd hooks
  std::shared_ptr<State> state_;
};

}  // namespace trainer::comm
