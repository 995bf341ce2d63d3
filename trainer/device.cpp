#include "trainer/device.h"

#include "common/error.h"

#include <torch/cuda.h>

namespace trainer {

torch::Device resolve_device(const std::string& spec) {
  const bool has_gpu = torch::cuda::is_available();
  if (spec == "auto") return has_gpu ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        throw ConfigError("--device " + spec + ": expected cuda:N with N a GPU index");
      index = std::stoi(digits);
    }
    if (!has_gpu) throw ConfigError("--device " + spec + ": no GPU is visible to LibTorch");
    const int count = static_cast<int>(torch::cuda::device_count());
    if (index >= count)
      throw ConfigError("--device " + spec + ": only " + std::to_string(count) + " GPU(s) visible");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ConfigError("--device " + spec + ": expected auto, cpu, cuda or cuda:N");
}

}  // namespace trainer
