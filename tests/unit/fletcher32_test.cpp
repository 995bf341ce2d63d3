#include "storage/fletcher32.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace trainer::storage {
namespace {

// HDF5 1.10's H5_checksum_fletcher32, word by word, as the reference.
std::uint32_t hdf5_reference(const std::uint8_t* data, std::size_t length) {
  std::size_t len = length / 2;
  std::uint32_t sum1 = 0, sum2 = 0;
  while (len) {
    std::size_t tlen = len > 360 ? 360 : len;
    len -= tlen;
    do {
      sum1 += static_cast<std::uint32_t>((static_cast<std::uint16_t>(data[0]) << 8) | data[1]);
      data += 2;
      sum2 += sum1;
    } while (--tlen);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (length % 2) {
    sum1 += static_cast<std::uint32_t>(static_cast<std::uint16_t>(*data) << 8);
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return (sum2 << 16) | sum1;
}

TEST(Fletcher32, MatchesHdf5OnRandomAndExtremeData) {
  std::mt19937 random(7);
  for (std::size_t length : {0u, 1u, 2u, 3u, 31u, 719u, 720u, 721u, 730u, 737u, 1000u, 65537u, 1u << 20}) {
    std::vector<std::uint8_t> data(length);
    for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
    EXPECT_EQ(fletcher32(data.data(), length), hdf5_reference(data.data(), length)) << "random, " << length;
    std::fill(data.begin(), data.end(), 0xff);  // the largest sums
    EXPECT_EQ(fletcher32(data.data(), length), hdf5_reference(data.data(), length)) << "0xff, " << length;
  }
}

}  // namespace
}  // namespace trainer::storage
