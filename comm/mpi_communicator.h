#pragma once
// Communicator over MPI for CPU tensors, on a private duplicate of MPI_COMM_WORLD so that no other
// library's messages can interleave with ours. Only the thread that created it may call it
// (MPI_THREAD_FUNNELED). With a communication timeout set, a collective that waits longer than it
// (a peer is dead or stuck) prints which one and ends the job (see collective_watchdog.h).

#include "comm/collective_watchdog.h"
#include "comm/communicator.h"
#include "comm/heartbeat.h"

#include <chrono>
#include <memory>

#include <mpi.h>

namespace trainer::comm {

class MpiCommunicator : public Communicator {
 public:
  // Duplicates `parent`; finds the local rank from `local_rank_hint` when it is >= 0 (the
  // launcher's environment), else from an MPI shared-memory split.
  explicit MpiCommunicator(MPI_Comm parent = MPI_COMM_WORLD, int local_rank_hint = -1);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options = {}) override;
  // MPI_Iallreduce. Open MPI progresses non-blocking collectives inside MPI calls: callers call
  // test() now and then (the gradient bucketer does, from its autograd hooks).
  std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, const AllreduceOptions& options = {}) override;
  // reduce_scatter: an MPI_Ialltoall and the owner's sum in rank order (faster here than MPI's
  // own reduce-scatter, blocking or not; the blocking form waits for this one, so --overlap on and
  // off give the same bits); allgather: MPI_Iallgather. Awaited like allreduce_async.
  std::unique_ptr<Work> reduce_scatter_async(torch::Tensor input, torch::Tensor output,
                                             const AllreduceOptions& options = {}) override;
  std::unique_ptr<Work> allgather_async(torch::Tensor input, torch::Tensor output) override;
  std::unique_ptr<Work> alltoall_async(torch::Tensor input, torch::Tensor output) override;  // MPI_Ialltoall
  void allgather(torch::Tensor input, torch::Tensor output) override;
  void broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options = {}) override;
  void broadcast_from_each(std::vector<std::vector<torch::Tensor>>& tensors) override;
  void barrier() override;
  std::vector<std::int64_t> allgather(std::int64_t value) override;

  MPI_Comm handle() const { return comm_; }

  // Collective. Collectives that wait longer than `timeout` abort the job with a message naming
  // the collective, this rank, and on rank 0 the ranks it has stopped hearing from (comm/heartbeat.h);
  // 0 turns the watchdog off (the default).
  void set_timeout(std::chrono::milliseconds timeout);

  // For this backend's Work objects: turns an MPI status into CommError; watches a wait.
  void check(int status, const std::string& what) const;
  CollectiveWatchdog::Scope watch(const char* collective, std::int64_t bytes) const;
  // Completes `request` polling with backoff (comm/backoff.h) instead of spinning in MPI_Wait.
  void await(MPI_Request& request, const char* collective, std::int64_t bytes) const;
  // Returns once every rank has called it (MPI_Ibarrier, awaited): before a large transfer, so
  // that the wait for a late rank sleeps and only the transfer itself runs at MPI's full speed.
  // A timeout names the collective it precedes (`before`, `bytes`), which is what users know.
  void await_peers(const char* before, std::int64_t bytes) const;
  // await_peers at the first wait for an allreduce_async since the last one was started: once a
  // step, and the same calls on every rank whichever of their transfers happen to have completed.
  void await_peers_once(std::int64_t bytes) const;

 private:
  void check_tensor(const torch::Tensor& tensor, const char* collective) const;
  MPI_Datatype byte_blocks(const std::vector<torch::Tensor>& tensors, std::int64_t& bytes) const;
  void check_reducible(const torch::Tensor& tensor, ReduceOp op) const;  // check_tensor, and kAverage needs floats
  void start_heartbeat(std::chrono::milliseconds timeout);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  mutable bool peers_met_ = true;  // since the last allreduce_async (await_peers_once)
  // Without a timeout it watches nothing (and runs no thread); set_timeout replaces it.
  std::unique_ptr<Heartbeat> heartbeat_;  // declared before the watchdog, whose handler reads it
  std::unique_ptr<CollectiveWatchdog> watchdog_ =
      std::make_unique<CollectiveWatchdog>(std::chrono::milliseconds(0), nullptr);
};

}  // namespace trainer::comm
