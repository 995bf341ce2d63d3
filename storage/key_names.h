#pragma once
// State-dict key normalization shared by every loading path. Parallel wrappers prefix every key:
// DataParallel and DistributedDataParallel with "module.", torch.compile with "_orig_mod.". As in
// PyTorch's consume_prefix_in_state_dict_if_present, a prefix is stripped only when every key
// carries it, so a model that merely has a submodule called "module" keeps its names.

#include <string>
#include <vector>

namespace trainer::storage {

struct Renaming {
  std::vector<std::string> names;  // the keys, normalized, in the same order
  std::string stripped;            // what was removed from every key ("module." etc.), or ""
};

Renaming normalize_wrapper_prefixes(const std::vector<std::string>& keys);

}  // namespace trainer::storage
