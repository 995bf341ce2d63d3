#pragma once
// Which slice of the trainable parameters each rank steps under --shard-optimizer (ZeRO-1): the
// parameters, in the optimizer's order, laid end to end in one flat vector, padded to a multiple of
// the world size and cut into equal chunks, one per rank, so that a reduce-scatter of the flat
// gradients gives each rank exactly its chunk and an allgather of the chunks rebuilds the whole.
// A chunk covers pieces of one or more parameters; a parameter may be split between ranks. Pure
// and deterministic: every rank computes the same layout. Torch-free.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trainer {

// The part of one parameter that one rank holds: elements [offset, offset + length) of the
// parameter flattened, at `local_offset` in the rank's chunk.
struct ShardPiece {
  std::size_t parameter = 0;  // index in the optimizer's order
  std::int64_t offset = 0;
  std::int64_t length = 0;
  std::int64_t local_offset = 0;
};

class ShardLayout {
 public:
  // Throws ConfigError when there are fewer elements than ranks (a rank would hold nothing).
  ShardLayout(const std::vector<std::int64_t>& numels, int ranks);

  std::int64_t chunk() const { return chunk_; }                  // elements per rank
  std::int64_t padded() const { return chunk_ * ranks_; }        // the flat vector's length
  std::int64_t start(std::size_t parameter) const { return starts_[parameter]; }  // in the flat vector
  std::int64_t numel(std::size_t parameter) const { return numels_[parameter]; }
  std::size_t parameters() const { return numels_.size(); }
  // The rank holding a parameter's first element (it speaks for the parameter's scalar state).
  int first_holder(std::size_t parameter) const;
  // Rank `rank`'s pieces, in flat order.
  std::vector<ShardPiece> pieces(int rank) const;

 private:
  std::vector<std::int64_t> numels_, starts_;
  std::int64_t chunk_ = 0;
  int ranks_ = 1;
};

}  // namespace trainer
