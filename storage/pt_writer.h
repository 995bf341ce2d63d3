#pragma once
// Files Python's torch.load reads, written as torch.save writes them: the zip container LibTorch
// itself uses (caffe2::serialize::PyTorchStreamWriter: records 64-byte aligned, the format
// version), a pickle of protocol 2 in data.pkl, one record per tensor storage under data/, and
// byteorder. The pickle holds only what torch.load(weights_only=True) accepts: None, booleans,
// integers, floats, strings, tuples, lists, dicts, collections.OrderedDict, and tensors rebuilt by
// torch._utils._rebuild_tensor_v2 from torch.<Type>Storage records. Written atomically.

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trainer::storage {

// A value to write. Dicts keep their order (state dicts are in module registration order).
class PtValue {
 public:
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kOrderedDict, kTensor };

  static PtValue none() { return PtValue(Kind::kNone); }
  static PtValue boolean(bool value);
  static PtValue integer(std::int64_t value);
  static PtValue real(double value);
  static PtValue text(std::string value);
  static PtValue tuple(std::vector<PtValue> items);
  static PtValue list(std::vector<PtValue> items);
  static PtValue dict(std::vector<std::pair<PtValue, PtValue>> items);
  static PtValue ordered_dict(std::vector<std::pair<PtValue, PtValue>> items);
  static PtValue tensor(torch::Tensor value);  // any device and layout: written as a contiguous CPU copy

  Kind kind() const { return kind_; }

 private:
  friend class PickleWriter;
  explicit PtValue(Kind kind) : kind_(kind) {}
  Kind kind_;
  bool boolean_ = false;
  std::int64_t integer_ = 0;
  double real_ = 0;
  std::string text_;
  std::vector<PtValue> items_;
  std::vector<std::pair<PtValue, PtValue>> entries_;
  torch::Tensor tensor_;
};

// Returns the bytes written. Throws StorageError naming the file when it cannot be written.
std::uint64_t write_pt_file(const std::string& path, const PtValue& root);

}  // namespace trainer::storage
