#include "launcher/gpu_probe.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

namespace trainer::launcher {
namespace {

// The few NVML declarations we need; the library comes with the driver, its header often not.
struct NvmlMemory {
  unsigned long long total, free, used;
};
using NvmlDevice = void*;
using NvmlInit = int (*)();
using NvmlShutdown = int (*)();
using NvmlByPciBusId = int (*)(const char*, NvmlDevice*);
using NvmlMemoryInfo = int (*)(NvmlDevice, NvmlMemory*);

void fill_free_memory(std::vector<GpuInfo>& gpus) {
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (nvml == nullptr) return;
  auto init = reinterpret_cast<NvmlInit>(dlsym(nvml, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<NvmlShutdown>(dlsym(nvml, "nvmlShutdown"));
  auto by_bus_id = reinterpret_cast<NvmlByPciBusId>(dlsym(nvml, "nvmlDeviceGetHandleByPciBusId_v2"));
  auto memory_info = reinterpret_cast<NvmlMemoryInfo>(dlsym(nvml, "nvmlDeviceGetMemoryInfo"));
  if (init && shutdown && by_bus_id && memory_info && init() == 0) {
    for (auto& gpu : gpus) {
      // NVML numbers GPUs physically; the PCI bus id maps them to CUDA's visible indices.
      char bus_id[64] = {};
      NvmlDevice device = nullptr;
      NvmlMemory memory{};
      if (cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, gpu.index) == cudaSuccess &&
          by_bus_id(bus_id, &device) == 0 && memory_info(device, &memory) == 0)
        gpu.free_bytes = memory.free;
    }
    shutdown();
  }
  dlclose(nvml);
}

}  // namespace

std::vector<GpuInfo> probe_gpus(bool want_free_memory) {
  std::vector<GpuInfo> gpus;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver, or too old: no GPU
    return gpus;
  }
  for (int i = 0; i < count; ++i) gpus.push_back(GpuInfo{i, 0});
  if (want_free_memory) fill_free_memory(gpus);
  return gpus;
}

CudaReport probe_cuda() {
  CudaReport report;
  report.built_with = CUDART_VERSION;
  if (cudaRuntimeGetVersion(&report.runtime) != cudaSuccess) report.runtime = 0;
  if (cudaDriverGetVersion(&report.driver) != cudaSuccess) report.driver = 0;
  for (const GpuInfo& gpu : probe_gpus(/*want_free_memory=*/true)) {
    cudaDeviceProp properties{};
    CudaReport::Gpu entry{gpu.index, "?", 0, gpu.free_bytes};
    if (cudaGetDeviceProperties(&properties, gpu.index) == cudaSuccess) {
      entry.name = properties.name;
      entry.total_bytes = properties.totalGlobalMem;
    }
    report.gpus.push_back(entry);
  }
  cudaGetLastError();
  return report;
}

}  // namespace trainer::launcher
