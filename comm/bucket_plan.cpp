#include "comm/bucket_plan.h"

namespace trainer::comm {

std::vector<std::vector<std::size_t>> plan_buckets(const std::vector<TensorSlot>& tensors,
                                                   const BucketLimits& limits) {
  std::vector<std::vector<std::size_t>> buckets;
  std::size_t filled = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorSlot& slot = tensors[i];
    bool start_new = buckets.empty();
    if (!start_new) {
      const std::size_t cap = buckets.size() == 1 ? limits.first_bucket_bytes : limits.bucket_bytes;
      start_new = slot.dtype != tensors[buckets.back().front()].dtype || filled + slot.bytes > cap;
    }
    if (start_new) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(i);
    filled += slot.bytes;
  }
  return buckets;
}

}  // namespace trainer::comm
