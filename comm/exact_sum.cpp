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

namespace {

// 2^exponent as a double factor, when it is one (a multiplication by it is then exact, like ldexp
// and about ten times faster); 0 where ldexp must do it.
double power_of_two(int exponent) { return exponent > -1000 && exponent < 1000 ? std::ldexp(1.0, exponent) : 0; }

// Half away from zero, in plain arithmetic (llround is a library call per element). The same
// value always gives the same integer, which is all that the sums need; the double addition of
// 0.5 can round up a value just below a half (x.4999...), so the error is below one quantum.
std::int64_t round_half_away(double x) { return static_cast<std::int64_t>(x + std::copysign(0.5, x)); }

}  // namespace

void accumulate_fixed_point(const float* values, std::size_t n, int exponent, std::int64_t* sums) {
  const double scale = power_of_two(exponent);
  if (scale != 0)
    for (std::size_t i = 0; i < n; ++i) sums[i] += round_half_away(static_cast<double>(values[i]) * scale);
  else
    for (std::size_t i = 0; i < n; ++i) sums[i] += round_half_away(std::ldexp(static_cast<double>(values[i]), exponent));
}

void fixed_point_to_float(const std::int64_t* sums, std::size_t n, int exponent, double divisor, float* out) {
  const double scale = power_of_two(-exponent);
  for (std::size_t i = 0; i < n; ++i) {
    const double value = static_cast<double>(sums[i]);
    out[i] = static_cast<float>((scale != 0 ? value * scale : std::ldexp(value, -exponent)) / divisor);
  }
}

}  // namespace trainer::comm
