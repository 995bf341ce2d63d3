#include "trainer/shard_layout.h"

#include "common/error.h"

#include <algorithm>
#include <string>

namespace trainer {

ShardLayout::ShardLayout(const std::vector<std::int64_t>& numels, int ranks) : numels_(numels), ranks_(ranks) {
  std::int64_t total = 0;
  for (std::int64_t n : numels_) {
    starts_.push_back(total);
    total += n;
  }
  if (ranks < 1 || total < ranks)
    throw ConfigError("--shard-optimizer: " + std::to_string(total) + " trainable parameter elements cannot be shared by " +
                      std::to_string(ranks) + " ranks");
  chunk_ = (total + ranks - 1) / ranks;
}

int ShardLayout::first_holder(std::size_t parameter) const { return static_cast<int>(starts_[parameter] / chunk_); }

std::vector<ShardPiece> ShardLayout::pieces(int rank) const {
  const std::int64_t begin = chunk_ * rank, end = begin + chunk_;
  std::vector<ShardPiece> pieces;
  for (std::size_t p = 0; p < numels_.size(); ++p) {
    const std::int64_t from = std::max(begin, starts_[p]), to = std::min(end, starts_[p] + numels_[p]);
    if (from < to) pieces.push_back({p, from - starts_[p], to - from, from - begin});
  }
  return pieces;
}

}  // namespace trainer
