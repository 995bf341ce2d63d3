#include "comm/ordered_sum.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace trainer::comm {

bool average_in_order(const float* values, std::size_t rows, std::size_t n, double divisor, float* out) {
  // Blocks that stay in L1, rows added into them one after another: the loops vectorize, and each
  // element's additions still happen in row order.
  constexpr std::size_t kBlock = 1024;
  double sums[kBlock];
  // Any average with float's all-ones exponent (infinite or NaN): an integer OR, which vectorizes
  // where a branch or a floating-point reduction would not.
  std::uint32_t not_finite = 0;
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t length = std::min(kBlock, n - begin);
    for (std::size_t i = 0; i < length; ++i) sums[i] = values[begin + i];
    for (std::size_t r = 1; r < rows; ++r) {
      const float* row = values + r * n + begin;
      for (std::size_t i = 0; i < length; ++i) sums[i] += row[i];
    }
    for (std::size_t i = 0; i < length; ++i) {
      const float average = static_cast<float>(sums[i] / divisor);
      out[begin + i] = average;
      std::uint32_t bits;
      std::memcpy(&bits, &average, sizeof bits);
      not_finite |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
  }
  return not_finite == 0;
}

}  // namespace trainer::comm
