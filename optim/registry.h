#pragma once
// The optimizers by name: the one place that maps --optimizer to an adapter. Adding an optimizer
// is one file pair in optim/ and one line in registry.cpp.

#include "optim/adapter.h"

#include <string>
#include <vector>

namespace trainer::optim {

// Throws ConfigError naming the known optimizers for an unknown name.
const OptimizerAdapter& optimizer_adapter(const std::string& name);
std::vector<std::string> optimizer_names();

}  // namespace trainer::optim
