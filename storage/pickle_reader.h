#pragma once
// A restricted unpickler for what torch.save writes for state dicts and checkpoint dicts: dicts
// (OrderedDict too), lists, tuples, None, booleans, integers, floats, strings, and tensors rebuilt
// from storages. Like torch.load(weights_only=True) it never runs code from the file: any other
// global is refused with a clear error. Torch-free: tensors come back as references to their
// storage entries in the zip archive (see pt_file.h for the conversion).

#include "common/error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trainer::storage {

struct PyValue;
// Values point at each other without owning: a Pickle owns them all, so that a hostile file's
// reference cycles cannot leak. Consumers bound their recursion depth for the same reason.
using PyPtr = const PyValue*;

struct StorageRef {
  std::string key;       // archive entry <prefix>data/<key>
  std::string type;      // "FloatStorage", "LongStorage", ...
  std::string location;  // "cpu", "cuda:0", ... (ignored on load: map_location is ours to choose)
  std::int64_t numel = 0;
};

struct TensorRef {
  StorageRef storage;
  std::int64_t offset = 0;
  std::vector<std::int64_t> size;
  std::vector<std::int64_t> stride;
};

struct PyValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
  Kind kind = Kind::kNone;
  bool boolean = false;
  std::int64_t integer = 0;
  double number = 0;
  std::string text;                          // kString; kGlobal: "module.name"
  std::vector<PyPtr> items;                  // kTuple, kList
  std::vector<std::pair<PyPtr, PyPtr>> dict;  // kDict, in insertion order
  StorageRef storage;                        // kStorage
  TensorRef tensor;                          // kTensor

  const char* kind_name() const;
};

struct Pickle {
  std::vector<std::unique_ptr<PyValue>> values;  // every value, owned here
  PyPtr root = nullptr;
  std::size_t consumed = 0;  // bytes up to and with STOP (what may follow is not this pickle's)
};

// The data ended before STOP: with more of the file, the pickle may yet be whole.
class PickleTruncated : public StorageError {
 public:
  using StorageError::StorageError;
};

// Unpickles `data` (protocol 2 to 5 opcodes that state dicts use). `name` is for error messages.
// Throws StorageError on anything malformed, truncated or outside the allowed subset.
// `any_object`: a TorchScript archive's data.pkl, read only for its storages and tensor views
// (objects of any class become empty dicts, other calls None; nothing is ever run).
Pickle unpickle(const std::uint8_t* data, std::size_t size, const std::string& name, bool any_object = false);

// The value of a dict under a string key, or null (also when `dict` is not a dict).
PyPtr dict_get(PyPtr dict, const std::string& key);

// Element size of a storage type ("FloatStorage" -> 4); 0 for an unknown one.
std::size_t storage_element_size(const std::string& type);

}  // namespace trainer::storage
