// The layout of --shard-optimizer: every element of every parameter held by exactly one rank,
// in equal chunks of each bucket, pieces in bucket order.
#include "common/error.h"
#include "trainer/shard_layout.h"

#include <gtest/gtest.h>

#include <vector>

namespace trainer {
namespace {

TEST(ShardLayout, EveryElementHeldOnceInEqualChunksOfEachBucket) {
  const std::vector<std::vector<std::int64_t>> buckets{{150, 6, 2400}, {16}, {48000, 120, 10, 1}};
  for (int ranks : {1, 2, 3, 4, 7, 8}) {
    const ShardLayout layout(buckets, ranks);
    ASSERT_EQ(layout.buckets(), 3u);
    std::int64_t share = 0;
    for (std::size_t b = 0; b < layout.buckets(); ++b) {
      EXPECT_EQ(layout.bucket_local_offset(b), share);
      share += layout.bucket_chunk(b);
    }
    EXPECT_EQ(layout.chunk(), share);
    std::vector<std::vector<int>> holders;  // per parameter, per element
    for (std::size_t p = 0; p < layout.parameters(); ++p) holders.emplace_back(layout.numel(p), 0);
    for (int r = 0; r < ranks; ++r) {
      std::int64_t last_local = -1;
      for (const ShardPiece& piece : layout.pieces(r)) {
        const std::size_t b = layout.bucket_of(piece.parameter);
        // Where the piece lies in the rank's share follows from where it lies in its bucket.
        EXPECT_EQ(piece.local_offset, layout.bucket_local_offset(b) + layout.offset_in_bucket(piece.parameter) +
                                          piece.offset - r * layout.bucket_chunk(b));
        EXPECT_GT(piece.local_offset, last_local) << "bucket order";
        last_local = piece.local_offset;
        EXPECT_LE(piece.local_offset + piece.length, layout.bucket_local_offset(b) + layout.bucket_chunk(b));
        for (std::int64_t i = 0; i < piece.length; ++i) ++holders[piece.parameter][piece.offset + i];
      }
    }
    for (const auto& parameter : holders)
      for (int count : parameter) ASSERT_EQ(count, 1) << ranks << " ranks";
    for (std::size_t p = 0; p < layout.parameters(); ++p) {
      bool holds_first = false;
      for (const ShardPiece& piece : layout.pieces(layout.first_holder(p)))
        holds_first |= piece.parameter == p && piece.offset == 0;
      EXPECT_TRUE(holds_first) << "parameter " << p;
    }
  }
}

TEST(ShardLayout, SplitsAParameterBetweenRanks) {
  const ShardLayout layout({10, 6}, 2);  // one bucket, chunks of 8: [0,8) of p0 | [8,10) of p0 and p1
  ASSERT_EQ(layout.pieces(1).size(), 2u);
  EXPECT_EQ(layout.pieces(1)[0].offset, 8);
  EXPECT_EQ(layout.pieces(1)[0].length, 2);
  EXPECT_EQ(layout.pieces(1)[1].local_offset, 2);
  EXPECT_EQ(layout.first_holder(1), 1);
}

TEST(ShardLayout, RefusesARankThatWouldHoldNothing) {
  EXPECT_THROW(ShardLayout(std::vector<std::int64_t>{2, 1}, 4), ConfigError);
  // 9 elements for 4 ranks, but three buckets of 3: chunks of 1, and rank 3 gets only padding.
  EXPECT_THROW(ShardLayout(std::vector<std::vector<std::int64_t>>{{3}, {2, 1}, {3}}, 4), ConfigError);
  EXPECT_NO_THROW(ShardLayout(std::vector<std::vector<std::int64_t>>{{3}, {4}, {3}}, 4));
}

}  // namespace
}  // namespace trainer
