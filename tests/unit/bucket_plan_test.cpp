#include "comm/bucket_plan.h"

#include <gtest/gtest.h>

namespace {

using trainer::comm::BucketLimits;
using trainer::comm::plan_buckets;
using trainer::comm::TensorSlot;
using Plan = std::vector<std::vector<std::size_t>>;

TEST(BucketPlan, SmallFirstBucketThenLargeCap) {
  BucketLimits limits{/*first_bucket_bytes=*/100, /*bucket_bytes=*/250};
  std::vector<TensorSlot> slots(8, TensorSlot{60, 6});
  // First bucket: 60 (120 would pass 100). Then 4 x 60 = 240 <= 250, then the remaining 3.
  EXPECT_EQ(plan_buckets(slots, limits), (Plan{{0}, {1, 2, 3, 4}, {5, 6, 7}}));
}

TEST(BucketPlan, OversizedTensorGetsItsOwnBucket) {
  BucketLimits limits{100, 100};
  std::vector<TensorSlot> slots{{10, 6}, {500, 6}, {10, 6}, {10, 6}};
  EXPECT_EQ(plan_buckets(slots, limits), (Plan{{0}, {1}, {2, 3}}));
}

TEST(BucketPlan, DtypesNeverShareABucket) {
  BucketLimits limits{1000, 1000};
  std::vector<TensorSlot> slots{{10, 6}, {10, 6}, {10, 7}, {10, 6}};
  EXPECT_EQ(plan_buckets(slots, limits), (Plan{{0, 1}, {2}, {3}}));
}

TEST(BucketPlan, EveryTensorExactlyOnceInOrderWithDefaults) {
  std::vector<TensorSlot> slots;
  for (int i = 0; i < 200; ++i) slots.push_back({static_cast<std::size_t>(1 + i * 4096), 6});
  Plan plan = plan_buckets(slots);
  std::size_t next = 0;
  for (const auto& bucket : plan)
    for (std::size_t index : bucket) EXPECT_EQ(index, next++);
  EXPECT_EQ(next, slots.size());
  EXPECT_TRUE(plan_buckets({}).empty());
}

}  // namespace
