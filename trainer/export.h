#pragma once
// `trainer export`: one of our checkpoints as a file Python's torch.load reads: a state dict with
// canonical names (optionally prefixed, e.g. "module."), or with --with-optimizer the tutorial
// checkpoint dict {"model_state_dict", "optimizer_state_dict", "epoch"} that
// model.load_state_dict and optimizer.load_state_dict accept.

#include <cstdint>
#include <string>

namespace trainer {

struct ExportReport {
  std::size_t tensors = 0;
  std::uint64_t bytes = 0;  // of the written file
};

// `model`: the network the checkpoint was trained with when the recorded one cannot be used as
// is (a TorchScript file that moved); empty: the recorded one.
ExportReport export_to_pt(const std::string& checkpoint, const std::string& model, const std::string& to,
                          const std::string& add_prefix, bool with_optimizer);

}  // namespace trainer
