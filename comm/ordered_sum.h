#pragma once
// The element-wise average of `rows` float vectors, added in double precision in row order and
// rounded to float once: --virtual-ranks' gradient average on CPUs (comm/virtual_reducer.h), whose
// rows are the virtual ranks, so the result depends on their values and order alone, never on how
// they were grouped on processes. Torch-free.
//
// What the result keeps: the double sum's error is at most (rows - 1) * 2^-53 * sum |value|, below
// the final float rounding (2^-24 of the result) unless the rows cancel to less than about 2^-29
// of their magnitudes; a plain float sum rounds rows - 1 times, in float.

#include <cstddef>

namespace trainer::comm {

// out[i] = float((values[0][i] + values[1][i] + ... + values[rows - 1][i]) / divisor), the sum in
// double from row 0 on; row r starts at values + r * n. Returns false when an average is not
// finite (a value was NaN or infinite, or the sum overflowed float).
bool average_in_order(const float* values, std::size_t rows, std::size_t n, double divisor, float* out);

}  // namespace trainer::comm
