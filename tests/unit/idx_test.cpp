#include "data/idx.h"

#include "common/error.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<unsigned char>;

Bytes idx_bytes(std::vector<int> dims, unsigned char type = 0x08) {
  Bytes out = {0, 0, type, static_cast<unsigned char>(dims.size())};
  std::size_t count = 1;
  for (int d : dims) {
    out.push_back(static_cast<unsigned char>(d >> 24));
    out.push_back(static_cast<unsigned char>(d >> 16));
    out.push_back(static_cast<unsigned char>(d >> 8));
    out.push_back(static_cast<unsigned char>(d));
    count *= static_cast<std::size_t>(d);
  }
  for (std::size_t i = 0; i < count; ++i) out.push_back(static_cast<unsigned char>(i % 251));
  return out;
}

class IdxTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) {
    return ::testing::TempDir() + "/idx_test_" + name;
  }
  std::string write_raw(const std::string& name, const Bytes& bytes) {
    std::string p = path(name);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                             static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  std::string write_gz(const std::string& name, const Bytes& bytes) {
    std::string p = path(name);
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return p;
  }
  std::string error_of(const std::string& file, int rank) {
    try {
      trainer::data::read_idx(file, rank);
    } catch (const trainer::DataError& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST_F(IdxTest, ReadsGzippedAndPlainFilesAlike) {
  Bytes bytes = idx_bytes({3, 4, 5});
  for (const std::string& file : {write_raw("plain", bytes), write_gz("zipped.gz", bytes)}) {
    trainer::data::IdxArray array = trainer::data::read_idx(file, 3);
    EXPECT_EQ(array.dims, (std::vector<std::int64_t>{3, 4, 5}));
    ASSERT_EQ(array.data.size(), 60u);
    EXPECT_EQ(array.data[59], 59);
  }
}

TEST_F(IdxTest, MissingFileIsADataError) {
  EXPECT_NE(error_of(path("absent"), 1).find("cannot open"), std::string::npos);
}

TEST_F(IdxTest, BadMagicIsReported) {
  Bytes bytes = idx_bytes({4});
  bytes[0] = 0x1f;
  EXPECT_NE(error_of(write_raw("magic", bytes), 1).find("bad magic"), std::string::npos);
}

TEST_F(IdxTest, WrongElementTypeIsReported) {
  EXPECT_NE(error_of(write_raw("type", idx_bytes({4}, 0x0D)), 1).find("not unsigned byte"),
            std::string::npos);
}

TEST_F(IdxTest, WrongRankIsReported) {
  EXPECT_NE(error_of(write_raw("rank", idx_bytes({2, 2})), 1).find("2 dimensions, expected 1"),
            std::string::npos);
}

TEST_F(IdxTest, TruncatedDataIsReportedWithSizes) {
  Bytes bytes = idx_bytes({10, 10});
  bytes.resize(bytes.size() - 7);
  std::string message = error_of(write_gz("short.gz", bytes), 2);
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("100 bytes"), std::string::npos) << message;
}

TEST_F(IdxTest, TruncatedHeaderIsReported) {
  Bytes bytes = idx_bytes({10, 10});
  bytes.resize(6);
  EXPECT_NE(error_of(write_raw("header", bytes), 2).find("header"), std::string::npos);
}

TEST_F(IdxTest, TrailingBytesAreReported) {
  Bytes bytes = idx_bytes({4});
  bytes.push_back(1);
  EXPECT_NE(error_of(write_raw("long", bytes), 1).find("past the end"), std::string::npos);
}

TEST_F(IdxTest, CorruptGzipStreamIsReported) {
  Bytes bytes = idx_bytes({64, 64});
  std::string file = write_gz("corrupt.gz", bytes);
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(40);
  f.write("garbage!garbage!", 16);
  f.close();
  EXPECT_NE(error_of(file, 2), "no error");
}

}  // namespace
