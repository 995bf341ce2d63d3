// The flat layout of --shard-optimizer: every element of every parameter held by exactly one rank,
// in equal chunks, pieces in flat order.
#include "common/error.h"
#include "trainer/shard_layout.h"

#include <gtest/gtest.h>

#include <vector>

namespace trainer {
namespace {

TEST(ShardLayout, EveryElementHeldOnceInEqualChunks) {
  const std::vector<std::int64_t> numels{150, 6, 2400, 16, 48000, 120, 10, 1};
  for (int ranks : {1, 2, 3, 4, 7, 8}) {
    const ShardLayout layout(numels, ranks);
    EXPECT_EQ(layout.padded() % ranks, 0);
    std::vector<int> holders;
    for (std::int64_t n : numels) holders.insert(holders.end(), static_cast<std::size_t>(n), 0);
    std::int64_t last_end = 0;
    for (int r = 0; r < ranks; ++r) {
      std::int64_t local = 0;
      for (const ShardPiece& piece : layout.pieces(r)) {
        EXPECT_EQ(piece.local_offset, local) << "rank " << r;
        EXPECT_GE(layout.start(piece.parameter) + piece.offset, last_end) << "flat order";
        last_end = layout.start(piece.parameter) + piece.offset + piece.length;
        for (std::int64_t i = 0; i < piece.length; ++i)
          ++holders[static_cast<std::size_t>(layout.start(piece.parameter) + piece.offset + i)];
        local += piece.length;
      }
      EXPECT_LE(local, layout.chunk());
    }
    for (int count : holders) ASSERT_EQ(count, 1) << ranks << " ranks";
    for (std::size_t p = 0; p < numels.size(); ++p) {
      const int first = layout.first_holder(p);
      bool holds_first = false;
      for (const ShardPiece& piece : layout.pieces(first)) holds_first |= piece.parameter == p && piece.offset == 0;
      EXPECT_TRUE(holds_first) << "parameter " << p;
    }
  }
}

TEST(ShardLayout, SplitsAParameterBetweenRanks) {
  const ShardLayout layout({10, 6}, 2);  // chunks of 8: [0,8) of p0 | [8,10) of p0 and p1
  ASSERT_EQ(layout.pieces(1).size(), 2u);
  EXPECT_EQ(layout.pieces(1)[0].offset, 8);
  EXPECT_EQ(layout.pieces(1)[0].length, 2);
  EXPECT_EQ(layout.pieces(1)[1].local_offset, 2);
  EXPECT_EQ(layout.first_holder(1), 1);
}

TEST(ShardLayout, RefusesMoreRanksThanElements) {
  EXPECT_THROW(ShardLayout({2, 1}, 4), ConfigError);
}

}  // namespace
}  // namespace trainer
