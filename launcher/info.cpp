#include "launcher/info.h"

#include "comm/backends.h"
#include "launcher/cli.h"
#include "launcher/gpu_probe.h"
#include "storage/tensor_file.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace trainer::launcher {
namespace {

std::string cuda_version(int code) {  // 13000 -> "13.0"
  return code <= 0 ? "none" : std::to_string(code / 1000) + "." + std::to_string(code % 1000 / 10);
}

std::string gib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

void print_info(std::ostream& out) {
  const CudaReport cuda = probe_cuda();
  const bool cuda_build = cuda.built_with > 0;
  const bool torch_cuda = torch::cuda::is_available();
  out << version_text() << "\n";
  out << "LibTorch:      " << TORCH_VERSION << " (C++" << __cplusplus / 100 % 100 << "), "
      << (cuda_build ? "with CUDA" : "CPU only") << "\n";
  out << "CUDA:          "
      << (cuda_build
              ? "built with " + cuda_version(cuda.built_with) + ", runtime " + cuda_version(cuda.runtime) +
                    ", driver supports " + cuda_version(cuda.driver) + (cuda.driver > 0 ? "" : " (no NVIDIA driver)")
              : std::string("not in this build"))
      << "\n";
  const bool cudnn = torch_cuda && at::globalContext().hasCuDNN();
  out << "cuDNN:         "
      << (cudnn ? std::to_string(at::detail::getCUDAHooks().versionCuDNN()) : std::string("not available")) << "\n";
  const std::string nccl = comm::nccl_version_text();
  out << "NCCL:          " << (nccl.empty() ? std::string("not in this build") : nccl) << "\n";
  out << "MPI:           " << comm::mpi_library_version() << "\n";
  out << "HDF5:          " << storage::hdf5_version() << "\n";
  out << "communicators: " << joined(comm::available_backends()) << "\n";
  out << "devices:       cpu" << (cuda_build ? ", cuda, cuda:N" : "") << "\n";
  out << "precisions:    fp32, bf16" << (cuda_build ? ", fp16 (CUDA, with a loss scaler)" : "") << "\n";
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  out << "GPUs visible:  " << cuda.gpus.size() << " (CUDA_VISIBLE_DEVICES "
      << (visible ? std::string("=") + visible : "unset") << ")"
      << (cuda_build || cuda.gpus.empty() ? "" : "; this build cannot use them") << "\n";
  for (const auto& gpu : cuda.gpus)
    out << "  cuda:" << gpu.index << "  " << gpu.name << "  " << gib(gpu.total_bytes) << " total"
        << (gpu.free_bytes > 0 ? ", " + gib(gpu.free_bytes) + " free" : "") << "\n";
  out << std::flush;
}

}  // namespace trainer::launcher
