#include "storage/zip_reader.h"

#include "common/error.h"

#include <fstream>
#include <iterator>

namespace trainer::storage {
namespace {

constexpr std::uint32_t kEndOfDirectory = 0x06054b50;
constexpr std::uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint32_t kDirectoryEntry = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;

class Cursor {
 public:
  Cursor(const std::vector<std::uint8_t>& bytes, std::uint64_t at, const std::string& name)
      : bytes_(bytes), at_(at), name_(name) {}
  std::uint64_t u(int width) {
    if (at_ > bytes_.size() || bytes_.size() - at_ < static_cast<std::uint64_t>(width))
      throw StorageError(name_ + ": not a valid zip archive (truncated structure at byte " + std::to_string(at_) + ")");
    std::uint64_t value = 0;
    for (int i = 0; i < width; ++i) value |= static_cast<std::uint64_t>(bytes_[at_ + i]) << (8 * i);
    at_ += static_cast<std::uint64_t>(width);
    return value;
  }
  std::string text(std::uint64_t length) {
    if (at_ > bytes_.size() || bytes_.size() - at_ < length)
      throw StorageError(name_ + ": not a valid zip archive (name runs past the end)");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), static_cast<std::size_t>(length));
    at_ += length;
    return s;
  }
  void skip(std::uint64_t n) { at_ += n; }
  void seek(std::uint64_t at) { at_ = at; }
  std::uint64_t at() const { return at_; }

 private:
  const std::vector<std::uint8_t>& bytes_;
  std::uint64_t at_;
  const std::string& name_;
};

}  // namespace

ZipReader ZipReader::open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError(path + ": cannot open");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ZipReader(std::move(bytes), path);
}

ZipReader::ZipReader(std::vector<std::uint8_t> bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {
  if (bytes_.size() < 22) throw StorageError(name_ + ": too short to be a zip archive");
  // The end-of-directory record sits in the last 22 + 65535 (comment) bytes.
  std::uint64_t end = bytes_.size() - 22;
  const std::uint64_t lowest = bytes_.size() > 22 + 65535 ? bytes_.size() - 22 - 65535 : 0;
  for (;; --end) {
    if (Cursor(bytes_, end, name_).u(4) == kEndOfDirectory) break;
    if (end == lowest) throw StorageError(name_ + ": not a zip archive (no end-of-directory record)");
  }
  Cursor eocd(bytes_, end + 10, name_);
  std::uint64_t count = eocd.u(2);
  eocd.u(4);  // directory size
  std::uint64_t directory = eocd.u(4);
  if ((count == 0xFFFF || directory == 0xFFFFFFFF) && end >= 20) {
    Cursor locator(bytes_, end - 20, name_);
    if (locator.u(4) != kZip64Locator) throw StorageError(name_ + ": zip64 locator missing");
    locator.u(4);
    Cursor eocd64(bytes_, locator.u(8), name_);
    if (eocd64.u(4) != kZip64EndOfDirectory) throw StorageError(name_ + ": zip64 end-of-directory missing");
    eocd64.skip(8 + 2 + 2 + 4 + 4 + 8);
    count = eocd64.u(8);
    eocd64.u(8);
    directory = eocd64.u(8);
  }
  if (count > bytes_.size() / 46) throw StorageError(name_ + ": zip directory announces too many entries");

  Cursor c(bytes_, directory, name_);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (c.u(4) != kDirectoryEntry) throw StorageError(name_ + ": corrupt zip directory entry " + std::to_string(i));
    c.skip(2 + 2 + 2);
    const std::uint64_t method = c.u(2);
    c.skip(2 + 2 + 4);
    std::uint64_t compressed = c.u(4), size = c.u(4);
    const std::uint64_t name_length = c.u(2), extra_length = c.u(2), comment_length = c.u(2);
    c.skip(2 + 2 + 4);
    std::uint64_t local = c.u(4);
    const std::string entry_name = c.text(name_length);
    const std::uint64_t extra_end = c.at() + extra_length;
    while (c.at() + 4 <= extra_end) {  // zip64 extended information
      const std::uint64_t id = c.u(2), length = c.u(2), field_end = c.at() + length;
      if (id == 0x0001) {
        if (size == 0xFFFFFFFF) size = c.u(8);
        if (compressed == 0xFFFFFFFF) compressed = c.u(8);
        if (local == 0xFFFFFFFF) local = c.u(8);
      }
      c.seek(field_end);
    }
    c.seek(extra_end + comment_length);
    if (method != 0)
      throw StorageError(name_ + ": entry " + entry_name + " is compressed (method " + std::to_string(method) +
                         "); torch.save writes stored entries only");
    if (compressed != size) throw StorageError(name_ + ": entry " + entry_name + " has inconsistent sizes");
    Cursor header(bytes_, local, name_);
    if (header.u(4) != kLocalHeader) throw StorageError(name_ + ": entry " + entry_name + " has no local header");
    header.skip(22);
    const std::uint64_t local_name = header.u(2), local_extra = header.u(2);
    const std::uint64_t data = header.at() + local_name + local_extra;
    if (data > bytes_.size() || bytes_.size() - data < size)
      throw StorageError(name_ + ": entry " + entry_name + " runs past the end of the file (truncated?)");
    entries_[entry_name] = Entry{data, size};
  }
}

std::pair<const std::uint8_t*, std::size_t> ZipReader::entry(const std::string& entry) const {
  const auto it = entries_.find(entry);
  if (it == entries_.end()) throw StorageError(name_ + ": has no entry " + entry);
  return {bytes_.data() + it->second.offset, static_cast<std::size_t>(it->second.size)};
}

std::vector<std::string> ZipReader::names() const {
  std::vector<std::string> names;
  for (const auto& entry : entries_) names.push_back(entry.first);
  return names;
}

}  // namespace trainer::storage
