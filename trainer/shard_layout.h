#pragma once
// Which slice of the trainable parameters each rank steps under --shard-optimizer (ZeRO-1). The
// parameters lie end to end in buckets (the gradient bucketer's, comm/gradient_bucketer.h); each
// bucket is padded to a multiple of the world size and cut into equal chunks, one per rank, so
// that a bucket's reduce-scatter gives each rank exactly its chunk and an allgather of the chunks
// rebuilds the bucket. A rank's share is its chunk of every bucket, in bucket order; it covers
// pieces of parameters, and a parameter may be split between ranks. Pure and deterministic: every
// rank computes the same layout. Torch-free.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trainer {

// The part of one parameter that one rank holds: elements [offset, offset + length) of the
// parameter flattened, at `local_offset` in the rank's share.
struct ShardPiece {
  std::size_t parameter = 0;  // index in layout order (bucket by bucket)
  std::int64_t offset = 0;
  std::int64_t length = 0;
  std::int64_t local_offset = 0;
};

class ShardLayout {
 public:
  // `buckets`: each bucket's parameters' element counts, in order. Throws ConfigError when a rank
  // would hold nothing (fewer elements than ranks).
  ShardLayout(const std::vector<std::vector<std::int64_t>>& buckets, int ranks);
  // One bucket.
  ShardLayout(const std::vector<std::int64_t>& numels, int ranks)
      : ShardLayout(std::vector<std::vector<std::int64_t>>{numels}, ranks) {}

  std::int64_t chunk() const { return share_; }                // elements of one rank's share
  std::int64_t padded() const { return share_ * ranks_; }      // all buckets with their padding
  std::size_t buckets() const { return bucket_chunks_.size(); }
  std::int64_t bucket_chunk(std::size_t bucket) const { return bucket_chunks_[bucket]; }
  std::int64_t bucket_local_offset(std::size_t bucket) const { return bucket_local_[bucket]; }  // in a share
  std::size_t parameters() const { return numels_.size(); }
  std::int64_t numel(std::size_t parameter) const { return numels_[parameter]; }
  std::size_t bucket_of(std::size_t parameter) const { return bucket_of_[parameter]; }
  std::int64_t offset_in_bucket(std::size_t parameter) const { return offsets_[parameter]; }
  // The rank holding a parameter's first element (it speaks for the parameter's scalar state).
  int first_holder(std::size_t parameter) const;
  // Rank `rank`'s pieces, in bucket order.
  std::vector<ShardPiece> pieces(int rank) const;

 private:
  std::vector<std::int64_t> numels_, offsets_;
  std::vector<std::size_t> bucket_of_;
  std::vector<std::int64_t> bucket_chunks_, bucket_local_;
  std::int64_t share_ = 0;
  int ranks_ = 1;
};

}  // namespace trainer
