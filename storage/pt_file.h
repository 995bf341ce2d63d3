#pragma once
// Files written by Python's torch.save: a plain state dict (an OrderedDict), a DataParallel or
// DDP state dict, or a tutorial-style checkpoint dict {"model_state_dict", "optimizer_state_dict",
// "epoch", ...}; in the zip format of PyTorch 1.6 and later (every record PyTorch 2.x writes is
// understood or ignored), and in the legacy format (_use_new_zipfile_serialization=False). Read
// without running code from the file (see pickle_reader.h) and never whole: the pickle first, a
// tensor's bytes only when it is asked for. Tensors land on the CPU whatever device saved them.

#include "storage/pickle_reader.h"
#include "storage/tensor_file.h"
#include "storage/zip_reader.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace trainer::storage {

class PtFile {
 public:
  // Throws StorageError naming the file, and saying what it is when it is not a torch.save file.
  explicit PtFile(const std::string& path);
  ~PtFile();
  const std::string& path() const { return path_; }
  const char* format() const;  // "zip" or "legacy"
  PyPtr root() const { return pickle_.root; }
  // The view's shape after checking that it lies within its storage (no allocation yet).
  std::vector<std::int64_t> checked_shape(const TensorRef& ref, const std::string& name) const;
  // Reads the storage (only its bytes, never the whole file) and returns the view.
  torch::Tensor tensor(const TensorRef& ref, const std::string& name) const;

  class Storages;  // where the storages' bytes are: zip records, or the legacy format's tail

 private:
  std::string path_;
  std::unique_ptr<Storages> storages_;
  Pickle pickle_;
};

// What a file is, from its first bytes, for messages refusing it: "a zip archive", "an HDF5 file",
// "a TorchScript archive (torch.jit.save)", ...
std::string describe_file(const std::string& path);
// Whether `path` is a zip archive with the records torch.jit.save writes (constants.pkl, code/).
bool is_torchscript_archive(const std::string& path);


struct PtStateDict {
  StoredTensors tensors;       // keys as stored (not yet normalized), read on demand
  std::string location;        // "" for a plain state dict, else the checkpoint-dict key used
  std::optional<std::int64_t> epoch;
  std::string epoch_kind;      // the Python type of 'epoch' when it is there but not an int ("float", "bool", ...)
};

// The model weights inside a .pt file. Throws StorageError when there are none.
PtStateDict read_pt_state_dict(const std::string& path);

// A tutorial-style checkpoint dict from Python, for --resume FILE.pt: the weights, the optimizer's
// state_dict() as saved (state by parameter index, param_groups), the epoch.
struct PtCheckpoint {
  PtStateDict weights;
  PyPtr optimizer = nullptr;  // {"state": {index: {key: tensor or number}}, "param_groups": [...]}, or null
  std::shared_ptr<const PtFile> file;  // owns every value above
};
PtCheckpoint read_pt_checkpoint(const std::string& path);

// True for a regular file that starts like what torch.save writes: a zip archive (PyTorch 1.6 and
// later) or the legacy format's magic number.
bool looks_like_pt_file(const std::string& path);

// `trainer inspect FILE.pt`: the structure, every tensor's dtype, shape and bytes.
void inspect_pt(const std::string& path, std::ostream& out);

}  // namespace trainer::storage
