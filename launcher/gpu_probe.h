#pragma once
// What the machine says about the visible GPUs. Built from gpu_probe_cuda.cpp when CUDA is found,
// else from gpu_probe_none.cpp. A CUDA runtime that reports an error (no driver, "driver version
// is insufficient") means "no GPU", never a failed start.

#include "launcher/device_selection.h"

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::launcher {

// The visible GPUs (CUDA_VISIBLE_DEVICES applies). With want_free_memory, their free memory from
// NVML, loaded at run time so that machines without a driver still start; no CUDA context is
// created on any GPU either way. free_bytes stays 0 where NVML is not available.
std::vector<GpuInfo> probe_gpus(bool want_free_memory);

// What `trainer info` shows of CUDA: versions as major*1000 + minor*10 (CUDA's encoding), 0 when
// unknown (no CUDA in this build, no driver), and each visible GPU.
struct CudaReport {
  int built_with = 0;  // the toolkit this build was compiled against
  int runtime = 0;
  int driver = 0;      // the newest CUDA the installed driver supports
  struct Gpu {
    int index = 0;
    std::string name;
    std::uint64_t total_bytes = 0, free_bytes = 0;  // free_bytes from NVML; 0 when unknown
  };
  std::vector<Gpu> gpus;
};
CudaReport probe_cuda();

}  // namespace trainer::launcher
