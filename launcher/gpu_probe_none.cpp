#include "launcher/gpu_probe.h"

namespace trainer::launcher {

std::vector<GpuInfo> probe_gpus(bool) { return {}; }

CudaReport probe_cuda() { return {}; }

}  // namespace trainer::launcher
