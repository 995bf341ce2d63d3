#include "comm/exact_sum.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace trainer::comm {

double max_magnitude(const float* values, std::size_t n) {
  double max = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double magnitude = std::fabs(static_cast<double>(values[i]));
    if (std::isnan(magnitude)) return magnitude;
    if (magnitude > max) max = magnitude;
  }
  return max;
}

int fixed_point_exponent(double max, std::int64_t count) {
  if (!std::isfinite(max) || max < 0) throw std::domain_error("fixed point: the largest magnitude is " + std::to_string(max));
  if (max == 0 || count <= 0) return 0;
  // count * max < 2^b with b = ceil(log2(count * max)) (frexp: x = m * 2^b, 0.5 <= m < 1); then
  // count * max * 2^(62 - b) < 2^62.
  int b = 0;
  std::frexp(static_cast<double>(count) * max, &b);
  return 62 - b;
}

void accumulate_fixed_point(const float* values, std::size_t n, int exponent, std::int64_t* sums) {
  for (std::size_t i = 0; i < n; ++i)  // ldexp is exact (a power of two); llround rounds once
    sums[i] += std::llround(std::ldexp(static_cast<double>(values[i]), exponent));
}

void fixed_point_to_float(const std::int64_t* sums, std::size_t n, int exponent, double divisor, float* out) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(std::ldexp(static_cast<double>(sums[i]), -exponent) / divisor);
}

}  // namespace trainer::comm
