#include "storage/key_names.h"

namespace trainer::storage {

Renaming normalize_wrapper_prefixes(const std::vector<std::string>& keys) {
  Renaming result{keys, ""};
  if (keys.empty()) return result;
  for (bool stripped_one = true; stripped_one;) {  // wrappers nest: module._orig_mod.x
    stripped_one = false;
    for (const std::string prefix : {"module.", "_orig_mod."}) {
      bool all = true;
      for (const auto& name : result.names) all = all && name.size() > prefix.size() && name.rfind(prefix, 0) == 0;
      if (!all) continue;
      for (auto& name : result.names) name.erase(0, prefix.size());
      result.stripped += prefix;
      stripped_one = true;
    }
  }
  return result;
}

}  // namespace trainer::storage
