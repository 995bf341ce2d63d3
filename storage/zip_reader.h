#pragma once
// A reader for the uncompressed ("stored") zip archives that torch.save writes, zip64 included.
// Torch-free and defensive: every offset and size is checked against the archive before use, so a
// truncated or hostile file gives a StorageError, never a crash. A file is read on demand (pread),
// never whole: only the directory and the entries asked for are read.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace trainer::storage {

class ZipReader {
 public:
  // An archive in memory; `name` is used in error messages.
  ZipReader(std::vector<std::uint8_t> bytes, std::string name);
  // An archive in a regular file (refused otherwise: a FIFO would block).
  static ZipReader open(const std::string& path);

  bool has(const std::string& entry) const { return entries_.count(entry) > 0; }
  std::uint64_t size(const std::string& entry) const;
  // The whole entry; throws StorageError when it is larger than `max_bytes`.
  std::vector<std::uint8_t> read(const std::string& entry, std::uint64_t max_bytes) const;
  // `bytes` bytes of the entry from `offset` into `out` (checked against the entry's size).
  void read(const std::string& entry, std::uint64_t offset, std::uint64_t bytes, void* out) const;
  std::vector<std::string> names() const;
  const std::string& name() const { return name_; }
  // What the directory declares of an entry, compressed ones included (never read here).
  struct Declared {
    std::uint64_t stored_bytes = 0;  // in the archive
    std::uint64_t bytes = 0;         // once uncompressed
    int method = 0;                  // 0: stored; 8: deflated
  };
  Declared declared(const std::string& entry) const;

  // Where the archive's bytes come from.
  class Source {
   public:
    virtual ~Source() = default;
    virtual std::uint64_t size() const = 0;
    virtual void read(std::uint64_t offset, std::uint64_t bytes, void* out) const = 0;  // within size()
  };

 private:
  ZipReader(std::shared_ptr<const Source> source, std::string name);
  struct Entry {
    std::uint64_t offset = 0;  // of the data
    std::uint64_t size = 0;
    int method = 0;            // 0: stored; anything else is listed, never read
    std::uint64_t declared = 0;  // uncompressed size, as the directory says
  };
  const Entry& listed(const std::string& entry) const;  // any entry
  const Entry& find(const std::string& entry) const;    // a stored one, the only kind read

  std::shared_ptr<const Source> source_;
  std::string name_;
  std::map<std::string, Entry> entries_;
};

// The folder holding a torch archive's data.pkl (torch.save's and torch.jit.save's layout:
// "archive/", or the file's stem): "" when there is none; StorageError when there are several.
std::string torch_archive_prefix(const ZipReader& zip);

}  // namespace trainer::storage
