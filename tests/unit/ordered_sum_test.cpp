// --virtual-ranks' gradient average on CPUs: the rows added in double in row order, one rounding
// to float, and non-finite averages reported.

#include "comm/ordered_sum.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using trainer::comm::average_in_order;

// Gradients of very different magnitudes, as a layer's are: each element's scale varies over 2^40.
std::vector<float> rows_of(std::size_t rows, std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> scale(-30, 10);
  std::vector<float> values(rows * n);
  for (auto& value : values) value = std::ldexp(normal(random), scale(random));
  return values;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(OrderedSum, IsTheDoubleSumInRowOrderRoundedOnce) {
  const std::size_t n = 3000;  // not a multiple of the blocks
  for (std::size_t rows = 1; rows <= 12; ++rows) {
    const std::vector<float> values = rows_of(rows, n, static_cast<unsigned>(rows));
    std::vector<float> out(n), expected(n);
    ASSERT_TRUE(average_in_order(values.data(), rows, n, static_cast<double>(rows), out.data()));
    for (std::size_t i = 0; i < n; ++i) {
      double sum = values[i];
      for (std::size_t r = 1; r < rows; ++r) sum += values[r * n + i];
      expected[i] = static_cast<float>(sum / static_cast<double>(rows));
    }
    EXPECT_TRUE(same_bits(out, expected)) << rows << " rows";
  }
}

TEST(OrderedSum, KeepsWhatAFloatSumLoses) {
  // 1e8 + 1 is 1e8 in float; in double the 1 survives the cancellation.
  const std::vector<float> values{1e8f, 1.0f, -1e8f};
  float out = 0;
  ASSERT_TRUE(average_in_order(values.data(), 3, 1, 3.0, &out));
  EXPECT_EQ(out, static_cast<float>(1.0 / 3.0));
  EXPECT_EQ((1e8f + 1.0f) - 1e8f, 0.0f);  // the float sum's answer, for contrast
}

TEST(OrderedSum, DependsOnTheOrderOfTheRowsOnlyThroughTheirValues) {
  // The same rows give the same bits on every call; other rows (reordered) may not: the order is
  // part of the definition, which is why the virtual ranks fix it.
  const std::size_t n = 2048, rows = 12;
  const std::vector<float> values = rows_of(rows, n, 7);
  std::vector<float> first(n), second(n);
  average_in_order(values.data(), rows, n, 12.0, first.data());
  average_in_order(values.data(), rows, n, 12.0, second.data());
  EXPECT_TRUE(same_bits(first, second));
}

TEST(OrderedSum, ReportsAveragesThatAreNotFinite) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> out(2);
  const std::vector<float> with_nan{1, 2, nan, 4};
  EXPECT_FALSE(average_in_order(with_nan.data(), 2, 2, 2.0, out.data()));
  const std::vector<float> with_inf{1, -inf, 3, 4};
  EXPECT_FALSE(average_in_order(with_inf.data(), 2, 2, 2.0, out.data()));
  const std::vector<float> large{3e38f, 3e38f};
  EXPECT_FALSE(average_in_order(large.data(), 2, 1, 1.0, out.data()));  // 6e38 is no float
  EXPECT_TRUE(average_in_order(large.data(), 2, 1, 2.0, out.data()));   // in double it was
  EXPECT_EQ(out[0], 3e38f);
}

}  // namespace
