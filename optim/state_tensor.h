#pragma once
// Checks shared by the adapters when they rebuild LibTorch state from checkpoint tensors.

#include "common/attributes.h"

#include <torch/types.h>

#include <map>
#include <string>

namespace trainer::optim {

// The tensor stored under `key`, checked to have the parameter's shape and a floating dtype, moved
// to the parameter's device and dtype. Throws CheckpointError naming `where` and `key`.
torch::Tensor like_parameter(const std::map<std::string, torch::Tensor>& tensors, const std::string& key,
                             const torch::Tensor& parameter, const std::string& where);

// A scalar integer (Adam's step count). Throws CheckpointError naming `where` and `key`.
std::int64_t step_count(const std::map<std::string, torch::Tensor>& tensors, const std::string& key,
                        const std::string& where);

// The number held by a record's attribute (absent: `fallback`).
double number(const Attributes& record, const std::string& key, double fallback);

}  // namespace trainer::optim
