#include "data/idx.h"

#include "common/error.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>

#include <memory>
#include <sstream>

namespace trainer::data {
namespace {

constexpr int kUnsignedByteType = 0x08;
constexpr std::int64_t kMaxElements = std::int64_t{1} << 34;  // a sanity bound, 16 GiB

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};

// Reads exactly `size` bytes; returns how many were read before end of file.
std::size_t read_fully(gzFile file, void* buffer, std::size_t size, const std::string& path) {
  auto* out = static_cast<unsigned char*>(buffer);
  std::size_t total = 0;
  while (total < size) {
    unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(size - total, 1u << 30));
    int n = gzread(file, out + total, chunk);
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      throw DataError(path + ": cannot read (" + (message ? message : "zlib error") +
                      "); the file is corrupt");
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
  }
  return total;
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_rank) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode))
    throw DataError(path + ": not a regular file (a FIFO, device or directory)");
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) throw DataError(path + ": cannot open (missing or unreadable)");

  unsigned char magic[4];
  if (read_fully(file.get(), magic, 4, path) != 4)
    throw DataError(path + ": too short to be an IDX file");
  if (magic[0] != 0 || magic[1] != 0)
    throw DataError(path + ": not an IDX file (bad magic number)");
  if (magic[2] != kUnsignedByteType)
    throw DataError(path + ": IDX element type 0x" + std::to_string(magic[2]) +
                    " is not unsigned byte");
  if (magic[3] != expected_rank)
    throw DataError(path + ": IDX file has " + std::to_string(magic[3]) + " dimensions, expected " +
                    std::to_string(expected_rank));

  IdxArray array;
  std::int64_t elements = 1;
  for (int i = 0; i < expected_rank; ++i) {
    unsigned char be[4];
    if (read_fully(file.get(), be, 4, path) != 4) throw DataError(path + ": truncated IDX header");
    std::int64_t dim = (std::int64_t{be[0]} << 24) | (be[1] << 16) | (be[2] << 8) | be[3];
    if (dim <= 0) throw DataError(path + ": IDX dimension " + std::to_string(i) + " is zero");
    if (dim > kMaxElements / elements) throw DataError(path + ": IDX header announces an absurd size");
    elements *= dim;
    array.dims.push_back(dim);
  }

  // In blocks, the buffer growing with the data actually there: a truncated file that announces
  // gigabytes costs what it holds, not what it announces.
  constexpr std::size_t kBlock = std::size_t{16} << 20;
  std::size_t got = 0;
  while (got < static_cast<std::size_t>(elements)) {
    const std::size_t want = std::min(kBlock, static_cast<std::size_t>(elements) - got);
    array.data.resize(got + want);
    const std::size_t read = read_fully(file.get(), array.data.data() + got, want, path);
    got += read;
    if (read < want) break;
  }
  array.data.resize(got);
  if (got != static_cast<std::size_t>(elements)) {
    std::ostringstream message;
    message << path << ": truncated: header announces " << elements << " bytes of data, file has "
            << got;
    throw DataError(message.str());
  }
  unsigned char extra;
  if (read_fully(file.get(), &extra, 1, path) != 0)
    throw DataError(path + ": has data past the end its IDX header announces");
  return array;
}

}  // namespace trainer::data
