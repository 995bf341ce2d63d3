#include "comm/nccl_communicator.h"

#include "comm/backoff.h"
#include "comm/mpi_environment.h"
#include "common/error.h"
#include "streams/cuda_streams.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

namespace trainer::comm {

std::string nccl_library_version() {
  int code = 0;
  ncclGetVersion(&code);
  return std::to_string(code / 10000) + "." + std::to_string((code / 100) % 100) + "." + std::to_string(code % 100);
}

struct NcclCommunicator::State {
  struct InFlight {
    std::weak_ptr<streams::SideStreamJob> job;
    std::chrono::steady_clock::time_point launched;
  };

  std::atomic<ncclComm_t> comm{nullptr};
  std::unique_ptr<streams::CudaStreams> streams;  // the side stream is NCCL's
  // The monitor of overlapped collectives (started with the first one).
  std::mutex mutex;
  std::condition_variable wake;
  std::vector<InFlight> in_flight;
  bool stopping = false;
  std::thread monitor;

  void watch(const std::shared_ptr<streams::SideStreamJob>& job) {
    std::lock_guard<std::mutex> lock(mutex);
    in_flight.push_back({job, std::chrono::steady_clock::now()});
  }

  // Every 100 ms: forget what has completed; an allreduce older than `timeout` ends the job (the
  // host may be blocked anywhere, in LibTorch's synchronisation included: only an abort frees it).
  void run_monitor(std::chrono::milliseconds timeout, const std::string& where) {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::milliseconds(100));
      const auto now = std::chrono::steady_clock::now();
      for (auto it = in_flight.begin(); it != in_flight.end();) {
        const auto job = it->job.lock();
        if (!job || job->completed()) {
          it = in_flight.erase(it);
          continue;
        }
        if (now - it->launched > timeout) {
          std::cerr << "trainer: error: " << where << ": an overlapped ncclAllReduce has waited "
                    << std::chrono::duration_cast<std::chrono::seconds>(now - it->launched).count()
                    << " s for the other ranks (--comm-timeout): another rank is dead or stuck; ending the job"
                    << std::endl;
          if (ncclComm_t c = comm.exchange(nullptr)) ncclCommAbort(c);
          MpiEnvironment::abort_job(1);
        }
        ++it;
      }
    }
  }
};

namespace {


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
      throw CommError(std::string(#call) + " failed on " + (where) + " (NCCL " + nccl_library_version() + \
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
  state_->streams = std::make_unique<streams::CudaStreams>(device_);
  ncclComm_t comm = nullptr;
  TRAINER_NCCL_CHECK(ncclCommInitRank(&comm, size(), id, rank()), nullptr, where());
  state_->comm = comm;
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->monitor.joinable()) {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stopping = true;
    }
    state_->wake.notify_all();
    state_->monitor.join();
  }
  if (ncclComm_t comm = state_->comm.exchange(nullptr)) ncclCommDestroy(comm);
}

void NcclCommunicator::check_async_error(const char* collective) {
  ncclComm_t comm = state_->comm;
  if (comm == nullptr) throw CommError(std::string(collective) + " on " + where() + ": the NCCL communicator was aborted");
  ncclResult_t async = ncclSuccess;
  ncclCommGetAsyncError(comm, &async);
  if (async == ncclSuccess || async == ncclInProgress) return;
  if (ncclComm_t c = state_->comm.exchange(nullptr)) ncclCommAbort(c);
  throw CommError(std::string(collective) + " failed on " + where() + " (NCCL " + nccl_library_version() +
                  "): " + ncclGetErrorString(async));
}

void NcclCommunicator::wait(const char* collective) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  Backoff backoff;  // a spinning host thread would take a core from the loader's workers
  for (;;) {
    cudaError_t status = cudaStreamQuery(state_->streams->side_handle());
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady)
      throw CommError(std::string(collective) + " failed on " + where() + ": " + cudaGetErrorString(status));
    check_async_error(collective);
    if (std::chrono::steady_clock::now() > deadline) {
      if (ncclComm_t c = state_->comm.exchange(nullptr)) ncclCommAbort(c);
      throw CommError(std::string(collective) + " timed out after " +
                      std::to_string(timeout_.count() / 1000) + " s on " + where() +
                      ": another rank is dead or stuck");
    }
    backoff.pause();
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
                         nccl_type(t.scalar_type()), nccl_op(options.op), state_->comm, state_->streams->side_handle());
  });
}

void NcclCommunicator::broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options) {
  collective("ncclBroadcast", tensors, [&](torch::Tensor& t) {
    return ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<std::size_t>(t.numel()),
                         nccl_type(t.scalar_type()), options.root, state_->comm, state_->streams->side_handle());
  });
}

