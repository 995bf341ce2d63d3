#include "comm/nccl_communicator.h"

#include "common/error.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <thread>

namespace trainer::comm {

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
};

namespace {

std::string nccl_version() {
  int code = 0;
  ncclGetVersion(&code);
  return std::to_string(code / 10000) + "." + std::to_string((code / 100) % 100) + "." +
         std::to_string(code % 100);
}

ncclDataType_t nccl_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kFloat16: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt64: return ncclInt64;
    case torch::kInt32: return ncclInt32;
    case torch::kUInt8: return ncclUint8;
    default: throw CommError(std::string("backend nccl does not support dtype ") + c10::toString(type));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAverage: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kMin: return ncclMin;
  }
  return ncclSum;
}

}  // namespace

#define TRAINER_CUDA_CHECK(call, where)                                                   \
  do {                                                                                    \
    cudaError_t status_ = (call);                                                         \
    if (status_ != cudaSuccess)                                                           \
      throw CommError(std::string(#call) + " failed on " + (where) + " (" __FILE__ ":" +  \
                      std::to_string(__LINE__) + "): " + cudaGetErrorString(status_));    \
  } while (0)

#define TRAINER_NCCL_CHECK(call, comm, where)                                                     \
  do {                                                                                            \
    ncclResult_t status_ = (call);                                                                \
    if (status_ != ncclSuccess)                                                                   \
      throw CommError(std::string(#call) + " failed on " + (where) + " (NCCL " + nccl_version() + \
                      ", " __FILE__ ":" + std::to_string(__LINE__) + "): " +                     \
                      ncclGetErrorString(status_) + "; " + ncclGetLastError(comm));               \
  } while (0)

NcclCommunicator::NcclCommunicator(Communicator& bootstrap, int cuda_device,
                                   std::chrono::milliseconds timeout)
    : bootstrap_(bootstrap), device_(cuda_device), timeout_(timeout), state_(std::make_unique<State>()) {
  TRAINER_CUDA_CHECK(cudaSetDevice(device_), where());
  ncclUniqueId id{};
  if (bootstrap_.rank() == 0) TRAINER_NCCL_CHECK(ncclGetUniqueId(&id), nullptr, where());
  torch::Tensor id_bytes = torch::from_blob(&id, {static_cast<std::int64_t>(sizeof id)}, torch::kUInt8);
  std::vector<torch::Tensor> payload{id_bytes};
  bootstrap_.broadcast(payload, {/*root=*/0});
  TRAINER_CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking), where());
  TRAINER_NCCL_CHECK(ncclCommInitRank(&state_->comm, size(), id, rank()), nullptr, where());
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->comm != nullptr) ncclCommDestroy(state_->comm);
  if (state_->stream != nullptr) cudaStreamDestroy(state_->stream);
}

void NcclCommunicator::wait(const char* collective) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    cudaError_t status = cudaStreamQuery(state_->stream);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady)
      throw CommError(std::string(collective) + " failed on " + where() + ": " + cudaGetErrorString(status));
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(state_->comm, &async);
    if (async != ncclSuccess) {
      ncclCommAbort(state_->comm);
      state_->comm = nullptr;
      throw CommError(std::string(collective) + " failed on " + where() + " (NCCL " +
                      nccl_version() + "): " + ncclGetErrorString(async));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ncclCommAbort(state_->comm);
      state_->comm = nullptr;
      throw CommError(std::string(collective) + " timed out after " +
                      std::to_string(timeout_.count() / 1000) + " s on " + where() +
                      ": another rank is dead or stuck");
    }
    std::this_thread::yield();
  }
}

void NcclCommunicator::collective(const char* name, std::vector<torch::Tensor>& tensors,
                                  const std::function<int(torch::Tensor&)>& launch) {
  for (const auto& t : tensors)
    if (!t.is_cuda() || !t.is_contiguous())
      throw CommError(std::string("backend nccl needs contiguous CUDA tensors in ") + name + ", got " +
                      t.device().str());
  // The tensors were produced on other streams: wait for the device before reading them.
  TRAINER_CUDA_CHECK(cudaDeviceSynchronize(), where());
  TRAINER_NCCL_CHECK(ncclGroupStart(), state_->comm, where());
  for (auto& t : tensors)
    TRAINER_NCCL_CHECK(static_cast<ncclResult_t>(launch(t)), state_->comm, where() + " in " + name);
  TRAINER_NCCL_CHECK(ncclGroupEnd(), state_->comm, where());
  wait(name);
}

void NcclCommunicator::allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options) {
  collective("ncclAllReduce", tensors, [&](torch::Tensor& t) {
    return ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<std::size_t>(t.numel()),
                         nccl_type(t.scalar_type()), nccl_op(options.op), state_->comm, state_->stream);
  });
}

void NcclCommunicator::broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options) {
  collective("ncclBroadcast", tensors, [&](torch::Tensor& t) {
    return ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<std::size_t>(t.numel()),
                         nccl_type(t.scalar_type()), options.root, state_->comm, state_->stream);
  });
}

void NcclCommunicator::barrier() { bootstrap_.barrier(); }

std::vector<std::int64_t> NcclCommunicator::allgather(std::int64_t value) {
  return bootstrap_.allgather(value);
}

}  // namespace trainer::comm
