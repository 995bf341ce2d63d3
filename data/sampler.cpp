#include "data/sampler.h"

#include "common/error.h"

#include <numeric>
#include <string>
#include <utility>

namespace trainer::data {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, bound) without modulo bias (Lemire's rejection method, 64-bit variant).
std::uint64_t uniform_below(std::uint64_t& state, std::uint64_t bound) {
  std::uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    std::uint64_t r = splitmix64(state);
    if (r >= threshold) return r % bound;
  }
}

}  // namespace

std::vector<std::int64_t> seeded_permutation(std::int64_t size, std::uint64_t seed) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  std::uint64_t state = seed;
  for (std::int64_t i = size - 1; i > 0; --i) {
    auto j = static_cast<std::int64_t>(uniform_below(state, static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

DistributedSampler::DistributedSampler(std::int64_t dataset_size, int rank, int world_size,
                                       std::uint64_t seed, bool shuffle)
    : dataset_size_(dataset_size), rank_(rank), world_size_(world_size), seed_(seed),
      shuffle_(shuffle) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw Error("sampler: rank " + std::to_string(rank) + " is not within a world of " +
                std::to_string(world_size));
  if (dataset_size < 1) throw DataError("sampler: the data set is empty");
  per_rank_ = (dataset_size + world_size - 1) / world_size;
}

std::vector<std::int64_t> DistributedSampler::indices(std::int64_t epoch, std::int64_t first_position) const {
  if (first_position < 0 || first_position >= dataset_size_)
    throw Error("sampler: position " + std::to_string(first_position) + " is outside the epoch of " +
                std::to_string(dataset_size_) + " samples");
  std::vector<std::int64_t> order;
  if (shuffle_) {
    // Mix the epoch into the seed so that consecutive epochs are unrelated permutations.
    std::uint64_t state = seed_ ^ (0xD1B54A32D192ED03ull * static_cast<std::uint64_t>(epoch + 1));
    order = seeded_permutation(dataset_size_, splitmix64(state));
  } else {
    order.resize(static_cast<std::size_t>(dataset_size_));
    std::iota(order.begin(), order.end(), 0);
  }
  // Positions [first_position, size), then wrapping to the start until the count divides evenly.
  const std::int64_t remaining = dataset_size_ - first_position;
  const std::int64_t count = (remaining + world_size_ - 1) / world_size_;
  std::vector<std::int64_t> mine;
  mine.reserve(static_cast<std::size_t>(count));
  // Rank r takes positions r, r + N, r + 2N, ... of what is left, like PyTorch.
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t offset = rank_ + k * world_size_;
    const std::int64_t position = offset < remaining ? first_position + offset : offset - remaining;
    mine.push_back(order[static_cast<std::size_t>(position % dataset_size_)]);
  }
  return mine;
}

}  // namespace trainer::data
