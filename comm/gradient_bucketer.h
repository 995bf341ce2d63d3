#pragma once
// Averages the gradients of a model across ranks with few large allreduces: gradients are copied
// into preallocated flat buckets (plan_buckets, in reverse registration order like DDP's reducer,
// identical on every rank), each bucket is reduced, divided by the world size once the reduction
// has completed, and copied back. Parameters that do not require gradients (frozen) are left out.

#include "comm/bucket_plan.h"
#include "comm/communicator.h"

#include <torch/types.h>

#include <vector>

namespace trainer::comm {

class GradientBucketer {
 public:
  // `parameters` in registration order (Module::parameters()).
  explicit GradientBucketer(const std::vector<torch::Tensor>& parameters, const BucketLimits& limits = {});

  // Replaces every trainable parameter's gradient by its average over the ranks of `comm`. A
  // parameter without a gradient on this rank contributes zeros (and receives the average).
  void average_gradients(Communicator& comm);

  std::size_t bucket_count() const { return buckets_.size(); }
  std::size_t parameter_count() const;  // trainable parameters covered
  std::size_t bytes() const;            // gradient bytes exchanged per step

 private:
  struct Bucket {
    std::vector<torch::Tensor> parameters;
    std::vector<std::int64_t> offsets;  // element offset of each parameter in `buffer`
    torch::Tensor buffer;
  };
  std::vector<Bucket> buckets_;
};

}  // namespace trainer::comm
