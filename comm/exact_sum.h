#pragma once
// Sums of float vectors whose result does not depend on how the addends are grouped or ordered:
// the ground of --virtual-ranks, where a step's gradient must be the same bits whether 12 virtual
// ranks run on 1, 2, 3, 4, 6 or 12 processes. Floating-point addition is not associative; integer
// addition is. So each addend is converted to fixed point at a scale all of them share (a power of
// two, chosen from the largest magnitude among all addends, which an exact max-reduction agrees
// on), the integers are summed in any grouping (here, then by MPI_SUM over int64), and the total
// is converted back once.
//
// What the result keeps: with 2^e the scale, every addend is rounded to a multiple of the quantum
// 2^-e, at most 2 * count * max * 2^-62. An addend of magnitude at least count * max * 2^-38 is
// converted exactly (all 24 bits of its float); a smaller one is off by less than one quantum,
// about count * max * 4e-19. The integer sum is exact; converting it back rounds in double and once
// more to float, where a plain float sum of `count` addends rounds count - 1 times. Torch-free.

#include <cstddef>
#include <cstdint>

namespace trainer::comm {

// The largest |value| among `n` values; NaN when any value is NaN, infinity when any is infinite.
double max_magnitude(const float* values, std::size_t n);

// The exponent e of the shared scale 2^e for a sum of `count` addends of magnitude at most `max`:
// the largest e with count * max * 2^e < 2^62, so that no partial sum overflows an int64.
// `max` must be finite (throws std::domain_error otherwise); 0 for max == 0.
int fixed_point_exponent(double max, std::int64_t count);

// sums[i] += values[i] * 2^exponent rounded to an integer (half away from zero, but for a value
// a hair below a half, which may round up: below one quantum in every case, and always the same
// integer for the same value).
void accumulate_fixed_point(const float* values, std::size_t n, int exponent, std::int64_t* sums);

// out[i] = sums[i] * 2^-exponent / divisor, rounded once to float (the division and the scaling
// in double: exact for |sums| < 2^53, one more rounding of the quotient otherwise).
void fixed_point_to_float(const std::int64_t* sums, std::size_t n, int exponent, double divisor, float* out);

}  // namespace trainer::comm
