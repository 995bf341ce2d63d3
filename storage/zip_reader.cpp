#include "storage/zip_reader.h"

#include "common/error.h"
#include "storage/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace trainer::storage {
namespace {

constexpr std::uint32_t kEndOfDirectory = 0x06054b50;
constexpr std::uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint32_t kDirectoryEntry = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;

class MemorySource : public ZipReader::Source {
 public:
  explicit MemorySource(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void read(std::uint64_t offset, std::uint64_t bytes, void* out) const override {
    std::memcpy(out, bytes_.data() + offset, static_cast<std::size_t>(bytes));
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

class FileSource : public ZipReader::Source {
 public:
  FileSource(int fd, std::uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileSource() override { ::close(fd_); }
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, std::uint64_t bytes, void* out) const override {
    auto* to = static_cast<char*>(out);
    while (bytes > 0) {
      const ssize_t got = ::pread(fd_, to, static_cast<std::size_t>(std::min<std::uint64_t>(bytes, 1u << 30)),
                                  static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw StorageError(path_ + ": cannot read (" + (got < 0 ? std::strerror(errno) : "shorter than before") + ")");
      to += got;
      offset += static_cast<std::uint64_t>(got);
      bytes -= static_cast<std::uint64_t>(got);
    }
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string path_;
};

// Little-endian fields at a position, every read checked against the archive's size.
class Cursor {
 public:
  Cursor(const ZipReader::Source& source, std::uint64_t at, const std::string& name)
      : source_(source), at_(at), name_(name) {}
  std::uint64_t u(int width) {
    unsigned char bytes[8] = {};
    take(bytes, static_cast<std::uint64_t>(width), "truncated structure at byte " + std::to_string(at_));
    std::uint64_t value = 0;
    for (int i = 0; i < width; ++i) value |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
    return value;
  }
  std::string text(std::uint64_t length) {
    if (length > 65535) throw StorageError(name_ + ": not a valid zip archive (a name too long)");
    std::string s(static_cast<std::size_t>(length), '\0');
    take(s.data(), length, "name runs past the end");
    return s;
  }
  void skip(std::uint64_t n) { at_ += n; }
  void seek(std::uint64_t at) { at_ = at; }
  std::uint64_t at() const { return at_; }

 private:
  void take(void* out, std::uint64_t n, const std::string& what) {
    if (at_ > source_.size() || source_.size() - at_ < n) throw StorageError(name_ + ": not a valid zip archive (" + what + ")");
    source_.read(at_, n, out);
    at_ += n;
  }
  const ZipReader::Source& source_;
  std::uint64_t at_;
  const std::string& name_;
};

}  // namespace

ZipReader ZipReader::open(const std::string& path) {
  fs::require_regular_file(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw StorageError(path + ": cannot open: " + std::string(std::strerror(errno)));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw StorageError(path + ": not a regular file");
  }
  return ZipReader(std::make_shared<FileSource>(fd, static_cast<std::uint64_t>(info.st_size), path), path);
}

ZipReader::ZipReader(std::vector<std::uint8_t> bytes, std::string name)
    : ZipReader(std::make_shared<MemorySource>(std::move(bytes)), std::move(name)) {}

ZipReader::ZipReader(std::shared_ptr<const Source> source, std::string name)
    : source_(std::move(source)), name_(std::move(name)) {
  const Source& bytes = *source_;
  const std::uint64_t file_size = bytes.size();
  if (file_size < 22) throw StorageError(name_ + ": too short to be a zip archive");
  // The end-of-directory record sits in the last 22 + 65535 (comment) bytes: read them once.
  const std::uint64_t tail_start = file_size > 22 + 65535 ? file_size - 22 - 65535 : 0;
  std::vector<std::uint8_t> tail(static_cast<std::size_t>(file_size - tail_start));
  bytes.read(tail_start, tail.size(), tail.data());
  std::uint64_t end = file_size - 22;
  for (;; --end) {
    const std::uint8_t* p = tail.data() + (end - tail_start);
    if ((p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24) == kEndOfDirectory) break;
    if (end == tail_start) throw StorageError(name_ + ": not a zip archive (no end-of-directory record)");
  }
  Cursor eocd(bytes, end + 10, name_);
  std::uint64_t count = eocd.u(2);
  eocd.u(4);  // directory size
  std::uint64_t directory = eocd.u(4);
  if ((count == 0xFFFF || directory == 0xFFFFFFFF) && end >= 20) {
    Cursor locator(bytes, end - 20, name_);
    if (locator.u(4) != kZip64Locator) throw StorageError(name_ + ": zip64 locator missing");
    locator.u(4);
    Cursor eocd64(bytes, locator.u(8), name_);
    if (eocd64.u(4) != kZip64EndOfDirectory) throw StorageError(name_ + ": zip64 end-of-directory missing");
    eocd64.skip(8 + 2 + 2 + 4 + 4 + 8);
    count = eocd64.u(8);
    eocd64.u(8);
    directory = eocd64.u(8);
  }
  if (count > file_size / 46) throw StorageError(name_ + ": zip directory announces too many entries");

  Cursor c(bytes, directory, name_);
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
    if (method == 0 && compressed != size) throw StorageError(name_ + ": entry " + entry_name + " has inconsistent sizes");
    Cursor header(bytes, local, name_);
    if (header.u(4) != kLocalHeader) throw StorageError(name_ + ": entry " + entry_name + " has no local header");
    header.skip(22);
    const std::uint64_t local_name = header.u(2), local_extra = header.u(2);
    const std::uint64_t data = header.at() + local_name + local_extra;
    if (data > file_size || file_size - data < compressed)
      throw StorageError(name_ + ": entry " + entry_name + " runs past the end of the file (truncated?)");
    entries_[entry_name] = Entry{data, method == 0 ? size : compressed, static_cast<int>(method), size};
  }
}

const ZipReader::Entry& ZipReader::listed(const std::string& entry) const {
  const auto it = entries_.find(entry);
  if (it == entries_.end()) throw StorageError(name_ + ": has no entry " + entry);
  return it->second;
}

const ZipReader::Entry& ZipReader::find(const std::string& entry) const {
  const Entry& e = listed(entry);
  if (e.method != 0)
    throw StorageError(name_ + ": entry " + entry + " is compressed (method " + std::to_string(e.method) +
                       "); torch.save writes stored entries only");
  return e;
}

std::uint64_t ZipReader::size(const std::string& entry) const { return find(entry).size; }

ZipReader::Declared ZipReader::declared(const std::string& entry) const {
  const Entry& e = listed(entry);
  return {e.size, e.declared, e.method};
}

std::vector<std::uint8_t> ZipReader::read(const std::string& entry, std::uint64_t max_bytes) const {
  const Entry& e = find(entry);
  if (e.size > max_bytes)
    throw StorageError(name_ + ": entry " + entry + " holds " + std::to_string(e.size) + " bytes, more than the " +
                       std::to_string(max_bytes) + " it may");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(e.size));
  source_->read(e.offset, e.size, bytes.data());
  return bytes;
}

void ZipReader::read(const std::string& entry, std::uint64_t offset, std::uint64_t bytes, void* out) const {
  const Entry& e = find(entry);
  if (offset > e.size || e.size - offset < bytes)
    throw StorageError(name_ + ": entry " + entry + " is shorter than the " + std::to_string(offset + bytes) +
                       " bytes asked for");
  source_->read(e.offset + offset, bytes, out);
}

std::vector<std::string> ZipReader::names() const {
  std::vector<std::string> names;
  for (const auto& entry : entries_) names.push_back(entry.first);
  return names;
}

std::string torch_archive_prefix(const ZipReader& zip) {
  std::string prefix;
  for (const auto& name : zip.names()) {
    const auto slash = name.find('/');
    if (slash == std::string::npos || name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    if (!prefix.empty()) throw StorageError(zip.name() + ": more than one data.pkl in the archive");
    prefix = name.substr(0, slash + 1);
  }
  return prefix;
}

}  // namespace trainer::storage
