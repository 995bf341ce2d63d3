#pragma once
// The distributed sampler: every epoch a seeded permutation of the data set, cut into disjoint,
// equally long slices, one per rank. As PyTorch's DistributedSampler, the permutation is padded by
// wrapping around to a multiple of the world size, so N ranks with batch B take exactly the
// optimizer steps of one rank with batch N*B. Torch-free and deterministic across platforms.

#include <cstdint>
#include <vector>

namespace trainer::data {

class DistributedSampler {
 public:
  DistributedSampler(std::int64_t dataset_size, int rank, int world_size, std::uint64_t seed,
                     bool shuffle = true);

  // Sample indices of this rank for the given epoch (0-based), in the order it visits them.
  // `first_position` skips the permutation positions that all ranks together consumed before a
  // mid-epoch checkpoint; the rest is padded to a multiple of the world size again, so a resume
  // with the same world size continues exactly, and one with another world size still gives every
  // rank an equal share.
  std::vector<std::int64_t> indices(std::int64_t epoch, std::int64_t first_position = 0) const;

  // Samples per rank in a whole epoch.
  std::int64_t per_rank() const { return per_rank_; }

 private:
  std::int64_t dataset_size_;
  int rank_;
  int world_size_;
  std::uint64_t seed_;
  bool shuffle_;
  std::int64_t per_rank_;
};

// The permutation shared by all ranks in one epoch: Fisher-Yates driven by SplitMix64, so that
// every platform and standard library produces the same order from the same seed.
std::vector<std::int64_t> seeded_permutation(std::int64_t size, std::uint64_t seed);

}  // namespace trainer::data
