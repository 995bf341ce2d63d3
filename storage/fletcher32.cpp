#include "storage/fletcher32.h"

#include <algorithm>

namespace trainer::storage {
namespace {

std::uint32_t fold(std::uint32_t sum) { return (sum & 0xffff) + (sum >> 16); }

}  // namespace

std::uint32_t fletcher32(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::size_t words = bytes / 2;
  std::uint32_t sum1 = 0, sum2 = 0;
  while (words > 0) {
    // Over a block of n words w_0..w_{n-1}: sum1 grows by the words' sum, and sum2 by n * sum1
    // plus each word weighted by how many running sums it enters (n - i). Exact in uint32
    // arithmetic modulo 2^32, as HDF5's word-by-word loop is, so the folds see equal values.
    const std::size_t n = std::min<std::size_t>(words, 360);
    std::uint32_t block = 0, weighted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t word = (static_cast<std::uint32_t>(p[2 * i]) << 8) | p[2 * i + 1];
      block += word;
      weighted += static_cast<std::uint32_t>(n - i) * word;
    }
    sum2 += static_cast<std::uint32_t>(n) * sum1 + weighted;
    sum1 += block;
    p += 2 * n;
    words -= n;
    sum1 = fold(sum1);
    sum2 = fold(sum2);
  }
  if (bytes % 2) {
    sum1 += static_cast<std::uint32_t>(*p) << 8;
    sum2 += sum1;
    sum1 = fold(sum1);
    sum2 = fold(sum2);
  }
  sum1 = fold(sum1);
  sum2 = fold(sum2);
  return (sum2 << 16) | sum1;
}

}  // namespace trainer::storage
