#pragma once
// A reader for the uncompressed ("stored") zip archives that torch.save writes, zip64 included.
// Torch-free and defensive: every offset and size is checked against the archive before use, so a
// truncated or hostile file gives a StorageError, never a crash.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trainer::storage {

class ZipReader {
 public:
  // `bytes` is the whole file; `name` is used in error messages.
  ZipReader(std::vector<std::uint8_t> bytes, std::string name);
  static ZipReader open(const std::string& path);

  bool has(const std::string& entry) const { return entries_.count(entry) > 0; }
  // The entry's bytes (a view into the archive: valid while the reader lives).
  std::pair<const std::uint8_t*, std::size_t> entry(const std::string& entry) const;
  std::vector<std::string> names() const;
  const std::string& name() const { return name_; }

 private:
  struct Entry {
    std::uint64_t offset = 0;  // of the data
    std::uint64_t size = 0;
  };
  std::vector<std::uint8_t> bytes_;
  std::string name_;
  std::map<std::string, Entry> entries_;
};

}  // namespace trainer::storage
