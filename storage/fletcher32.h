#pragma once
// HDF5's Fletcher-32 checksum (H5_checksum_fletcher32: big-endian 16-bit words, sums folded every
// 360 words), bit for bit, computed a block of 360 words at a time so that the compiler can
// vectorize it. Used to write checksummed chunks directly (H5Dwrite_chunk), which HDF5 verifies
// when it reads them. Torch-free and HDF5-free.

#include <cstddef>
#include <cstdint>

namespace trainer::storage {

std::uint32_t fletcher32(const void* data, std::size_t bytes);

}  // namespace trainer::storage