namespace {

// c10d's WorkNCCL: done when the side stream's event is; wait() orders the caller's stream after it.
class NcclWork : public Work {
 public:
  NcclWork(NcclCommunicator& comm, std::shared_ptr<streams::SideStreamJob> job) : comm_(comm), job_(std::move(job)) {}
  bool test() override {
    comm_.check_async_error("ncclAllReduce");
    return job_->completed();
  }
  void wait() override {
    comm_.check_async_error("ncclAllReduce");
    job_->make_compute_wait();
  }

 private:
  NcclCommunicator& comm_;
  std::shared_ptr<streams::SideStreamJob> job_;
};

}  // namespace

std::unique_ptr<Work> NcclCommunicator::allreduce_async(torch::Tensor tensor, const AllreduceOptions& options) {
  if (!tensor.is_cuda() || !tensor.is_contiguous())
    throw CommError("backend nccl needs a contiguous CUDA tensor in ncclAllReduce, got " + tensor.device().str());
  return start_on_side_stream("ncclAllReduce", {tensor}, [&] {
    TRAINER_NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<std::size_t>(tensor.numel()),
                                     nccl_type(tensor.scalar_type()), nccl_op(options.op), state_->comm,
                                     state_->streams->side_handle()),
                       state_->comm, where() + " in ncclAllReduce");
  });
}

std::unique_ptr<Work> NcclCommunicator::reduce_scatter_async(torch::Tensor input, torch::Tensor output,
                                                             const AllreduceOptions& options) {
  check_chunks(input, output, "ncclReduceScatter");
  if (!input.is_cuda()) throw CommError("backend nccl needs CUDA tensors in ncclReduceScatter, got " + input.device().str());
  return start_on_side_stream("ncclReduceScatter", {input, output}, [&] {
    TRAINER_NCCL_CHECK(ncclReduceScatter(input.data_ptr(), output.data_ptr(), static_cast<std::size_t>(output.numel()),
                                         nccl_type(input.scalar_type()), nccl_op(options.op), state_->comm,
                                         state_->streams->side_handle()),
                       state_->comm, where() + " in ncclReduceScatter");
  });
}

std::unique_ptr<Work> NcclCommunicator::allgather_async(torch::Tensor input, torch::Tensor output) {
  check_chunks(output, input, "ncclAllGather");
  if (!input.is_cuda()) throw CommError("backend nccl needs CUDA tensors in ncclAllGather, got " + input.device().str());
  return start_on_side_stream("ncclAllGather", {input, output}, [&] {
    TRAINER_NCCL_CHECK(ncclAllGather(input.data_ptr(), output.data_ptr(), static_cast<std::size_t>(input.numel()),
                                     nccl_type(input.scalar_type()), state_->comm, state_->streams->side_handle()),
                       state_->comm, where() + " in ncclAllGather");
  });
}

std::unique_ptr<Work> NcclCommunicator::alltoall_async(torch::Tensor input, torch::Tensor output) {
  check_alltoall(input, output);
  if (!input.is_cuda()) throw CommError("backend nccl needs CUDA tensors in alltoall, got " + input.device().str());
  return start_on_side_stream("alltoall", {input, output}, [&] {
    const std::size_t chunk = static_cast<std::size_t>(input.numel() / size());
    const std::size_t bytes = chunk * input.element_size();
    auto* in = static_cast<char*>(input.data_ptr());
    auto* out = static_cast<char*>(output.data_ptr());
    const ncclDataType_t type = nccl_type(input.scalar_type());
    TRAINER_NCCL_CHECK(ncclGroupStart(), state_->comm, where() + " in alltoall");
    for (int peer = 0; peer < size(); ++peer) {
      TRAINER_NCCL_CHECK(ncclSend(in + peer * bytes, chunk, type, peer, state_->comm, state_->streams->side_handle()),
                         state_->comm, where() + " in alltoall's ncclSend");
      TRAINER_NCCL_CHECK(ncclRecv(out + peer * bytes, chunk, type, peer, state_->comm, state_->streams->side_handle()),
                         state_->comm, where() + " in alltoall's ncclRecv");
    }
    TRAINER_NCCL_CHECK(ncclGroupEnd(), state_->comm, where() + " in alltoall");
  });
}

// A collective on the side stream, after the caller's current stream, watched for the timeout.
std::unique_ptr<Work> NcclCommunicator::start_on_side_stream(const char* collective, std::vector<torch::Tensor> tensors,
                                                             const std::function<void()>& enqueue) {
  check_async_error(collective);
  auto job = std::make_shared<streams::SideStreamJob>(*state_->streams, std::move(tensors), enqueue);
  state_->watch(job);
  if (!state_->monitor.joinable())
    state_->monitor = std::thread([state = state_.get(), timeout = timeout_, where = where()] {
      state->run_monitor(timeout, where);
    });
  return std::make_unique<NcclWork>(*this, std::move(job));
}

void NcclCommunicator::barrier() { bootstrap_.barrier(); }

std::vector<std::int64_t> NcclCommunicator::allgather(std::int64_t value) {
  return bootstrap_.allgather(value);
}

}  // namespace trainer::comm
