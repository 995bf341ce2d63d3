#pragma once
// Turning --device into a torch::Device.

#include <torch/types.h>

#include <string>

namespace trainer {

// "auto": the first visible GPU when LibTorch sees one, else the CPU; "cpu"; "cuda"; "cuda:N".
// Throws ConfigError for an unknown spelling or a GPU that is not there.
torch::Device resolve_device(const std::string& spec);

}  // namespace trainer
