#include "comm/parameter_buckets.h"

namespace trainer::comm {

std::vector<ParameterBucket> plan_parameter_buckets(const std::vector<torch::Tensor>& parameters, const BucketLimits& limits,
                                                    bool as_float32) {
  std::vector<torch::Tensor> trainable;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it)
    if (it->requires_grad()) trainable.push_back(*it);
  std::vector<TensorSlot> slots;
  for (const auto& p : trainable)
    slots.push_back({static_cast<std::size_t>(p.numel()) * (as_float32 ? 4 : p.element_size()),
                     as_float32 ? 0 : static_cast<int>(p.scalar_type())});
  std::vector<ParameterBucket> buckets;
  for (const auto& positions : plan_buckets(slots, limits)) {
    ParameterBucket bucket;
    for (std::size_t position : positions) {
      bucket.parameters.push_back(trainable[position]);
      bucket.offsets.push_back(bucket.elements);
      bucket.elements += trainable[position].numel();
    }
    buckets.push_back(std::move(bucket));
  }
  return buckets;
}

}  // namespace trainer::comm
