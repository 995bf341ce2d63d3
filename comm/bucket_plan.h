#pragma once
// Where each gradient goes when many small gradients are fused into few large allreduces. Pure
// logic, torch-free: the same inputs give the same plan on every rank, which the collectives need.

#include <cstddef>
#include <vector>

namespace trainer::comm {

struct BucketLimits {
  // After c10d's reducer: a small first bucket so that communication starts early, then a cap.
  std::size_t first_bucket_bytes = std::size_t{1} << 20;  // 1 MiB
  std::size_t bucket_bytes = std::size_t{25} << 20;       // 25 MiB
};

struct TensorSlot {
  std::size_t bytes = 0;
  int dtype = 0;  // tensors of different dtypes never share a bucket
};

// Groups tensor positions, in the order given, into buckets. A bucket closes when the next tensor
// would take it past its cap or has another dtype; a tensor larger than the cap gets a bucket of
// its own. Every position appears in exactly one bucket, in order.
std::vector<std::vector<std::size_t>> plan_buckets(const std::vector<TensorSlot>& tensors,
                                                   const BucketLimits& limits = {});

}  // namespace trainer::comm
