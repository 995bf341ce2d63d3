#pragma once
// What the two gradient exchanges share (comm/gradient_bucketer.h, comm/virtual_reducer.h): the
// trainable parameters planned into buckets, and the autograd hooks that report each parameter's
// gradient to the exchange by its place in them.

#include "comm/bucket_plan.h"

#include <torch/autograd.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace trainer::comm {

struct ParameterBucket {
  std::vector<torch::Tensor> parameters;
  std::vector<std::int64_t> offsets;  // element offset of each parameter in the bucket
  std::int64_t elements = 0;
};

// The parameters that require gradients, in reverse registration order (like DDP's reducer:
// roughly the order backward produces them), planned into buckets (plan_buckets), identical on
// every rank. `as_float32`: sized as the float32 values an exchange that converts them moves, all
// of one dtype; otherwise by their own element size, one dtype a bucket.
std::vector<ParameterBucket> plan_parameter_buckets(const std::vector<torch::Tensor>& parameters, const BucketLimits& limits,
                                                    bool as_float32);

// A hook on every parameter of `buckets` that calls state->on_gradient(b, i, grad), b and i its
// bucket and position there. The hooks hold the state weakly: a model that outlives the exchange
// keeps harmless hooks.
template <typename State, typename Bucket>
void register_gradient_hooks(const std::shared_ptr<State>& state, const std::vector<Bucket>& buckets) {
  const std::weak_ptr<State> weak = state;
  for (std::size_t b = 0; b < buckets.size(); ++b)
    for (std::size_t i = 0; i < buckets[b].parameters.size(); ++i)
      buckets[b].parameters[i].register_hook([weak, b, i](const torch::Tensor& grad) {
        if (auto locked = weak.lock()) locked->on_gradient(b, i, grad);
      });
}

}  // namespace trainer::comm
