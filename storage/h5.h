#pragma once
// A thin RAII layer over the HDF5 C API. Every handle closes itself; every call's status is checked
// in one place (check()), and failures throw StorageError with the file and object name and the
// HDF5 error stack folded into one line. No torch here: callers get plain vectors.
// Private to storage/: no header outside this folder includes it, and HDF5 is linked privately.

#include "common/attributes.h"

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace trainer::storage {

// Owns one hid_t and the function that closes it.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();

  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Throws StorageError("<what>: <HDF5 error stack>") when status is negative.
hid_t check(hid_t status, const std::string& what);

enum class ElementKind { kInteger, kFloat, kOther };

struct DatasetInfo {
  std::vector<std::int64_t> shape;  // empty for a scalar dataset
  ElementKind kind = ElementKind::kOther;
  std::size_t element_size = 0;  // bytes
  bool is_signed = false;

  std::int64_t element_count() const;
};

// A dataset to write: `data` holds the shape's elements of HDF5 native type `type`.
struct RawDataset {
  std::string path;
  std::vector<std::int64_t> shape;
  hid_t type;
  const void* data;
};

class File {
 public:
  // HDF5's own file locking is turned off for our files: it fails on many NFS and Lustre mounts,
  // and the checkpoint commit protocol (write aside, rename) does not rely on it. Setting
  // HDF5_USE_FILE_LOCKING in the environment still overrides this, as HDF5 documents.
  static File open_read(const std::string& path);
  static File create(const std::string& path);  // truncates an existing file

  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.id(); }

  bool has(const std::string& name) const;
  DatasetInfo describe(const std::string& dataset) const;
  // Bytes the dataset occupies in the file (after compression), as HDF5 counts them.
  std::uint64_t storage_size(const std::string& dataset) const;
  // Whether the dataset's chunks carry HDF5's Fletcher-32 checksum.
  bool checksummed(const std::string& dataset) const;

  // Reads a whole dataset converted to T (uint8_t, int64_t, float or double); HDF5 converts from
  // the stored type. Throws StorageError when the dataset is missing or the conversion impossible.
  template <typename T>
  std::vector<T> read(const std::string& dataset) const;

  // Writes a contiguous dataset of the given shape (empty shape: a scalar), creating parent groups.
  template <typename T>
  void write(const std::string& dataset, const std::vector<std::int64_t>& shape,
             const std::vector<T>& values);

  // Writes `data` (elements of HDF5 native type `type`, shape multiplied together of them),
  // creating parent groups. With `checksummed`, the dataset is chunked with the Fletcher-32 filter
  // so that a flipped byte fails the read (scalars and empty tensors cannot be chunked: stored
  // contiguous).
  void write_raw(const std::string& dataset, const std::vector<std::int64_t>& shape, hid_t type,
                 const void* data, bool checksummed = false);
  // write_raw(..., checksummed) of every dataset, with one chunk in flight: while a chunk is
  // written, a helper thread copies the next one (of this or a later dataset) and checksums it.
  void write_checksummed(const std::vector<RawDataset>& datasets);
  // Reads the whole dataset into `out`, converted to the native type `type`. `capacity`: the bytes
  // writable at `out`, when more than the dataset's (4 more let checksummed chunks be read raw
  // straight into `out`, their checksum landing behind them).
  void read_raw(const std::string& dataset, hid_t type, void* out, std::size_t capacity = 0) const;
  // Rows (indices along the first dimension, each in range) one after the other into `out`, in the
  // order given; consecutive ascending rows are read as one selection.
  void read_rows(const std::string& dataset, hid_t type, const std::vector<std::int64_t>& rows, void* out) const;

  void create_group(const std::string& group);  // with missing parents; fine if it exists
  // Names of the links directly below `group`, sorted.
  std::vector<std::string> list(const std::string& group) const;

  // A soft link into another file: `link` here resolves to `object` in `file` (relative paths
  // resolve against this file's directory).
  void link_external(const std::string& link, const std::string& file, const std::string& object);
  // The file an external link points to; empty when `link` is not an external link.
  std::string external_file(const std::string& link) const;
  // The file and object an external link points to; both empty when `link` is not one.
  std::pair<std::string, std::string> external_target(const std::string& link) const;

  // Attributes of a group or dataset ("/" for the root).
  void set_attribute(const std::string& object, const std::string& name, const AttributeValue& value);
  bool has_attribute(const std::string& object, const std::string& name) const;
  AttributeValue attribute(const std::string& object, const std::string& name) const;
  // Every attribute of a group or dataset that has a type trainer reads.
  Attributes attributes(const std::string& object) const;
  std::int64_t int_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;
  std::vector<std::string> strings_attribute(const std::string& object, const std::string& name) const;

  // Flushes and closes, reporting failure (the destructor closes silently).
  void close();

 private:
  // Creates the dataset; `chunk_rows` > 0 when it is chunked with a checksum.
  Handle create_dataset(const std::string& dataset, const std::vector<std::int64_t>& shape, hid_t type,
                        bool checksummed, hsize_t& chunk_rows);
  bool read_checksummed_chunks(hid_t set, hid_t type, void* out, std::size_t capacity) const;
  File(Handle handle, std::string path) : handle_(std::move(handle)), path_(std::move(path)) {}
  std::string where(const std::string& object) const;

  Handle handle_;
  std::string path_;
};

}  // namespace trainer::storage
