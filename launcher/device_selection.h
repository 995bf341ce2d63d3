#pragma once
// Which device each rank trains on. Pure functions over what the launcher read from the
// environment and from the GPUs, so that every rule is unit-tested without GPUs or mpirun.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace trainer::launcher {

// The rank's index on its host as the process launcher published it: Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK, then Slurm's SLURM_LOCALID; nothing when neither is set (the caller
// then asks MPI with a shared-memory split). A malformed value is ignored.
std::optional<int> local_rank_from_environment(const std::function<const char*(const char*)>& getenv);

enum class GpuOrder { kIndex, kFreeMemory };

struct GpuInfo {
  int index = 0;                 // CUDA index among the visible GPUs (CUDA_VISIBLE_DEVICES applies)
  std::uint64_t free_bytes = 0;  // 0 when unknown
};

// The visible GPUs in the order local ranks take them: by index, or by free memory (most first,
// ties by index), as people pick GPUs by hand from nvidia-smi.
std::vector<int> order_gpus(std::vector<GpuInfo> gpus, GpuOrder order);

struct DeviceChoice {
  std::string device;  // "cpu" or "cuda:N"
};

// --device auto|cpu|cuda|cuda:N for the rank with this local rank. `gpus_in_order` comes from
// order_gpus over the GPUs LibTorch can use (none with a CPU-only LibTorch). "auto" takes a GPU
// when there is one, else the CPU; "cuda" requires a GPU; "cuda:N" is taken as given. Throws
// ConfigError for a bad spelling, a GPU that is not there, or more ranks on this host than GPUs
// (NCCL refuses two ranks on one GPU; "cuda:N" with several local ranks is that too).
DeviceChoice choose_device(const std::string& requested, int local_rank, int local_size,
                           const std::vector<int>& gpus_in_order);

GpuOrder parse_gpu_order(const std::string& text);  // "index" | "free-memory"

}  // namespace trainer::launcher
