// The fixed-point sums of --virtual-ranks: the same bits in any grouping and order, within the
// documented error of the exact sum, and no overflow at the extremes.

#include "comm/exact_sum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using trainer::comm::accumulate_fixed_point;
using trainer::comm::fixed_point_exponent;
using trainer::comm::fixed_point_to_float;
using trainer::comm::max_magnitude;

constexpr std::size_t kLength = 4096;
constexpr int kAddends = 12;

// Gradients of very different magnitudes, as a layer's are: each element's scale varies over 2^40.
std::vector<std::vector<float>> addends(unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> scale(-30, 10);
  std::vector<int> scales(kLength);
  for (auto& s : scales) s = scale(random);
  std::vector<std::vector<float>> result(kAddends, std::vector<float>(kLength));
  for (auto& addend : result)
    for (std::size_t i = 0; i < kLength; ++i) addend[i] = std::ldexp(normal(random), scales[i]);
  return result;
}

int shared_exponent(const std::vector<std::vector<float>>& all) {
  double max = 0;
  for (const auto& addend : all) max = std::max(max, max_magnitude(addend.data(), addend.size()));
  return fixed_point_exponent(max, static_cast<std::int64_t>(all.size()));
}

// Processes of `group` addends each: each sums its own in the order given, then the partial sums
// are added (as MPI_SUM does, in whatever order).
std::vector<float> grouped_average(const std::vector<std::vector<float>>& all, const std::vector<int>& order, int group) {
  const int exponent = shared_exponent(all);
  std::vector<std::vector<std::int64_t>> partials;
  for (std::size_t first = 0; first < order.size(); first += static_cast<std::size_t>(group)) {
    partials.emplace_back(kLength, 0);
    for (std::size_t k = first; k < first + static_cast<std::size_t>(group); ++k)
      accumulate_fixed_point(all[static_cast<std::size_t>(order[k])].data(), kLength, exponent, partials.back().data());
  }
  std::vector<std::int64_t> total(kLength, 0);
  for (auto it = partials.rbegin(); it != partials.rend(); ++it)
    for (std::size_t i = 0; i < kLength; ++i) total[i] += (*it)[i];
  std::vector<float> out(kLength);
  fixed_point_to_float(total.data(), kLength, exponent, static_cast<double>(all.size()), out.data());
  return out;
}

TEST(ExactSum, TheSameBitsForEveryGroupingAndOrder) {
  const auto all = addends(1);
  std::vector<int> order(kAddends);
  std::iota(order.begin(), order.end(), 0);
  const std::vector<float> reference = grouped_average(all, order, 1);
  std::mt19937 random(2);
  for (int group : {1, 2, 3, 4, 6, 12}) {
    std::shuffle(order.begin(), order.end(), random);
    const std::vector<float> grouped = grouped_average(all, order, group);
    EXPECT_EQ(std::memcmp(grouped.data(), reference.data(), kLength * sizeof(float)), 0) << "groups of " << group;
  }
  // A plain float sum is not: the same addends in another order differ in some element.
  std::vector<float> forward(kLength, 0), backward(kLength, 0);
  for (int k = 0; k < kAddends; ++k)
    for (std::size_t i = 0; i < kLength; ++i) {
      forward[i] += all[static_cast<std::size_t>(k)][i];
      backward[i] += all[static_cast<std::size_t>(kAddends - 1 - k)][i];
    }
  EXPECT_NE(std::memcmp(forward.data(), backward.data(), kLength * sizeof(float)), 0);
}

TEST(ExactSum, WithinTheDocumentedErrorOfTheExactAverage) {
  const auto all = addends(3);
  std::vector<int> order(kAddends);
  std::iota(order.begin(), order.end(), 0);
  const std::vector<float> average = grouped_average(all, order, 4);
  double max = 0;
  for (const auto& addend : all) max = std::max(max, max_magnitude(addend.data(), kLength));
  const double quantum = 2 * kAddends * max * std::ldexp(1.0, -62);
  for (std::size_t i = 0; i < kLength; ++i) {
    long double exact = 0;
    for (const auto& addend : all) exact += addend[i];
    exact /= kAddends;
    // Below one quantum per addend, then the roundings to double and to float.
    const long double bound = kAddends * quantum / kAddends + std::fabs(exact) * std::ldexp(1.0L, -24) * 1.01L;
    ASSERT_LE(std::fabs(static_cast<long double>(average[i]) - exact), bound) << "element " << i;
  }
}

TEST(ExactSum, NoOverflowAtTheLargestMagnitudesAndNothingFromZeros) {
  const float big = std::numeric_limits<float>::max();
  std::vector<float> values{big, -big, big, big / 3};
  const int exponent = fixed_point_exponent(max_magnitude(values.data(), values.size()), 3);
  std::vector<std::int64_t> sums(values.size(), 0);
  for (int k = 0; k < 3; ++k) accumulate_fixed_point(values.data(), values.size(), exponent, sums.data());
  std::vector<float> out(values.size());
  fixed_point_to_float(sums.data(), out.size(), exponent, 3, out.data());
  EXPECT_EQ(out, values);  // the average of three equal addends is the addend
  EXPECT_EQ(fixed_point_exponent(0, 12), 0);
  std::vector<float> denormal{std::numeric_limits<float>::denorm_min(), 0.0f};
  const int tiny = fixed_point_exponent(max_magnitude(denormal.data(), 2), 2);
  std::vector<std::int64_t> small(2, 0);
  accumulate_fixed_point(denormal.data(), 2, tiny, small.data());
  accumulate_fixed_point(denormal.data(), 2, tiny, small.data());
  fixed_point_to_float(small.data(), 2, tiny, 2, out.data());
  EXPECT_EQ(out[0], denormal[0]);
  EXPECT_EQ(out[1], 0.0f);
}

TEST(ExactSum, ANonFiniteMagnitudeIsRefused) {
  std::vector<float> values{1.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(max_magnitude(values.data(), values.size())));
  EXPECT_THROW(fixed_point_exponent(max_magnitude(values.data(), values.size()), 2), std::domain_error);
  EXPECT_THROW(fixed_point_exponent(std::numeric_limits<double>::infinity(), 2), std::domain_error);
}

}  // namespace
