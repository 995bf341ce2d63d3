#pragma once
// Named scalar metadata: what a checkpoint stores as HDF5 attributes, what an optimizer or an LR
// schedule says about its settings. Torch- and HDF5-free, so that every folder can speak it.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace trainer {

using AttributeValue = std::variant<std::int64_t, double, std::string, std::vector<std::string>>;
using Attributes = std::map<std::string, AttributeValue>;

}  // namespace trainer
