// Built instead of nccl_communicator.cpp when CMake found no CUDA or NCCL.
#include "comm/nccl_communicator.h"

#include "common/error.h"

namespace trainer::comm {

struct NcclCommunicator::State {};

NcclCommunicator::NcclCommunicator(MpiCommunicator& bootstrap, int cuda_device,
                                   std::chrono::milliseconds timeout)
    : bootstrap_(bootstrap), device_(cuda_device), timeout_(timeout) {
  throw CommError("this build of trainer has no NCCL support (CUDA or NCCL was not found at build time)");
}
NcclCommunicator::~NcclCommunicator() = default;
void NcclCommunicator::collective(const char*, std::vector<torch::Tensor>&, const std::function<int(torch::Tensor&)>&) {}
void NcclCommunicator::wait(const char*) {}
void NcclCommunicator::allreduce(std::vector<torch::Tensor>&, const AllreduceOptions&) {}
void NcclCommunicator::broadcast(std::vector<torch::Tensor>&, const BroadcastOptions&) {}
void NcclCommunicator::barrier() {}
std::vector<std::int64_t> NcclCommunicator::allgather(std::int64_t) { return {}; }

bool nccl_available() { return false; }

}  // namespace trainer::comm
