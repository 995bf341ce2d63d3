#pragma once
// Reader for the IDX files of MNIST and Fashion-MNIST, gzipped or not. Torch-free so that it is
// cheap to test: the caller turns the bytes into tensors.

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::data {

struct IdxArray {
  std::vector<std::int64_t> dims;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<std::uint8_t> data;  // row-major, dims multiplied together bytes
};

// Reads an unsigned-byte IDX file of `expected_rank` dimensions. Throws DataError naming the file
// when it is missing, not IDX (magic number), of another element type or rank, truncated, or has
// bytes past the end its header announces.
IdxArray read_idx(const std::string& path, int expected_rank);

}  // namespace trainer::data
