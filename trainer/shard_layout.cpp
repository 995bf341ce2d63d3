#include "trainer/shard_layout.h"

#include "common/error.h"

#include <algorithm>
#include <string>

namespace trainer {

ShardLayout::ShardLayout(const std::vector<std::vector<std::int64_t>>& buckets, int ranks) : ranks_(ranks) {
  std::int64_t total = 0;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    std::int64_t in_bucket = 0;
    for (std::int64_t n : buckets[b]) {
      numels_.push_back(n);
      offsets_.push_back(in_bucket);
      bucket_of_.push_back(b);
      in_bucket += n;
    }
    total += in_bucket;
    bucket_local_.push_back(share_);
    bucket_chunks_.push_back(ranks < 1 ? 0 : (in_bucket + ranks - 1) / ranks);
    share_ += bucket_chunks_.back();
  }
  // The last rank holds the least (the padding); it must hold something of some bucket.
  bool last_holds = false;
  for (std::size_t b = 0; b < bucket_chunks_.size(); ++b) {
    std::int64_t in_bucket = 0;
    for (std::int64_t n : buckets[b]) in_bucket += n;
    last_holds |= ranks >= 1 && in_bucket > bucket_chunks_[b] * (ranks - 1);
  }
  if (ranks < 1 || total < ranks || !last_holds)
    throw ConfigError("--shard-optimizer: " + std::to_string(total) + " trainable parameter elements in " +
                      std::to_string(buckets.size()) + " bucket(s) cannot be shared by " + std::to_string(ranks) +
                      " ranks (one would hold none)");
}

int ShardLayout::first_holder(std::size_t parameter) const {
  return static_cast<int>(offsets_[parameter] / bucket_chunks_[bucket_of_[parameter]]);
}

std::vector<ShardPiece> ShardLayout::pieces(int rank) const {
  std::vector<ShardPiece> pieces;
  for (std::size_t p = 0; p < numels_.size(); ++p) {
    const std::int64_t chunk = bucket_chunks_[bucket_of_[p]];
    const std::int64_t begin = chunk * rank, end = begin + chunk;
    const std::int64_t from = std::max(begin, offsets_[p]), to = std::min(end, offsets_[p] + numels_[p]);
    if (from < to) pieces.push_back({p, from - offsets_[p], to - from, bucket_local_[bucket_of_[p]] + from - begin});
  }
  return pieces;
}

}  // namespace trainer
