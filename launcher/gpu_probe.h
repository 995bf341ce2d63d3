#pragma once
// What the machine says about the visible GPUs. Built from gpu_probe_cuda.cpp when CUDA is found,
// else from gpu_probe_none.cpp. A CUDA runtime that reports an error (no driver, "driver version
// is insufficient") means "no GPU", never a failed start.

#include "launcher/device_selection.h"

#include <vector>

namespace trainer::launcher {

// The visible GPUs (CUDA_VISIBLE_DEVICES applies). With want_free_memory, their free memory from
// NVML, loaded at run time so that machines without a driver still start; no CUDA context is
// created on any GPU either way. free_bytes stays 0 where NVML is not available.
std::vector<GpuInfo> probe_gpus(bool want_free_memory);

}  // namespace trainer::launcher
