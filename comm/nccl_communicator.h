#pragma once
// Communicator over NCCL for CUDA tensors: one NCCL communicator per process, bootstrapped by
// broadcasting NCCL's unique id over the control communicator, with a CUDA stream of its own.
// Compiled only when CMake finds CUDA and NCCL; comm/backends.cpp chooses it at run time when the
// model lives on a GPU.
// Contract: the calling thread has the communicator's device current. The blocking collectives
// wait for all prior work on the device, run on the private stream, and return when it has
// completed, or throw CommError after `timeout` (the NCCL communicator is aborted first, so no rank
// hangs on). allreduce_async is c10d's WorkNCCL: stream-ordered after the caller's current stream
// (streams/device_streams.h), no host synchronisation; Work::wait() makes the caller's stream wait
// for it. A monitor thread watches those in flight: one that has not completed after `timeout`
// aborts the NCCL communicator and ends the job, as the MPI watchdog does.

#include "comm/communicator.h"

#include <chrono>
#include <functional>
#include <memory>

namespace trainer::comm {

std::string nccl_library_version();  // "2.30.7": the libnccl this process loaded

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int cuda_device,
                   std::chrono::milliseconds timeout = std::chrono::minutes(10));
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.size(); }
  int local_rank() const override { return bootstrap_.local_rank(); }
  int local_size() const override { return bootstrap_.local_size(); }
  std::string backend() const override { return "nccl"; }

  void allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options = {}) override;
  void broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options = {}) override;
  void barrier() override;
  std::vector<std::int64_t> allgather(std::int64_t value) override;
  std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, const AllreduceOptions& options = {}) override;
  // ncclReduceScatter and ncclAllGather, stream-ordered like allreduce_async.
  std::unique_ptr<Work> reduce_scatter_async(torch::Tensor input, torch::Tensor output,
                                             const AllreduceOptions& options = {}) override;
  std::unique_ptr<Work> allgather_async(torch::Tensor input, torch::Tensor output) override;
  // One ncclSend and one ncclRecv a peer in a group (NCCL has no alltoall of its own).
  std::unique_ptr<Work> alltoall_async(torch::Tensor input, torch::Tensor output) override;

  // Throws CommError when NCCL has reported an asynchronous error (a peer failed).
  void check_async_error(const char* collective);

 private:
  std::unique_ptr<Work> start_on_side_stream(const char* collective, std::vector<torch::Tensor> tensors,
                                             const std::function<void()>& enqueue);
  struct State;  // NCCL and CUDA handles, the streams and the monitor, kept out of this header
  // Checks the tensors, waits for the device, launches one NCCL call per tensor in a group on the
  // private stream, and waits for completion or the timeout. `launch` returns an ncclResult_t.
  void collective(const char* name, std::vector<torch::Tensor>& tensors,
                  const std::function<int(torch::Tensor&)>& launch);
  void wait(const char* collective);

  Communicator& bootstrap_;
  int device_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<State> state_;
};

}  // namespace trainer::comm
