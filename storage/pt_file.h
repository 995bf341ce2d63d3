#pragma once
// Files written by Python's torch.save: a plain state dict (an OrderedDict), a DataParallel or
// DDP state dict, or a tutorial-style checkpoint dict {"model_state_dict", "optimizer_state_dict",
// "epoch", ...}. Read without running code from the file (see pickle_reader.h); tensors land on
// the CPU whatever device saved them.

#include "storage/pickle_reader.h"
#include "storage/tensor_file.h"
#include "storage/zip_reader.h"

#include <optional>
#include <ostream>
#include <string>

namespace trainer::storage {

class PtFile {
 public:
  explicit PtFile(const std::string& path);  // throws StorageError
  const std::string& path() const { return path_; }
  PyPtr root() const { return pickle_.root; }
  // The view's shape after checking that it lies within its storage (no allocation yet).
  std::vector<std::int64_t> checked_shape(const TensorRef& ref, const std::string& name) const;
  // Reads the storage from the archive (only its bytes, never the whole file) and returns the view.
  torch::Tensor tensor(const TensorRef& ref, const std::string& name) const;

 private:
  std::string path_;
  ZipReader zip_;
  std::string prefix_;  // "<archive>/"
  Pickle pickle_;
};

struct PtStateDict {
  StoredTensors tensors;       // keys as stored (not yet normalized), read on demand
  std::string location;        // "" for a plain state dict, else the checkpoint-dict key used
  std::optional<std::int64_t> epoch;
};

// The model weights inside a .pt file. Throws StorageError when there are none.
PtStateDict read_pt_state_dict(const std::string& path);

// True for a file that starts like a zip archive (what torch.save writes since PyTorch 1.6).
bool looks_like_pt_file(const std::string& path);

// `trainer inspect FILE.pt`: the structure, every tensor's dtype, shape and bytes.
void inspect_pt(const std::string& path, std::ostream& out);

}  // namespace trainer::storage
