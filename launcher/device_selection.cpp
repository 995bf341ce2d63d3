#include "launcher/device_selection.h"

#include "common/error.h"

#include <algorithm>

namespace trainer::launcher {
namespace {

std::optional<int> parse_non_negative(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  std::string s(text);
  if (s.find_first_not_of("0123456789") != std::string::npos || s.size() > 6) return std::nullopt;
  return std::stoi(s);
}

}  // namespace

std::optional<int> local_rank_from_environment(const std::function<const char*(const char*)>& getenv) {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
    if (auto value = parse_non_negative(getenv(name))) return value;
  return std::nullopt;
}

std::vector<int> order_gpus(std::vector<GpuInfo> gpus, GpuOrder order) {
  if (order == GpuOrder::kFreeMemory)
    std::stable_sort(gpus.begin(), gpus.end(), [](const GpuInfo& a, const GpuInfo& b) {
      return a.free_bytes != b.free_bytes ? a.free_bytes > b.free_bytes : a.index < b.index;
    });
  else
    std::sort(gpus.begin(), gpus.end(), [](const GpuInfo& a, const GpuInfo& b) { return a.index < b.index; });
  std::vector<int> indices;
  for (const auto& gpu : gpus) indices.push_back(gpu.index);
  return indices;
}

DeviceChoice choose_device(const std::string& requested, int local_rank, int local_size,
                           const std::vector<int>& gpus_in_order) {
  const int count = static_cast<int>(gpus_in_order.size());
  if (requested == "cpu") return {"cpu"};
  if (requested.rfind("cuda:", 0) == 0) {
    const std::string digits = requested.substr(5);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4)
      throw ConfigError("--device " + requested + ": expected cuda:N with N a GPU index");
    const int index = std::stoi(digits);
    if (index >= count)
      throw ConfigError("--device " + requested + ": " +
                        (count == 0 ? std::string("no GPU is visible to LibTorch")
                                    : "only " + std::to_string(count) + " GPU(s) visible"));
    if (local_size > 1)
      throw ConfigError("--device " + requested + " puts all " + std::to_string(local_size) +
                        " ranks of this host on one GPU, and NCCL refuses two ranks on one GPU; use --device cuda "
                        "(one GPU per rank) and CUDA_VISIBLE_DEVICES to choose the GPUs");
    return {requested};
  }
  if (requested != "auto" && requested != "cuda")
    throw ConfigError("--device " + requested + ": expected auto, cpu, cuda or cuda:N");
  if (count == 0) {
    if (requested == "cuda") throw ConfigError("--device cuda: no GPU is visible to LibTorch");
    return {"cpu"};
  }
  if (local_size > count)
    throw ConfigError(std::to_string(local_size) + " ranks on this host but " + std::to_string(count) +
                      " GPU(s) visible, and NCCL refuses two ranks on one GPU: start one rank per GPU (mpirun -np " +
                      std::to_string(count) + ", or --ntasks-per-node=" + std::to_string(count) +
                      " under Slurm), or train on CPUs with --device cpu");
  return {"cuda:" + std::to_string(gpus_in_order[static_cast<std::size_t>(local_rank)])};
}

GpuOrder parse_gpu_order(const std::string& text) {
  if (text == "index") return GpuOrder::kIndex;
  if (text == "free-memory") return GpuOrder::kFreeMemory;
  throw ConfigError("--gpu-order " + text + ": expected index or free-memory");
}

}  // namespace trainer::launcher
